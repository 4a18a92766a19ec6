"""Per-second posture files round-trip, fill holes with unknown, and name the bad line."""

from __future__ import annotations

import numpy as np
import pytest

from sitless.analysis.postures import POSTURE_LABELS, Posture, PostureSeconds
from sitless.posture_csv import read_posture_csv, write_posture_csv

MONDAY_8 = 1794816000


def test_posture_file_round_trips_with_iso_seconds(tmp_path) -> None:
    codes = np.array([2, 2, 3, 4, 1, 5, 6, 0], dtype=np.int8)
    path = tmp_path / "truth.csv"
    write_posture_csv(path, PostureSeconds(MONDAY_8, codes))
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,posture"
    assert lines[1] == "2026-11-16T08:00:00Z,sitting"
    back = read_posture_csv(path)
    assert back.start == MONDAY_8 and np.array_equal(back.codes, codes)


def test_missing_seconds_become_unknown_and_offsets_are_understood(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("timestamp,posture\n2026-11-16T09:00:00+01:00,sitting\n1794816003,standing\n")
    series = read_posture_csv(path)
    assert series.start == MONDAY_8
    assert [Posture(c) for c in series.codes] == [
        Posture.SITTING,
        Posture.UNKNOWN,
        Posture.UNKNOWN,
        Posture.STANDING,
    ]


@pytest.mark.parametrize(
    "rows,line,fragment",
    [
        ("2026-11-16T08:00:00Z,sitting\n2026-11-16T08:00:01Z,dancing\n", 3, "unknown posture 'dancing'"),
        ("2026-11-16T08:00:01Z,sitting\n2026-11-16T08:00:00Z,sitting\n", 3, "increasing time order"),
        ("2026-11-16T08:00:00.5Z,sitting\n", 2, "whole second"),
        ("2026-11-16T08:00:00,sitting\n", 2, "no time zone"),
        ("2026-11-16T08:00:00Z,sitting\n2026-11-16T08:00:01Z,sit", 3, "truncated last line"),
    ],
)
def test_errors_name_the_line(tmp_path, rows: str, line: int, fragment: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text("timestamp,posture\n" + rows)
    with pytest.raises(ValueError) as raised:
        read_posture_csv(path)
    assert f"{path} line {line}:" in str(raised.value)
    assert fragment in str(raised.value)


def test_rows_written_as_they_come_fill_a_hole_with_unknown_and_land_only_when_done(tmp_path) -> None:
    from sitless.posture_csv import posture_csv_writer

    path = tmp_path / "p.csv"
    with posture_csv_writer(path) as write:
        write(PostureSeconds(MONDAY_8, np.array([2, 2], np.int8)))
        write(PostureSeconds.empty(MONDAY_8 + 2))
        write(PostureSeconds(MONDAY_8 + 4, np.array([3], np.int8)))
        assert not path.exists()  # not under its name until the writer completes
    series = read_posture_csv(path)
    assert series.start == MONDAY_8
    assert series.codes.tolist() == [Posture.SITTING] * 2 + [Posture.UNKNOWN] * 2 + [Posture.STANDING]
    with pytest.raises(ValueError, match="overlap"), posture_csv_writer(tmp_path / "q.csv") as write:
        write(PostureSeconds(MONDAY_8, np.array([2, 2], np.int8)))
        write(PostureSeconds(MONDAY_8 + 1, np.array([3], np.int8)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]  # nothing left of q.csv


def test_rows_across_hour_day_and_year_boundaries_are_iso_utc_seconds():
    """Each row's timestamp is its own second, written as the standard library writes it."""
    import datetime

    from sitless.posture_csv import format_posture_rows

    start = 1798761600 - 3 * 3600 - 5  # 2026-12-31T20:59:55Z: hours, a day and a year end inside
    codes = np.arange(4 * 3600 + 20, dtype=np.int64) % len(POSTURE_LABELS)
    lines = format_posture_rows(PostureSeconds(start, codes.astype(np.int8))).decode().splitlines()
    expected = [
        datetime.datetime.fromtimestamp(start + i, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ,")
        + POSTURE_LABELS[code]
        for i, code in enumerate(codes)
    ]
    assert lines == expected
