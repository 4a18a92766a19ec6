"""`sitless classify` and `sitless calibrate` from a user's point of view."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from sitless.analysis.postures import Posture
from sitless.cli import main
from sitless.commands.calibrate import load_calibration
from sitless.firmware_bridge.recordings import write_recording
from sitless.posture_csv import read_posture_csv

from .conftest import simulated, still_sensor


@pytest.fixture(autouse=True)
def _private_folders(private_data_dir):
    """Every test here runs the commands with private data and config folders (tests/conftest.py)."""


@pytest.fixture
def recording(tmp_path):
    day = simulated(hours=0.5, rate_hz=25.0, mounting="side", seed=2)
    path = tmp_path / "day.csv"
    write_recording(path, day.samples)
    return path, day


def test_classify_writes_one_row_per_second_with_iso_utc_timestamps(recording, tmp_path):
    path, day = recording
    out = tmp_path / "postures.csv"
    assert main(["classify", str(path), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,posture"
    first = int(np.floor(day.samples.t[0]))
    assert lines[1].startswith(np.datetime_as_string(np.datetime64(first, "s"), unit="s") + "Z,")
    series = read_posture_csv(out)
    assert series.start == first and series.end == int(np.floor(day.samples.t[-1])) + 1
    assert len(lines) == len(series) + 1
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_classify_of_an_npz_gives_the_same_postures_as_the_csv(recording, tmp_path):
    path, day = recording
    npz = tmp_path / "day.npz"
    write_recording(npz, day.samples)
    main(["classify", str(path), "--out", str(tmp_path / "a.csv")])
    main(["classify", str(npz), "--out", str(tmp_path / "b.csv")])
    a, b = read_posture_csv(tmp_path / "a.csv"), read_posture_csv(tmp_path / "b.csv")
    np.testing.assert_array_equal(a.codes, b.codes)


def test_summary_prints_minutes_per_posture(recording, tmp_path, capsys):
    path, _ = recording
    out = tmp_path / "postures.csv"
    assert main(["classify", str(path), "--out", str(out), "--summary"]) == 0
    text = capsys.readouterr().out
    minutes = read_posture_csv(out).minutes_per_posture()
    for posture in Posture:
        assert f"{posture.label:<9} {minutes[posture.label]:8.1f} min" in text


def test_summary_as_json(recording, tmp_path, capsys):
    path, _ = recording
    assert main(["classify", str(path), "--out", str(tmp_path / "p.csv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert abs(sum(summary["minutes"].values()) * 60 - summary["seconds"]) < 1


def test_the_command_line_ends_at_once_with_everything_written_and_printed(recording, tmp_path):
    """As a program, `sitless classify` ends without the interpreter's teardown (cli.exit_at_once):
    the postures file is complete and the summary reaches a pipe, as in process."""
    import subprocess
    import sys

    path, _ = recording
    ours, theirs = tmp_path / "program.csv", tmp_path / "in-process.csv"
    finished = subprocess.run(
        [sys.executable, "-m", "sitless", "classify", str(path), "--out", str(ours), "--json"],
        capture_output=True,
        text=True,
        # Buffered standard streams, as a user's are (this machine sets PYTHONUNBUFFERED).
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["seconds"] > 0
    assert main(["classify", str(path), "--out", str(theirs)]) == 0  # in process: returns as before
    assert ours.read_bytes() == theirs.read_bytes()


def test_a_bad_input_line_gives_an_error_naming_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,x,y,z\n1800000000.00,0,0,1\n1800000000.04,0,zero,1\n")
    assert main(["classify", str(bad), "--out", str(tmp_path / "p.csv")]) == 2
    error = capsys.readouterr().err
    assert "bad.csv line 3" in error
    assert len(error.strip().splitlines()) == 1


def test_a_missing_input_is_a_one_line_error(tmp_path, capsys):
    assert main(["classify", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_calibrate_from_a_standing_recording_saves_a_private_reference(tmp_path, capsys):
    standing = tmp_path / "standing.csv"
    sway = still_sensor(6, 25.0, (0.0, -0.2, -0.98), start=1_800_000_000.0)
    write_recording(standing, sway)
    assert main(["calibrate", "--from", str(standing), "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    path = tmp_path / "data" / "sitless" / "calibration.json"
    assert saved["path"] == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    calibration = load_calibration()
    assert calibration is not None and calibration.up[2] < -0.95


def test_calibrate_simulated_pocket_then_show_and_reset(capsys):
    assert main(["calibrate", "--simulate", "--mounting", "upside_down"]) == 0
    assert load_calibration().up[0] < -0.9
    assert main(["calibrate", "--show"]) == 0
    assert "upright reference" in capsys.readouterr().out
    assert main(["calibrate", "--reset"]) == 0
    assert load_calibration() is None


def test_calibrating_while_walking_is_refused_with_a_reason(tmp_path, capsys):
    walking = still_sensor(6, 25.0, (1.0, 0.0, 0.1), start=1_800_000_000.0)
    swing = 0.4 * np.sin(2 * np.pi * 0.9 * walking.t)  # the thigh swinging at stride frequency
    walking.xyz[:, 2] += swing.astype(np.float32)
    path = tmp_path / "walk.npz"
    write_recording(path, walking)
    assert main(["calibrate", "--from", str(path)]) == 2
    assert "moved" in capsys.readouterr().err
    assert load_calibration() is None


def test_calibrating_from_a_whole_recording_is_refused_because_its_end_may_be_sitting(recording, capsys):
    """Half an hour of a day ends wherever it ends (often sitting still): only a clip made for the
    purpose says "standing", so a long file must not become the upright reference."""
    path, _day = recording
    assert main(["calibrate", "--from", str(path)]) == 2
    assert "short recording" in capsys.readouterr().err
    assert load_calibration() is None


def test_a_broken_calibration_file_is_named_by_classify(recording, tmp_path, capsys):
    path, _ = recording
    target = tmp_path / "data" / "sitless" / "calibration.json"
    target.parent.mkdir(parents=True)
    target.write_text("{not json")
    assert main(["classify", str(path), "--out", str(tmp_path / "p.csv")]) == 2
    assert "calibration.json" in capsys.readouterr().err
    assert main(["classify", str(path), "--out", str(tmp_path / "p.csv"), "--no-calibration"]) == 0


def test_sensor_phone_reads_a_phone_standing_in_a_pocket_as_standing_before_any_walk(tmp_path):
    """A phone's long side (y) runs along the thigh; a thigh sensor's x does. The same still phone, long
    side vertical, is standing with --sensor phone and (wrongly, as the thigh default must guess) sitting
    without it: the option is what tells them apart, not the data."""
    from sitless.analysis.samples import SampleChunk

    rng = np.random.default_rng(3)
    n = 20 * 120
    gravity = np.array([0.2, -0.97, 0.1]) / np.linalg.norm([0.2, -0.97, 0.1])
    xyz = (gravity + rng.normal(0.0, 0.012, (n, 3))).astype(np.float32)
    path = tmp_path / "phone.csv"
    write_recording(path, SampleChunk(1_700_000_000.0 + np.arange(n) / 20.0, xyz))
    as_phone, as_thigh = tmp_path / "phone-postures.csv", tmp_path / "thigh-postures.csv"
    assert main(["classify", str(path), "--out", str(as_phone), "--sensor", "phone"]) == 0
    assert main(["classify", str(path), "--out", str(as_thigh)]) == 0
    phone_codes, thigh_codes = read_posture_csv(as_phone).codes, read_posture_csv(as_thigh).codes
    assert (phone_codes[2:-2] == Posture.STANDING).all()
    assert (thigh_codes[2:-2] == Posture.SITTING).all()


def test_an_unknown_sensor_kind_is_refused_with_the_choices(recording, tmp_path, capsys):
    path, _ = recording
    with pytest.raises(SystemExit):
        main(["classify", str(path), "--out", str(tmp_path / "p.csv"), "--sensor", "wrist"])
    assert "thigh" in capsys.readouterr().err
