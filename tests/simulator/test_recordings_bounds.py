"""Hostile and odd recording files: overlong lines, dense timestamps, wrong units (issues 9 and 13).

Each test states what a user sees: a short error naming the file and line (or sample), bounded memory,
or a conversion said in a log line.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import sitless.firmware_bridge.recordings_csv as recordings_csv
from sitless.analysis.classify import classify
from sitless.analysis.samples import SampleChunk
from sitless.cli import main
from sitless.firmware_bridge.recordings import (
    RecordingError,
    iter_recording,
    read_recording,
    write_recording,
)
from sitless.firmware_bridge.recordings_checks import MAX_SAMPLES_PER_SECOND
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.firmware_bridge.units import STANDARD_GRAVITY, recognise_unit

MONDAY_8 = 1794816000.0  # 2026-11-16T08:00:00Z
HEADER = b"timestamp,x,y,z\n"


@pytest.fixture(scope="module")
def desk_hour() -> SampleChunk:
    """A simulated half hour at 25 Hz: walking, sitting, standing (the workday schedule)."""
    return simulate(SimulationConfig(hours=0.5, rate_hz=25.0, seed=3)).samples


def good_rows(count: int, start: float = MONDAY_8) -> bytes:
    return "".join(f"{start + i / 50:.2f},0.1,0.0,0.99\n" for i in range(count)).encode()


# ---- line length (issue 13 item 10) -------------------------------------------------------------------
def test_a_2_gb_file_of_zeros_is_refused_on_line_1_without_reading_it(tmp_path) -> None:
    path = tmp_path / "s.csv"
    with open(path, "wb") as handle:
        handle.truncate(2 << 30)  # sparse: `truncate -s 2G s.csv`
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 1 and "longer than" in str(raised.value)
    assert len(str(raised.value)) < 300


def test_a_gigabyte_line_after_good_rows_is_named_and_quoted_briefly(tmp_path) -> None:
    path = tmp_path / "tail.csv"
    with open(path, "wb") as handle:
        handle.write(HEADER + good_rows(10))
        handle.truncate(1 << 30)
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 12 and "longer than" in str(raised.value)
    assert len(str(raised.value)) < 300


def test_a_20_mb_line_gives_a_short_message_and_skip_mode_goes_on(tmp_path) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(
        HEADER
        + good_rows(5)
        + b"1794816001.00,0.1,0.0,"
        + b"9" * (20 << 20)
        + b"\n"
        + good_rows(5, MONDAY_8 + 2)
    )
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 7 and len(str(raised.value)) < 300
    problems: list[RecordingError] = []
    kept = read_recording(path, on_error="skip", problems=problems)
    assert len(kept) == 10 and [p.line for p in problems] == [7]


def test_a_long_field_inside_a_block_is_quoted_in_a_few_dozen_characters(tmp_path) -> None:
    path = tmp_path / "field.csv"
    path.write_bytes(HEADER + good_rows(5) + b"1794816001.00,0.1,0.0," + b"x" * 3000 + b"\n")
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 7 and "not a number" in str(raised.value)
    assert len(str(raised.value)) < 200


def test_line_numbers_stay_right_across_blocks_and_empty_lines(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(recordings_csv, "BLOCK_BYTES", 256)  # many blocks, cut mid-row
    rows = good_rows(40).splitlines(keepends=True)
    rows.insert(10, b"\n")
    rows.insert(31, b"1794816000.70,0.1,0.0,abc\n")
    path = tmp_path / "blocks.csv"
    path.write_bytes(HEADER + b"".join(rows))
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 33  # header, then rows; the bad row is the 32nd line after the header
    assert "z is 'abc'" in str(raised.value)


def test_pyarrow_and_the_numpy_fallback_read_the_same_samples(tmp_path, desk_hour, monkeypatch) -> None:
    """32-bit ARM has no pyarrow wheel: the fallback must give the same samples, epoch and ISO."""
    for iso in (False, True):
        path = tmp_path / f"both-{iso}.csv"
        write_recording(path, desk_hour, iso=iso)
        fast = read_recording(path)
        with monkeypatch.context() as patched:
            patched.setattr(recordings_csv, "_arrow_parser", lambda: None)
            fallback = read_recording(path)
        assert np.array_equal(fast.t, fallback.t) and np.array_equal(fast.xyz, fallback.xyz)


# ---- samples per second (issue 13 item 10) ------------------------------------------------------------
def write_deflated_npz(path, t: np.ndarray, xyz: np.ndarray) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in (("t", t), ("xyz", xyz)):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array)


def test_an_npz_of_millions_of_samples_at_one_timestamp_is_refused_early(tmp_path) -> None:
    count = 2_000_000
    path = tmp_path / "one-second.npz"
    write_deflated_npz(path, np.full(count, MONDAY_8), np.tile(np.float32([0, 0, 1]), (count, 1)))
    assert os.path.getsize(path) < 1 << 20  # a small file that claims 2 M samples in one second
    with pytest.raises(RecordingError, match=f"sample {MAX_SAMPLES_PER_SECOND} is one of more than"):
        next(iter_recording(path, 1 << 16))
    problems: list[RecordingError] = []
    kept = read_recording(path, on_error="skip", problems=problems)
    assert len(kept) == MAX_SAMPLES_PER_SECOND and len(problems) >= 1


def test_a_dense_second_split_across_blocks_is_still_counted(tmp_path) -> None:
    count = MAX_SAMPLES_PER_SECOND + 10
    t = MONDAY_8 + np.linspace(0.0, 0.999, count)
    path = tmp_path / "dense.npz"
    write_recording(path, SampleChunk(t, np.tile(np.float32([0, 0, 1]), (count, 1))))
    with pytest.raises(RecordingError, match=f"sample {MAX_SAMPLES_PER_SECOND} "):
        list(iter_recording(path, 1000))


def test_a_fast_sensor_is_not_mistaken_for_a_dense_second(tmp_path) -> None:
    t = MONDAY_8 + np.arange(20_000) / 1600.0  # 1.6 kHz (MetaMotion's top rate), 12.5 s
    path = tmp_path / "fast.npz"
    write_recording(path, SampleChunk(t, np.tile(np.float32([0, 0, 1]), (len(t), 1))))
    assert len(read_recording(path)) == len(t)


# ---- units (issue 9 item 6) ---------------------------------------------------------------------------
@pytest.mark.parametrize("unit,scale", [("m/s^2", STANDARD_GRAVITY), ("milli-g", 1000.0)])
@pytest.mark.parametrize("name", ["r.csv", "r.npz"])
def test_a_recording_in_another_unit_is_converted_with_a_warning(
    tmp_path, desk_hour, caplog, unit: str, scale: float, name: str
) -> None:
    path = tmp_path / name
    write_recording(path, SampleChunk(desk_hour.t, desk_hour.xyz.astype(np.float64) * scale), iso=False)
    if name.endswith(".csv"):  # the fixed-width writer stops at +-10: write m/s^2 or mg rows by hand
        rows = "".join(
            f"{a:.6f},{x:.5f},{y:.5f},{z:.5f}\n"
            for a, (x, y, z) in zip(desk_hour.t, desk_hour.xyz.astype(np.float64) * scale, strict=True)
        )
        path.write_text("timestamp,x,y,z\n" + rows)
    with caplog.at_level(logging.WARNING):
        back = read_recording(path)
    assert f"in {unit}, not g" in caplog.text and "converted to g" in caplog.text
    assert np.allclose(back.xyz, desk_hour.xyz, atol=2e-4)
    assert np.array_equal(classify(back).codes, classify(desk_hour).codes)


def test_data_in_g_is_read_unchanged_and_without_a_word(tmp_path, desk_hour, caplog) -> None:
    path = tmp_path / "g.npz"
    write_recording(path, desk_hour)
    with caplog.at_level(logging.INFO):
        back = read_recording(path)
    assert np.array_equal(back.xyz, desk_hour.xyz) and "unit" not in caplog.text


def test_gravity_removed_is_read_as_g_with_a_warning_that_says_so(tmp_path, caplog) -> None:
    t = MONDAY_8 + np.arange(1000) / 50.0
    rng = np.random.default_rng(1)
    path = tmp_path / "linear.npz"
    write_recording(path, SampleChunk(t, rng.normal(0, 0.05, (1000, 3)).astype(np.float32)))
    with caplog.at_level(logging.WARNING):
        read_recording(path)
    assert "cannot recognise the unit" in caplog.text and "gravity seems removed" in caplog.text


def test_a_stated_unit_wins_over_recognition(tmp_path, desk_hour) -> None:
    path = tmp_path / "g.npz"
    write_recording(path, desk_hour)
    assert np.allclose(read_recording(path, unit="milli-g").xyz, desk_hour.xyz / 1000.0)


def test_recognise_unit_is_one_function_for_every_reader(desk_hour) -> None:
    """Native device readers (issue 14) call the same function on their own arrays."""
    assert recognise_unit(desk_hour.xyz).unit == "g"
    assert recognise_unit(desk_hour.xyz * STANDARD_GRAVITY).unit == "m/s^2"
    assert recognise_unit(desk_hour.xyz * 1000).unit == "milli-g"
    few = recognise_unit(desk_hour.xyz[:10] * STANDARD_GRAVITY)
    assert few.unit == "g" and few.assumed and "too few" in few.message


def test_classify_says_it_converted_and_gives_the_postures_of_g(tmp_path, desk_hour) -> None:
    outputs = []
    for name, scale in (("g.npz", 1.0), ("ms2.npz", STANDARD_GRAVITY)):
        write_recording(tmp_path / name, SampleChunk(desk_hour.t, desk_hour.xyz.astype(np.float64) * scale))
        out = tmp_path / f"{name}.csv"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sitless",
                "classify",
                str(tmp_path / name),
                "--out",
                str(out),
                "--no-calibration",
            ],
            capture_output=True,
            text=True,
            env={  # no config file: SITLESS_CONFIG naming a missing file is an error (issue 13 item 12)
                **{k: v for k, v in os.environ.items() if k != "SITLESS_CONFIG"},
                "XDG_CONFIG_HOME": str(tmp_path / "no-config"),
                "XDG_DATA_HOME": str(tmp_path),
            },
        )
        assert done.returncode == 0, done.stderr
        outputs.append((done.stderr, out.read_bytes()))
    assert "m/s^2, not g" not in outputs[0][0] and "m/s^2, not g" in outputs[1][0]
    assert outputs[0][1] == outputs[1][1]


# ---- reading fast must not change a label -------------------------------------------------------------
def test_reused_read_buffers_give_the_classifier_the_same_labels(tmp_path) -> None:
    """``reuse_buffers`` (the classify command's NPZ path) relies on the classifier copying what it keeps."""
    day = simulate(SimulationConfig(hours=1.0, rate_hz=25.0, seed=5)).samples
    path = tmp_path / "day.npz"
    write_recording(path, day)
    fresh = classify(iter_recording(path, 4096))
    reused = classify(iter_recording(path, 4096, reuse_buffers=True))
    assert fresh.start == reused.start and np.array_equal(fresh.codes, reused.codes)


def test_parquet_output_holds_the_same_postures_as_csv(tmp_path, desk_hour) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from sitless.posture_csv import read_posture_csv

    path = tmp_path / "day.npz"
    write_recording(path, desk_hour)
    for out in ("p.csv", "p.parquet"):
        assert main(["classify", str(path), "--out", str(tmp_path / out), "--no-calibration"]) == 0
    table = pq.read_table(tmp_path / "p.parquet")
    csv = read_posture_csv(tmp_path / "p.csv")
    seconds = table.column("timestamp").cast("int64").to_numpy() // 1000
    assert np.array_equal(seconds, np.arange(csv.start, csv.end))
    assert table.column("posture").to_pylist() == [
        ["unknown", "nonwear", "sitting", "standing", "walking", "lying", "cycling"][c] for c in csv.codes
    ]
    assert oct(os.stat(tmp_path / "p.parquet").st_mode & 0o777) == "0o600"


def test_posture_files_are_read_in_bounded_lines_too(tmp_path) -> None:
    from sitless.posture_csv import PostureCsvError, read_posture_csv

    zeros = tmp_path / "zeros.csv"
    with open(zeros, "wb") as handle:
        handle.truncate(2 << 30)
    with pytest.raises(PostureCsvError) as raised:
        read_posture_csv(zeros)
    assert raised.value.line == 1 and len(str(raised.value)) < 300
    long = tmp_path / "long.csv"
    long.write_text(
        "timestamp,posture\n2026-11-16T08:00:00Z,sitting\n2026-11-16T08:00:01Z," + "x" * (20 << 20) + "\n"
    )
    with pytest.raises(PostureCsvError) as raised:
        read_posture_csv(long)
    assert raised.value.line == 3 and "longer than" in str(raised.value) and len(str(raised.value)) < 300
