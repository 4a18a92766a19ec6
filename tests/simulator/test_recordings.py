"""Recording files: round trips, ISO offsets, and every error names the file, the line and the problem."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings import (
    RecordingError,
    iter_recording,
    read_recording,
    read_recording_with_problems,
    write_recording,
)
from sitless.firmware_bridge.simulate import SimulationConfig, simulate

MONDAY_8 = 1794816000.0  # 2026-11-16T08:00:00Z


@pytest.fixture(scope="module")
def samples() -> SampleChunk:
    return simulate(SimulationConfig(hours=0.3, rate_hz=50.0, seed=7)).samples


def write_text(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize("name,iso", [("r.csv", False), ("r.csv", True), ("r.npz", False)])
def test_round_trip_keeps_every_sample(tmp_path, samples, name: str, iso: bool) -> None:
    path = tmp_path / name
    write_recording(path, samples, iso=iso)
    back = read_recording(path)
    assert len(back) == len(samples)
    assert np.allclose(back.t, samples.t, atol=6e-4 if iso else 1e-6, rtol=0)
    assert np.allclose(back.xyz, samples.xyz, atol=1e-5, rtol=0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "health data files are private"


def test_writing_chunks_streams_the_same_file_as_writing_once(tmp_path, samples) -> None:
    write_recording(tmp_path / "once.csv", samples)
    write_recording(tmp_path / "chunks.csv", iter(samples.split(1000)))
    assert (tmp_path / "once.csv").read_bytes() == (tmp_path / "chunks.csv").read_bytes()


def test_iter_recording_yields_bounded_chunks_in_order(tmp_path, samples) -> None:
    path = tmp_path / "r.csv"
    write_recording(path, samples)
    chunks = list(iter_recording(path, chunk_samples=4096))
    assert max(len(c) for c in chunks) <= 4096
    assert np.allclose(SampleChunk.concat(chunks).t, samples.t, atol=1e-6, rtol=0)


def test_iso_timestamps_with_offsets_and_z_parse_to_the_same_epoch(tmp_path) -> None:
    path = write_text(
        tmp_path / "iso.csv",
        "timestamp,x,y,z\n"
        "2026-11-16T08:00:00.000Z,0,0,1\n"
        "2026-11-16T09:00:00.020+01:00,0,0,1\n"
        "2026-11-16T03:00:00.040-05:00,0,0,1\n"
        "1794816000.06,0,0,1\n",
    )
    t = read_recording(path).t
    assert np.allclose(t, MONDAY_8 + np.array([0.0, 0.02, 0.04, 0.06]), atol=1e-6, rtol=0)


def test_one_offset_for_a_whole_block_parses_fast_and_right(tmp_path) -> None:
    rows = "".join(f"2026-11-16T09:00:{i:02d}.500+01:00,0.1,0.2,0.9\n" for i in range(60))
    path = write_text(tmp_path / "cet.csv", "timestamp,x,y,z\n" + rows)
    t = read_recording(path).t
    assert np.allclose(t, MONDAY_8 + np.arange(60) + 0.5, atol=1e-6, rtol=0)


def error_for(tmp_path, text: str, name: str = "day.csv") -> RecordingError:
    path = write_text(tmp_path / name, text)
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert str(path) in str(raised.value)
    return raised.value


GOOD = "1794816000.00,0.1,0.0,0.99\n1794816000.02,0.1,0.0,0.99\n"


def test_a_wrong_header_is_reported_on_line_1(tmp_path) -> None:
    error = error_for(tmp_path, "time,ax,ay,az\n" + GOOD)
    assert error.line == 1 and "timestamp,x,y,z" in str(error)
    assert error_for(tmp_path, "").line == 1


def test_a_bad_number_names_the_line_and_column(tmp_path) -> None:
    rows = (
        "".join(f"{MONDAY_8 + i / 50:.2f},0.1,0.0,0.99\n" for i in range(16)) + "1794816001.00,0.1,0.0,abc\n"
    )
    error = error_for(tmp_path, "timestamp,x,y,z\n" + rows)
    assert error.line == 18
    assert str(error) == f"{tmp_path / 'day.csv'} line 18: z is 'abc', not a number"


def test_nan_and_wrong_column_counts_are_named(tmp_path) -> None:
    assert "not a finite number" in str(
        error_for(tmp_path, "timestamp,x,y,z\n" + GOOD + "1794816001,nan,0,1\n")
    )
    error = error_for(tmp_path, "timestamp,x,y,z\n" + GOOD + "1794816001,0,1\n" + GOOD)
    assert error.line == 4 and "expected 4 columns" in str(error)


def test_a_timestamp_without_time_zone_is_rejected_with_a_hint(tmp_path) -> None:
    error = error_for(
        tmp_path, "timestamp,x,y,z\n2026-11-16T08:00:00.000Z,0,0,1\n2026-11-16T08:00:00.020,0,0,1\n"
    )
    assert error.line == 3
    assert "no time zone" in str(error) and "Z" in str(error) and "+01:00" in str(error)


def test_time_going_backwards_names_the_line(tmp_path) -> None:
    rows = "1794816000.00,0,0,1\n1794816000.02,0,0,1\n1794815999.50,0,0,1\n"
    error = error_for(tmp_path, "timestamp,x,y,z\n" + rows)
    assert error.line == 4 and "backwards" in str(error)


def test_a_file_cut_mid_row_reports_the_truncated_last_line(tmp_path) -> None:
    error = error_for(tmp_path, "timestamp,x,y,z\n" + GOOD + "1794816000.04,0.1,0.")
    assert error.line == 4 and "truncated last line" in str(error)


def test_skip_mode_keeps_good_rows_and_lists_every_problem(tmp_path) -> None:
    rows = (
        GOOD
        + "1794816000.04,0.1,x,0.9\n"
        + "1794816000.06,0.1,0.0,0.99\n"
        + "1794816000.01,0,0,1\n"
        + "17948"
    )
    path = write_text(tmp_path / "day.csv", "timestamp,x,y,z\n" + rows)
    chunk, problems = read_recording_with_problems(path)
    assert len(chunk) == 3
    assert [p.line for p in problems] == [4, 6, 7]


def test_npz_missing_or_malformed_arrays_are_reported(tmp_path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, t=np.arange(3.0))
    with pytest.raises(RecordingError, match="missing array.*xyz"):
        read_recording(path)
    np.savez(path, t=np.arange(3.0), xyz=np.zeros((3, 2), np.float32))
    with pytest.raises(RecordingError, match=r"shape \(N, 3\)"):
        read_recording(path)
    np.savez(path, t=np.arange(3.0, dtype=np.float32), xyz=np.zeros((3, 3), np.float32))
    with pytest.raises(RecordingError, match="float64"):
        read_recording(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(RecordingError, match="bad.npz"):
        read_recording(path)


def test_unknown_suffix_is_refused(tmp_path) -> None:
    with pytest.raises(RecordingError, match=r"\.csv or \.npz"):
        write_recording(tmp_path / "day.txt", SampleChunk.empty())


def test_npz_is_streamed_in_bounded_chunks_even_when_compressed(tmp_path, samples) -> None:
    path = tmp_path / "c.npz"
    np.savez_compressed(path, t=samples.t, xyz=samples.xyz)
    chunks = list(iter_recording(path, chunk_samples=5000))
    assert max(len(c) for c in chunks) <= 5000
    joined = SampleChunk.concat(chunks)
    assert np.array_equal(joined.t, samples.t) and np.array_equal(joined.xyz, samples.xyz)


def test_npz_bad_samples_are_named_by_index(tmp_path) -> None:
    t = 1794816000.0 + np.arange(10) / 50
    t[6] = t[2]
    xyz = np.zeros((10, 3), np.float32)
    xyz[8, 1] = np.nan
    path = tmp_path / "bad.npz"
    np.savez(path, t=t, xyz=xyz)
    with pytest.raises(RecordingError, match="sample 6 time .* goes backwards"):
        read_recording(path)
    problems: list[RecordingError] = []
    chunk = read_recording(path, on_error="skip", problems=problems)
    assert len(chunk) == 8 and [str(p).split(": ")[1] for p in problems][1] == "sample 8 is not finite"


def test_a_cut_npz_file_is_reported_not_crashed_on(tmp_path, samples) -> None:
    path = tmp_path / "cut.npz"
    write_recording(path, samples)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError, match="cut.npz"):
        read_recording(path)


@settings(max_examples=40, deadline=None)
@given(
    start=st.floats(946684800.0, 4.1e9),  # the years 2000-2100 that readers accept
    steps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=30),
    values=st.data(),
)
def test_csv_formatter_round_trips_any_sample_within_sensor_range(
    tmp_path_factory, start, steps, values
) -> None:
    t = start + np.cumsum(steps)
    xyz = np.array(
        values.draw(st.lists(st.tuples(*[st.floats(-9.9, 9.9)] * 3), min_size=len(t), max_size=len(t))),
        dtype=np.float32,
    ).reshape(-1, 3)
    path = tmp_path_factory.mktemp("fmt") / "r.csv"
    write_recording(path, SampleChunk(t, xyz))
    back = read_recording(path)
    assert np.allclose(back.t, t, atol=2e-6, rtol=0)
    assert np.allclose(back.xyz, xyz, atol=6e-6, rtol=0)


@pytest.mark.parametrize("first", ["0", "1e20", "1794816000000"])
def test_a_clock_that_was_never_set_or_milliseconds_are_refused_by_line(tmp_path, first) -> None:
    """A sensor counting from 0 (or a file in milliseconds) would span decades of "missing" seconds."""
    path = tmp_path / "clock.csv"
    path.write_text(f"timestamp,x,y,z\n{first},1,0,0\n1794816000.02,1,0,0\n")
    with pytest.raises(RecordingError, match=r"line 2: timestamp .* is not between 2000 and 2100"):
        read_recording(path)


def test_an_npz_with_timestamps_from_0_is_refused_by_sample(tmp_path) -> None:
    path = tmp_path / "clock.npz"
    np.savez(path, t=np.arange(5, dtype=np.float64), xyz=np.zeros((5, 3), np.float32))
    with pytest.raises(RecordingError, match=r"sample 0 time 0 is not between 2000 and 2100"):
        read_recording(path)
