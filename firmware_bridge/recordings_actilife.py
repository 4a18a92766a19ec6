"""ActiGraph ActiLife raw CSV exports (``*RAW.csv``), recognised by their header, read in blocks.

ActiLife writes a 10-line header, then the samples in g, one row per sample at the nominal rate::

    ------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 Firmware v1.9.2 date format M/d/yyyy at 30 Hz  Filter Normal -----------
    Serial Number: MOS2E39180594
    Start Time 10:00:00
    Start Date 8/26/2020
    Epoch Period (hh:mm:ss) 00:00:00
    Download Time 12:05:12
    Download Date 8/26/2020
    Current Memory Address: 0
    Current Battery Voltage: 4.03     Mode = 12
    --------------------------------------------------
    Timestamp,Accelerometer X,Accelerometer Y,Accelerometer Z
    8/26/2020 10:00:00.000,0.004,0.023,-0.957

The ``Timestamp`` column is optional (ActiLife's "include timestamps" box) and the column-name line may be
missing; sample ``i`` is at ``start + i / rate`` either way (ActiLife writes every nominal sample, idle
sleep included: it fills those seconds with the last sample, so they read as still data, unlike the
.gt3x reader's gaps). The date format comes from the first line (``M/d/yyyy``, ``d/M/yyyy``,
``yyyy-MM-dd``...). Times are the device's local clock, taken as they are. A bad row stops the read
(strict) or is skipped and reported (``on_error="skip"``) with its line number; skipped rows leave gaps.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_gzip import open_recording
from sitless.firmware_bridge.recordings_timestamps import RecordingError, handle_problem

SIGNATURE = b"------------ Data File Created By ActiGraph"
HEADER_LINES = 10
ROWS_PER_BLOCK = 1 << 18
_RATE = re.compile(r"at (\d+(?:\.\d+)?) Hz")
_DATE_FORMAT = re.compile(r"date format (\S+)")
_FIELDS = {"yyyy": "%Y", "MM": "%m", "M": "%m", "dd": "%d", "d": "%d"}


def _strptime_format(actilife: str) -> str:
    return re.sub(r"yyyy|MM|M|dd|d", lambda match: _FIELDS[match.group(0)], actilife)


def read_actilife_header(path: Path) -> dict:
    with open_recording(path) as handle:
        lines = [handle.readline().decode("latin-1").strip() for _ in range(HEADER_LINES + 1)]
    if not lines[0].encode("latin-1").startswith(SIGNATURE):
        raise RecordingError(path, 1, "not an ActiLife CSV export (no 'Data File Created By ActiGraph' line)")
    rate = _RATE.search(lines[0])
    date_format = _DATE_FORMAT.search(lines[0])
    fields = {}
    for line in lines[1:HEADER_LINES]:
        for key in ("Serial Number:", "Start Time", "Start Date"):
            if line.startswith(key):
                fields[key.rstrip(":")] = line[len(key) :].strip()
    if not rate or "Start Time" not in fields or "Start Date" not in fields:
        raise RecordingError(path, 1, "ActiLife header without a rate ('at 30 Hz'), Start Time or Start Date")
    pattern = _strptime_format(date_format.group(1) if date_format else "M/d/yyyy")
    try:
        start = datetime.strptime(f"{fields['Start Date']} {fields['Start Time']}", f"{pattern} %H:%M:%S")
    except ValueError as error:
        raise RecordingError(path, 4, f"start date/time unreadable: {error}") from None
    columns = lines[HEADER_LINES]
    has_column_names = "Accelerometer" in columns
    names = [name.strip() for name in columns.split(",")] if has_column_names else []
    try:
        usecols = [names.index(f"Accelerometer {axis}") for axis in "XYZ"] if names else None
    except ValueError:
        raise RecordingError(path, HEADER_LINES + 1, f"no Accelerometer X,Y,Z columns in {columns!r}") from None
    return {
        "serial": fields.get("Serial Number", ""),
        "device": lines[0].split("By ActiGraph", 1)[1].split("ActiLife")[0].strip() or "ActiGraph",
        "rate_hz": float(rate.group(1)),
        "start": start.replace(tzinfo=UTC).timestamp(),
        "first_data_line": HEADER_LINES + (2 if has_column_names else 1),
        "usecols": usecols,
    }


def iter_actilife(
    path: Path, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    header = read_actilife_header(path)
    period = 1.0 / header["rate_hz"]
    with open_recording(path) as handle:
        for _ in range(header["first_data_line"] - 1):
            handle.readline()
        usecols = header["usecols"]
        if usecols is None:  # no column names: look at the first row for 3 or 4 fields
            first = handle.readline()
            fields = first.count(b",") + 1
            usecols = [fields - 3, fields - 2, fields - 1]
            pending = [first]
        else:
            pending = []
        line = header["first_data_line"]
        index = 0
        block_rows = max(1, min(ROWS_PER_BLOCK, chunk_samples))
        while True:
            rows = pending + list(itertools.islice(handle, block_rows - len(pending)))
            pending = []
            if not rows:
                break
            xyz, keep = _parse_rows(path, rows, line, usecols, on_error, problems)
            t = header["start"] + (index + np.flatnonzero(keep)) * period
            if len(t):
                yield SampleChunk(t, xyz)
            index += len(rows)
            line += len(rows)


def _parse_rows(path, rows, first_line, usecols, on_error, problems):
    """Fast path: numpy's C parser on the block; on failure, row by row to name the bad line."""
    try:
        xyz = np.loadtxt(io.BytesIO(b"".join(rows)), delimiter=",", usecols=usecols, dtype=np.float64, ndmin=2)
        if len(xyz) == len(rows) and np.isfinite(xyz).all():
            return xyz.astype(np.float32), np.ones(len(rows), bool)
    except ValueError:
        pass
    values = np.zeros((len(rows), 3), np.float32)
    keep = np.zeros(len(rows), bool)
    for offset, row in enumerate(rows):
        fields = row.decode("latin-1").strip().split(",")
        try:
            values[offset] = [float(fields[column]) for column in usecols]
            if not np.isfinite(values[offset]).all():
                raise ValueError("not finite")
            keep[offset] = True
            continue
        except (ValueError, IndexError):
            pass
        # outside the except: a raised problem does not carry the float() error as its context
        problem = RecordingError(path, first_line + offset, f"not an x,y,z row in g: {row[:60]!r}")
        handle_problem(problem, on_error, problems)
    return values[keep], keep
