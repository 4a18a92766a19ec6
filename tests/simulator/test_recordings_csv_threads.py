"""The CSV reader's threaded fast path (issue 12): blocks parsed on worker threads ahead of the
classifier must keep every promise of the one-thread reader: a bad row named by file and line, a
truncated file named, no row lost or reordered, ISO offsets exact to the microsecond, and no thread
left behind when reading stops early."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sitless.firmware_bridge.recordings_csv as recordings_csv
import sitless.firmware_bridge.recordings_csv_blocks as csv_blocks
from sitless.firmware_bridge.recordings import RecordingError, iter_recording, read_recording

MONDAY_8 = 1794816000.0  # 2026-11-16T08:00:00Z
HEADER = "timestamp,x,y,z\n"


def rows(count: int, start: float = MONDAY_8) -> list[str]:
    return [f"{start + i / 50:.2f},0.1,0.0,0.99\n" for i in range(count)]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few hundred bytes, parsed on two workers: a small file takes the threaded path
    through many blocks, as a week does through thousands. Records which threads parsed."""
    monkeypatch.setattr(recordings_csv, "BLOCK_BYTES", 300)
    monkeypatch.setattr(csv_blocks, "WORKERS", 2)
    threads: set[int] = set()
    parse = csv_blocks.FastBlockParser.__call__

    def recording(self, block):
        threads.add(threading.get_ident())
        return parse(self, block)

    monkeypatch.setattr(csv_blocks.FastBlockParser, "__call__", recording)
    return threads


def test_a_bad_row_deep_in_the_file_is_named_by_file_and_line_when_parsed_on_workers(
    tmp_path, small_blocks
) -> None:
    lines = rows(2000)
    lines[1499] = "1794816030.00,0.1,oops,0.99\n"  # line 1501 (the header is line 1)
    path = tmp_path / "week.csv"
    path.write_text(HEADER + "".join(lines))
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert str(raised.value) == f"{path} line 1501: y is 'oops', not a number"
    assert small_blocks and threading.get_ident() not in small_blocks, "blocks were parsed on workers"
    problems: list[RecordingError] = []
    kept = read_recording(path, on_error="skip", problems=problems)
    assert [p.line for p in problems] == [1501]
    expected = np.array([float(line.split(",")[0]) for i, line in enumerate(lines) if i != 1499])
    assert np.array_equal(kept.t, expected), "every good row kept, in order"


@settings(max_examples=30, deadline=None)
@given(
    block_bytes=st.integers(40, 700),
    workers=st.sampled_from([1, 2, 3]),
    bad_index=st.integers(0, 199),
    kind=st.sampled_from(["number", "backwards", "empty", "columns"]),
)
def test_the_line_named_does_not_depend_on_blocks_or_threads(
    tmp_path_factory, block_bytes, workers, bad_index, kind
) -> None:
    """Wherever the bad row falls (first row of a block, last, across a cut), the same line is named,
    and the read buffers, reused in turn, hand every other row over unchanged."""
    lines = rows(200)
    lines[bad_index] = {
        "number": "1794816000.00,x,0.0,0.99\n",
        "backwards": f"{MONDAY_8 - 1:.2f},0.1,0.0,0.99\n" if bad_index else "bad,0,0,1\n",
        "empty": "\n",
        "columns": "1794816000.00,0.1\n",
    }[kind]
    path = tmp_path_factory.mktemp("blocks") / "r.csv"
    path.write_text(HEADER + "".join(lines))
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(recordings_csv, "BLOCK_BYTES", block_bytes)
        patched.setattr(csv_blocks, "WORKERS", workers)
        problems: list[RecordingError] = []
        kept = read_recording(path, on_error="skip", problems=problems)
    expected = [float(line.split(",")[0]) for i, line in enumerate(lines) if i != bad_index]
    assert np.array_equal(kept.t, expected), "every other row kept, in order (no reused buffer overwritten)"
    assert [p.line for p in problems] == ([] if kind == "empty" else [bad_index + 2])  # empty: no row


def test_a_file_cut_mid_row_is_named_on_the_threaded_path(tmp_path, small_blocks) -> None:
    path = tmp_path / "cut.csv"
    path.write_text(HEADER + "".join(rows(500)) + "1794816010.00,0.1,0.")
    with pytest.raises(RecordingError) as raised:
        read_recording(path)
    assert raised.value.line == 502 and "truncated last line" in str(raised.value)


