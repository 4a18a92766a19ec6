"""Per-second posture files: the simulator's ground truth and the output of ``sitless classify``.

Format: header ``timestamp,posture``, then one row per whole UTC second, e.g.
``2026-11-16T08:00:00Z,sitting``. Readers also accept epoch seconds and ISO offsets (``+01:00``); rows
must be whole seconds in increasing order; a missing second becomes ``unknown`` (as in
``PostureSeconds.concat``), so a file with holes still lines up second by second with another one.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from sitless.analysis.postures import POSTURE_LABELS, Posture, PostureSeconds
from sitless.firmware_bridge.private_files import private_output
from sitless.firmware_bridge.recordings import RecordingError, parse_timestamp
from sitless.firmware_bridge.recordings_checks import quote

HEADER = "timestamp,posture"


class PostureCsvError(RecordingError):
    """A posture file that cannot be read; like a recording's, the message names the file and line."""


#: Two ASCII digits for 0-99, and each posture's label with its newline, padded with '#' to one width
#: (the padding is deleted at the end): rows are filled as a record array, field by field, not built as
#: Python strings (a week of rows in about 0.1 s instead of 0.7 s).
_PAIRS = np.array([f"{i:02d}" for i in range(100)], "S2")
_LABEL_WIDTH = max(len(label) for label in POSTURE_LABELS) + 1
_LABELS = np.array([(label + "\n").ljust(_LABEL_WIDTH, "#") for label in POSTURE_LABELS], f"S{_LABEL_WIDTH}")
#: A row is three fields: the hour's ``YYYY-MM-DDTHH:`` (one per hour of the rows), the second's
#: ``MM:SSZ,`` within its hour (the same 3600 for every hour) and the label.
_ROW = np.dtype([("hour", "S14"), ("within", "S7"), ("label", f"S{_LABEL_WIDTH}")])
_WITHIN_HOUR: np.ndarray | None = None  # the 3600 ``MM:SSZ,``, made on first use


def _within_hour() -> np.ndarray:
    global _WITHIN_HOUR
    if _WITHIN_HOUR is None:
        minutes, seconds = np.divmod(np.arange(3600), 60)
        _WITHIN_HOUR = np.char.add(np.char.add(_PAIRS[minutes], b":"), np.char.add(_PAIRS[seconds], b"Z,"))
    return _WITHIN_HOUR


def format_posture_rows(series: PostureSeconds) -> bytes:
    """``YYYY-MM-DDTHH:MM:SSZ,label`` rows, one per second."""
    if not len(series):
        return b""
    seconds = np.arange(series.start, series.end, dtype=np.int64)
    hours = seconds // 3600
    first_hour, last_hour = int(hours[0]), int(hours[-1])
    prefixes = np.array(
        [f"{np.datetime64(hour, 'h')}:" for hour in range(first_hour, last_hour + 1)], "S14"
    )  # numpy writes an hour as YYYY-MM-DDTHH
    rows = np.empty(len(seconds), _ROW)
    rows["hour"] = prefixes[hours - first_hour]
    rows["within"] = _within_hour()[seconds - hours * 3600]
    rows["label"] = _LABELS[series.codes.astype(np.intp)]
    return rows.tobytes().translate(None, b"#")


def write_posture_csv(path: os.PathLike | str, series: PostureSeconds) -> None:
    """Write one row per second (mode 0600, via a temporary file renamed into place)."""
    with posture_csv_writer(path) as write:
        for offset in range(0, len(series), 1 << 18):
            write(PostureSeconds(series.start + offset, series.codes[offset : offset + (1 << 18)]))


@contextlib.contextmanager
def posture_csv_writer(path: os.PathLike | str) -> Iterator[Callable[[PostureSeconds], None]]:
    """A function that writes the rows of consecutive series as they come (a hole between two becomes
    ``unknown`` rows, as in ``PostureSeconds.concat``); the file lands at ``path`` (mode 0600) only when
    the block completes, and not at all if it raises. ``sitless classify`` writes each batch of seconds
    while the next is being summed, so the output costs no time of its own."""
    with private_output(path) as handle:
        handle.write((HEADER + "\n").encode())
        following: int | None = None

        def write(part: PostureSeconds) -> None:
            nonlocal following
            if not len(part):
                return
            if following is not None and part.start != following:
                if part.start < following:
                    raise ValueError(f"posture rows overlap at second {part.start} (expected >= {following})")
                hole = np.full(part.start - following, Posture.UNKNOWN, np.int8)
                handle.write(format_posture_rows(PostureSeconds(following, hole)))
            handle.write(format_posture_rows(part))
            following = part.end

        yield write


