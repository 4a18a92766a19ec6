"""Outputs never destroy what the user has: inputs, symlinks, devices; and they are private (0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sitless.cli import main
from sitless.firmware_bridge.private_files import OutputError, private_output
from sitless.firmware_bridge.recordings import write_recording
from sitless.firmware_bridge.simulate import SimulationConfig, simulate


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "day.csv"
    write_recording(path, simulate(SimulationConfig(hours=0.05, rate_hz=12.5, seed=3)).samples)
    return path


def test_classify_refuses_to_write_its_postures_over_the_recording(recording: Path, capsys) -> None:
    before = recording.read_bytes()
    assert main(["classify", str(recording), "--out", str(recording.parent / "." / recording.name)]) == 2
    assert "same file as INPUT" in capsys.readouterr().err
    assert recording.read_bytes() == before


def test_simulate_refuses_the_same_file_for_samples_and_truth(tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.csv"
    assert main(["simulate", "--hours", "0.01", "--out", str(out), "--truth", str(out)]) == 2
    assert "same file as --out" in capsys.readouterr().err and not out.exists()


def test_a_symlinked_output_keeps_the_link_and_writes_its_target(tmp_path: Path) -> None:
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    link.symlink_to(target.name)
    with private_output(link) as handle:
        handle.write(b"data\n")
    assert link.is_symlink() and target.read_bytes() == b"data\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_fifo_output_is_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with private_output(fifo) as handle:
            handle.write(b"postures\n")
        assert os.read(reader, 100) == b"postures\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_an_interrupted_write_leaves_no_half_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), private_output(path) as handle:
        handle.write(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_directory_as_output_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="it is a directory") as caught, private_output(tmp_path):
        pass
    assert caught.value.filename == str(tmp_path)