def iso_rows() -> tuple[str, np.ndarray]:
    """ISO rows in Z and in offsets east and west, whole and half hours, microsecond fractions, one
    across midnight; and their exact UTC microseconds, from Python's integer datetime arithmetic."""
    zones = ["Z", "+01:00", "-05:00", "+05:45", "-03:30", "+14:00"]
    generator = np.random.default_rng(12)
    text, micros = [], []
    start = datetime(2026, 11, 15, 23, 59, 58, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i in range(600):
        moment = start + timedelta(seconds=i * 0.02, microseconds=int(generator.integers(0, 20000)))
        zone = zones[i % len(zones)]
        offset = (
            timedelta(0)
            if zone == "Z"
            else (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
        )
        local = moment.astimezone(timezone(offset)).replace(tzinfo=None)
        text.append(f"{local.isoformat(timespec='microseconds')}{zone},0.1,0.0,0.99\n")
        micros.append((moment - epoch) // timedelta(microseconds=1))
    order = np.argsort(micros, kind="stable")
    return "".join(text[i] for i in order), np.array(micros, np.int64)[order]


@pytest.mark.parametrize("path_taken", ["arrow", "numpy fallback", "precise pass"])
def test_iso_offsets_are_exact_to_the_microsecond_on_every_path(tmp_path, monkeypatch, path_taken) -> None:
    text, micros = iso_rows()
    path = tmp_path / "iso.csv"
    if path_taken == "precise pass":
        text += "2026-11-16T08:00:00.000000Z,0.1,nope,0.99\n"  # the block fails: every row parsed by Python
    path.write_text(HEADER + text)
    if path_taken == "numpy fallback":
        monkeypatch.setattr(recordings_csv, "_arrow_parser", lambda: None)
    t = read_recording(path, on_error="skip").t
    assert len(t) == len(micros)
    assert np.array_equal(np.rint(t * 1e6).astype(np.int64), micros)
    if path_taken == "arrow":
        assert np.array_equal(t, micros / 1e6), "one correctly rounded division from arrow's microseconds"


def sitless_csv_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("sitless-csv")]


def test_reading_stopped_early_leaves_no_parsing_thread_behind(tmp_path, small_blocks) -> None:
    lines = rows(3000)
    lines[40] = "1794816000.80,0.1,0.0,nan\n"
    path = tmp_path / "early.csv"
    path.write_text(HEADER + "".join(lines))
    with pytest.raises(RecordingError, match="line 42: z is 'nan', not a finite number"):
        read_recording(path)
    assert sitless_csv_threads() == []
    reading = iter_recording(tmp_path / "early.csv", 10)
    next(reading)  # a consumer that stops after the first chunk (an error in the classifier, a ^C)
    reading.close()
    assert sitless_csv_threads() == []


def test_parsed_ahead_keeps_order_and_parses_at_most_workers_plus_one_ahead() -> None:
    started: list[int] = []
    consumed: list[int] = []
    ahead: list[int] = []

    def parse(item: int) -> int:
        started.append(item)
        time.sleep(0.002 * (item % 3))  # later items often finish first
        return item * item

    for item, result in csv_blocks.parsed_ahead(iter(range(60)), parse, workers=2):
        assert result == item * item
        consumed.append(item)
        ahead.append(len(started) - len(consumed))
    assert consumed == list(range(60))
    assert max(ahead) <= 2


@pytest.mark.parametrize("field", ["", "NA", "NULL", "nan", "-inf"])
def test_a_missing_or_non_finite_value_is_named_by_line_not_read_as_a_number(tmp_path, field) -> None:
    """The fast parse knows no null spellings: such a field fails its block and the precise pass names it."""
    lines = rows(300)
    lines[200] = f"{MONDAY_8 + 4:.2f},0.1,{field},0.99\n"
    path = tmp_path / "gap.csv"
    path.write_text(HEADER + "".join(lines))
    with pytest.raises(RecordingError, match=r"line 202: y is .*not a (finite )?number"):
        read_recording(path)


def test_quoted_fields_read_the_same_on_the_fast_path_and_the_precise_pass(tmp_path) -> None:
    """A block with one bad row is parsed line by line: its good quoted rows must not be lost."""
    quoted = [f'"{MONDAY_8 + i / 50:.2f}","0.1","0.0",0.99\n' for i in range(100)]
    path = tmp_path / "quoted.csv"
    path.write_text(HEADER + "".join(quoted))
    fast = read_recording(path)
    path.write_text(HEADER + "".join(quoted) + "1794816010.00,0.1,bad,0.99\n")
    problems: list[RecordingError] = []
    precise = read_recording(path, on_error="skip", problems=problems)
    assert [p.line for p in problems] == [102]
    assert len(fast) == 100 and np.array_equal(fast.t, precise.t) and np.array_equal(fast.xyz, precise.xyz)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-16T08:00Z",
        "2026-11-16T08Z",
        "2026-11-16T09:00:00+0100",
        "2026-11-16T09:00:00+01",
        "2026-11-16 08:00:00Z",
    ],
)
def test_iso_forms_arrow_reads_are_read_alike_by_the_precise_pass(tmp_path, stamp) -> None:
    """Arrow's ISO-8601 parser takes these forms: a block that falls to the precise pass for one bad
    row must read them alike, or a whole block of good rows would be lost with it."""
    path = tmp_path / "forms.csv"
    path.write_text(HEADER + f"{stamp},0.1,0.0,0.99\n")
    fast = read_recording(path)
    path.write_text(HEADER + f"{stamp},0.1,0.0,0.99\n" + "2026-11-16T08:00:01Z,0.1,bad,0.99\n")
    precise = read_recording(path, on_error="skip")
    assert fast.t.tolist() == precise.t.tolist() == [MONDAY_8]