def write_posture_parquet(path: os.PathLike | str, series: PostureSeconds) -> None:
    """The same rows as Parquet (pyarrow): ``timestamp`` (UTC, whole seconds; Parquet stores them as ms)
    and ``posture`` (the label, dictionary-encoded), for pandas, polars, DuckDB or R without parsing
    text. Mode 0600, atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    seconds = np.arange(series.start, series.end, dtype=np.int64)
    postures = pa.DictionaryArray.from_arrays(
        pa.array(series.codes.astype(np.int8)), pa.array(list(POSTURE_LABELS), pa.string())
    )
    table = pa.table({"timestamp": pa.array(seconds, pa.timestamp("s", tz="UTC")), "posture": postures})
    with private_output(path) as handle:
        pq.write_table(table, handle)


#: A posture file is read whole (vectorised) up to this size (a year of seconds is about 0.9 GB); a
#: bigger one, and any line, is read in bounded pieces (issue 13: a 2 GB "line" must not be read whole).
FAST_READ_MAX_BYTES = 256 << 20
MAX_LINE_CHARS = 256


def _read_fast(path: Path) -> PostureSeconds | None:
    """Vectorised read of a well-formed file (consecutive whole seconds); None sends it to the slow path."""
    if path.stat().st_size > FAST_READ_MAX_BYTES:
        return None  # the slow path streams line by line: memory stays bounded
    with path.open("rb") as handle:
        data = handle.read()
    if not data.endswith(b"\n") or b"\r" in data:
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    header, _, body = text.partition("\n")
    if header != HEADER:
        return None
    if not body:
        return PostureSeconds.empty()
    rows = body.count("\n")
    if body.count(",") != rows or "\n\n" in body:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(io.StringIO(body), delimiter=",", dtype="U40", comments=None, ndmin=2)
        stamps = table[:, 0]
        if not np.char.endswith(stamps, "Z").all() or (np.char.str_len(stamps) != 20).any():
            return None
        seconds = np.char.rstrip(stamps, "Z").astype("datetime64[s]").astype(np.int64)
    except ValueError:
        return None
    if len(seconds) != rows or (np.diff(seconds) != 1).any():
        return None
    names, inverse = np.unique(table[:, 1], return_inverse=True)
    lookup = {label: int(Posture.from_label(label)) for label in POSTURE_LABELS}
    if any(name not in lookup for name in names.tolist()):
        return None
    codes = np.array([lookup[name] for name in names.tolist()], dtype=np.int8)[inverse.reshape(-1)]
    return PostureSeconds(int(seconds[0]), codes)


def read_posture_csv(path: os.PathLike | str) -> PostureSeconds:
    """Read a posture file written by ``write_posture_csv`` (or by hand); errors name file and line."""
    path = Path(path)
    try:
        fast = _read_fast(path)
    except OSError as error:
        raise PostureCsvError(path, None, f"cannot read: {error.strerror}") from None
    if fast is not None:
        return fast
    try:
        handle = path.open("r", encoding="utf-8", newline="")
    except OSError as error:
        raise PostureCsvError(path, None, f"cannot read: {error.strerror}") from None
    labels = {label: Posture.from_label(label) for label in POSTURE_LABELS}
    start: int | None = None
    codes: list[int] = []
    with handle:
        header = handle.readline(MAX_LINE_CHARS).lstrip("\ufeff").strip()
        if header.replace(" ", "").lower() != HEADER:
            shown = quote(header) if header else "'an empty file'"
            raise PostureCsvError(path, 1, f"header is {shown}; expected exactly {HEADER!r}")
        for line_no, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_CHARS + 1), ""), start=2):
            if len(raw) > MAX_LINE_CHARS:
                raise PostureCsvError(
                    path,
                    line_no,
                    f"line longer than {MAX_LINE_CHARS} characters is no posture row: {quote(raw)}",
                )
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            truncated = "" if raw.endswith("\n") else "truncated last line (the file ends mid-row?): "
            fields = line.split(",")
            if len(fields) != 2:
                raise PostureCsvError(
                    path, line_no, f"{truncated}expected 2 columns (timestamp,posture), found {len(fields)}"
                )
            try:
                moment = parse_timestamp(fields[0])
            except ValueError as error:
                raise PostureCsvError(path, line_no, f"{truncated}{error}") from None
            if not float(moment).is_integer() or not math.isfinite(moment):
                raise PostureCsvError(
                    path, line_no, f"timestamp {quote(fields[0].strip())} is not a whole second"
                )
            label = fields[1].strip().lower()
            if label not in labels:
                known = ", ".join(POSTURE_LABELS)
                raise PostureCsvError(
                    path, line_no, f"{truncated}unknown posture {quote(label)}; expected one of {known}"
                )
            second = int(moment)
            if start is None:
                start = second
            index = second - start
            if index < len(codes):
                raise PostureCsvError(
                    path,
                    line_no,
                    f"second {fields[0].strip()} is not after the previous row; rows must be in increasing time order",
                )
            if index > len(codes):
                codes.extend([int(Posture.UNKNOWN)] * (index - len(codes)))
            codes.append(int(labels[label]))
    if start is None:
        return PostureSeconds.empty()
    return PostureSeconds(start, np.array(codes, dtype=np.int8))
