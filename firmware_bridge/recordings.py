"""Recording files: CSV (``timestamp,x,y,z``) and NPZ (arrays ``t`` and ``xyz``), read and written fast.

Research devices' own files (Axivity .cwa, ActiGraph .gt3x and ActiLife CSV, GENEActiv .bin) are read
too, recognised by their content (``recordings_native``); sitless writes only its own two formats.

CSV timestamps are epoch seconds (float) or ISO-8601 with ``Z`` or an offset (``+01:00``); a naive ISO
time is rejected because it is ambiguous (local time? UTC?) and a wrong guess shifts every posture by
hours. Accelerations are in g; a file in m/s^2 or milli-g is recognised from gravity and converted,
with a log line (``sitless.firmware_bridge.units.recognise_unit``).

Reading is strict by default: the first problem raises ``RecordingError`` naming the file and line
("day.csv line 17: z is 'abc', not a number"). With ``on_error="skip"`` bad rows are skipped and each
problem is appended to the ``problems`` list the caller passes, so the CLI can warn: nothing is dropped
silently. Blocks of rows are parsed by a C parser (pyarrow's); only a block that fails is re-read line
by line, to find and name the bad line. Lines and samples per second are bounded
(``recordings_checks``), so a hostile file cannot take all memory.

Files are written to a temporary file then renamed (no half-written recording under the final name),
with mode 0600 (health data).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.private_files import private_output
from sitless.firmware_bridge.recordings_native import NATIVE, iter_native, sniff_format
from sitless.firmware_bridge.recordings_npz import iter_npz, write_npz
from sitless.firmware_bridge.recordings_timestamps import RecordingError, parse_timestamp
from sitless.firmware_bridge.units import given_unit

if TYPE_CHECKING:  # imported on first use (__getattr__ below)
    from sitless.firmware_bridge.recordings_csv import COLUMNS, HEADER, format_csv_rows

__all__ = [
    "COLUMNS",
    "HEADER",
    "RecordingError",
    "format_csv_rows",
    "iter_recording",
    "parse_timestamp",
    "read_recording",
    "read_recording_with_problems",
    "write_recording",
]

ON_ERROR = ("raise", "skip")

#: Names of the CSV module offered here too. It is imported when first needed (its C parser, pyarrow,
#: and its block machinery: 20 ms of imports on the loaded machine here) that an NPZ never needs.
_FROM_CSV = frozenset({"COLUMNS", "HEADER", "format_csv_rows", "iter_csv"})


def __getattr__(name: str):
    if name in _FROM_CSV:
        from sitless.firmware_bridge import recordings_csv

        return getattr(recordings_csv, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise RecordingError(
            path, None, f"unknown recording format {suffix or '(no suffix)'!r}; use .csv or .npz"
        )
    return suffix[1:]


def iter_recording(
    path: os.PathLike | str,
    chunk_samples: int = 1 << 16,
    *,
    on_error: str = "raise",
    problems: list[RecordingError] | None = None,
    reuse_buffers: bool | int = False,
    unit: str = "auto",
) -> Iterator[SampleChunk]:
    """Chunks of at most ``chunk_samples`` samples, in file order (bounded memory).

    ``reuse_buffers=True`` lets a reader fill the same arrays for every chunk (a chunk is then valid only
    until the next is asked for): for consumers that copy what they keep, such as the classifier. A
    number N: N sets of arrays in turn (valid until N more chunks are asked for), for a reader that
    runs ahead of its consumer on another thread.
    ``unit``: "auto" recognises g, m/s^2 or milli-g from gravity and converts to g with a log line
    (``sitless.firmware_bridge.units``); "g", "m/s^2" or "milli-g" say it instead.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    known_unit = None if unit == "auto" else given_unit(unit)
    path = Path(path)
    kind = sniff_format(path)  # from the content: research devices' files too (recordings_native)
    if kind in NATIVE:  # a device's own file is in its own calibrated unit: ``unit`` does not apply
        yield from iter_native(path, kind, max(1, int(chunk_samples)), on_error, problems)
    elif kind == "csv":
        from sitless.firmware_bridge.recordings_csv import iter_csv

        yield from iter_csv(path, max(1, int(chunk_samples)), on_error, problems, known_unit)
    else:
        yield from iter_npz(path, max(1, int(chunk_samples)), on_error, problems, reuse_buffers, known_unit)


def read_recording(
    path: os.PathLike | str,
    *,
    on_error: str = "raise",
    problems: list[RecordingError] | None = None,
    unit: str = "auto",
) -> SampleChunk:
    """The whole recording (any format ``iter_recording`` reads). See the module docstring for ``on_error``,
    and ``iter_recording`` for ``unit``."""
    path = Path(path)
    whole_npz = 1 << 62  # one chunk: no concatenation copy of a big array
    chunks = list(
        iter_recording(
            path,
            whole_npz if sniff_format(path) == "npz" else 1 << 18,
            on_error=on_error,
            problems=problems,
            unit=unit,
        )
    )
    return chunks[0] if len(chunks) == 1 else SampleChunk.concat(chunks)


def read_recording_with_problems(path: os.PathLike | str) -> tuple[SampleChunk, list[RecordingError]]:
    """Lenient read: the good rows, and every problem found (for a CLI warning)."""
    problems: list[RecordingError] = []
    return read_recording(path, on_error="skip", problems=problems), problems


def write_recording(
    path: os.PathLike | str, samples: SampleChunk | Iterable[SampleChunk], *, iso: bool = False
) -> None:
    """Write ``samples`` (one chunk or an iterable, streamed for CSV) to a .csv or .npz file."""
    path = Path(path)
    kind = _kind(path)
    chunks: Iterable[SampleChunk] = [samples] if isinstance(samples, SampleChunk) else samples
    with private_output(path) as handle:
        if kind == "csv":
            from sitless.firmware_bridge.recordings_csv import HEADER, format_csv_rows

            handle.write((HEADER + "\n").encode())
            for chunk in chunks:
                for piece in chunk.split(1 << 18):
                    handle.write(format_csv_rows(piece, iso=iso))
        else:
            write_npz(handle, chunks, path.parent)
