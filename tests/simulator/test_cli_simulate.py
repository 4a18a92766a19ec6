"""`sitless simulate` writes a recording and its truth, prints a summary, and refuses bad options clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sitless.cli import main
from sitless.firmware_bridge.recordings import read_recording
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.posture_csv import read_posture_csv


def test_simulate_writes_recording_and_truth_and_summarises(tmp_path, capsys) -> None:
    out, truth = tmp_path / "day.csv", tmp_path / "truth.csv"
    code = main(
        [
            "simulate",
            "--hours",
            "0.5",
            "--rate",
            "25",
            "--seed",
            "4",
            "--out",
            str(out),
            "--truth",
            str(truth),
        ]
    )
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert "45,000 samples" in line and "sitting" in line
    samples = read_recording(out)
    expected = simulate(SimulationConfig(hours=0.5, rate_hz=25, seed=4))
    assert np.allclose(samples.xyz, expected.samples.xyz, atol=1e-5, rtol=0)
    series = read_posture_csv(truth)
    assert series.start == expected.truth.start and np.array_equal(series.codes, expected.truth.codes)


def test_simulate_json_summary_for_scripts(tmp_path, capsys) -> None:
    out = tmp_path / "lossy.npz"
    args = ["simulate", "--hours", "0.5", "--rate", "12.5", "--out", str(out), "--json"]
    args += ["--packet-loss", "0.1", "--mounting", "pocket", "--start", "2026-11-16T09:00:00+01:00"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["start"] == 1794816000
    assert summary["samples"] == len(read_recording(out))
    assert 0.05 < summary["samples_lost"] / 22500 < 0.15
    assert sum(summary["minutes"].values()) == pytest.approx(30.0)


@pytest.mark.parametrize(
    "extra,fragment",
    [
        (["--rate", "200"], "rate_hz must be between 12.5 and 100"),
        (["--start", "2026-11-16T08:00:00"], "no time zone"),
        (["--packet-loss", "1.5"], "packet_loss"),
    ],
)
def test_bad_options_fail_with_one_clear_line(tmp_path, capsys, extra: list[str], fragment: str) -> None:
    assert main(["simulate", "--hours", "0.1", "--out", str(tmp_path / "x.csv"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sitless simulate:") and fragment in err and "\n" not in err
    assert not (tmp_path / "x.csv").exists()


def test_unknown_output_suffix_is_refused(tmp_path, capsys) -> None:
    assert main(["simulate", "--hours", "0.1", "--out", str(tmp_path / "x.txt")]) == 2
    assert ".csv or .npz" in capsys.readouterr().err


def test_iso_option_writes_utc_timestamps_that_read_back(tmp_path, capsys) -> None:
    out = tmp_path / "iso.csv"
    assert main(["simulate", "--hours", "0.05", "--rate", "12.5", "--out", str(out), "--iso", "--quiet"]) == 0
    first_row = out.read_text().splitlines()[1]
    assert first_row.startswith("2026-11-16T08:00:00.") and first_row.split(",")[0].endswith("Z")
    assert len(read_recording(out)) == 2250
