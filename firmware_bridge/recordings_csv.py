"""CSV recordings (``timestamp,x,y,z``): streamed in byte blocks through a C parser, and a fixed-width
byte formatter for writing.

Reading: the file is read in blocks of about 2 MB cut at a line end (a month's file never needs a
month's memory); each block is parsed by pyarrow's CSV reader (C++; ISO-8601 with ``Z`` or an offset
parsed by arrow itself) on a worker thread, while this thread classifies the blocks before it, and
checked there in one cheap pass (``block_looks_fine``): ``recordings_csv_blocks``. Blocks come back in
file order; only a block that fails anything is parsed again here line by line in Python, to name the
line and the reason: the promise that a bad row is named by file and line costs nothing on good
files. Without pyarrow (no wheel for 32-bit ARM) numpy's text parser takes its place, about ten times
slower, same results.

Lines are bounded: a "line" longer than ``MAX_LINE_BYTES`` (a 2 GB file of zeros, a binary file named
.csv) is refused without being read whole, and messages quote at most a few dozen characters.

Writing: rows are assembled as a byte matrix (digits computed with integer maths) and placeholder bytes
deleted, about ten times faster than ``np.savetxt``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge import recordings_csv_blocks as blocks
from sitless.firmware_bridge.recordings_checks import (
    MAX_LINE_BYTES,
    MAX_SAMPLES_PER_SECOND,
    SamplesPerSecondGuard,
    quote,
)
from sitless.firmware_bridge.recordings_csv_blocks import COLUMNS, Block, Parsed
from sitless.firmware_bridge.recordings_timestamps import (
    RecordingError,
    _TimestampParser,
    handle_problem,
    implausible_time,
)
from sitless.firmware_bridge.units import UnitGuess, recognise_unit

HEADER = "timestamp,x,y,z"

#: Bytes read per block (then cut at the last line end): see ``recordings_csv_blocks.BLOCK_BYTES``.
BLOCK_BYTES = blocks.BLOCK_BYTES

logger = logging.getLogger(__name__)


def _arrow_parser():
    """pyarrow and its CSV module, or None when it is not installed (no wheel for 32-bit ARM): numpy's
    parser takes its place. Imported only for CSV input."""
    try:
        import pyarrow
        import pyarrow.csv
    except ImportError:
        return None
    return pyarrow, pyarrow.csv


class _CsvBlockReader:
    def __init__(
        self, path: Path, on_error: str, problems: list[RecordingError] | None, unit: UnitGuess | None
    ) -> None:
        self.path = path
        self.on_error = on_error
        self.problems = problems
        self.last_t = -math.inf
        self.last_line = 0
        self.parse_time = _TimestampParser()
        self.per_second = SamplesPerSecondGuard()
        self.next_line = 2  # the line number of the next block's first line (the header is line 1)
        self.unit = unit  # None: recognised from the first block
        if unit is not None and unit.message:
            logger.info("%s: %s", path, unit.message)

    def problem(self, line: int, reason: str) -> None:
        handle_problem(RecordingError(self.path, line, reason), self.on_error, self.problems)

    def block(self, block: Block, parsed: Parsed | None) -> SampleChunk:
        """One block of whole lines, in file order, with the worker's fast parse (None: look closer):
        the precise pass when needed, then the checks that depend on the blocks before."""
        first_line = self.next_line
        if block.data is None:
            self.problem(
                first_line, f"line longer than {MAX_LINE_BYTES:,} bytes is no recording row: {block.overlong}"
            )
            self.next_line += 1
            return SampleChunk.empty()
        if parsed is not None and (not len(parsed[0]) or parsed[0][0] >= self.last_t):
            t, xyz, line_of = parsed[0], parsed[1], None
            self.next_line += len(t)
        else:
            pieces = bytes(block.data).split(b"\n")
            lines = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
            t, xyz, line_of = self.slow(lines, first_line, block.at_eof)
            self.next_line += len(lines)
        over = self.per_second.excess(t)
        if over is not None:
            index = int(over[0])
            line = first_line + index if line_of is None else line_of[index]
            self.problem(
                line,
                f"more than {MAX_SAMPLES_PER_SECOND} samples within the second at t={np.floor(t[index]):.0f}; "
                "no supported sensor samples that fast: are the timestamps per sample? (the excess rows "
                "were dropped)",
            )
            keep = np.ones(len(t), bool)
            keep[over] = False
            t, xyz = t[keep], xyz[keep]
        if not len(t):
            return SampleChunk.empty()
        self.last_t = float(t[-1])
        if self.unit is None:
            self.unit = recognise_unit(xyz)
            if self.unit.message:
                logger.warning("%s: %s", self.path, self.unit.message)
        return SampleChunk(t, self.unit.to_g(xyz))

    def slow(
        self, lines: list[bytes], first_line: int, at_eof: bool
    ) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Line by line: every problem named by its line; returns the good rows and their line numbers."""
        ts: list[float] = []
        rows: list[tuple[float, float, float]] = []
        line_of: list[int] = []
        last_index = len(lines) - 1
        last_t = self.last_t
        for i, raw in enumerate(lines):
            line_no = first_line + i
            truncated = at_eof and i == last_index and not raw.endswith(b"\n")
            try:
                t, xyz = self._parse_line(raw)
            except ValueError as error:
                reason = str(error)
                if truncated:
                    reason = f"truncated last line (the file ends mid-row?): {reason}"
                self.problem(line_no, reason)
                continue
            if t is None:
                continue  # an empty line
            if t < last_t:
                self.problem(
                    line_no,
                    f"timestamp {t:.6f} goes backwards (the previous row, line {self.last_line}, was "
                    f"{last_t:.6f}); recordings must be in time order",
                )
                continue
            last_t, self.last_line = t, line_no
            ts.append(t)
            rows.append(xyz)
            line_of.append(line_no)
        return np.array(ts, np.float64), np.array(rows, dtype=np.float32).reshape(-1, 3), line_of

    def _parse_line(self, raw: bytes) -> tuple[float | None, tuple[float, float, float]]:
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError(f"line of {len(raw):,} bytes is no recording row: {quote(raw)}")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"not UTF-8 text: {quote(raw)}") from None
        line = line.rstrip("\r\n")
        if not line:
            return None, (0.0, 0.0, 0.0)
        fields = line.split(",")
        if len(fields) != 4:
            raise ValueError(f"expected 4 columns (timestamp,x,y,z), found {len(fields)}: {quote(line)}")
        # A quoted field ("0.5") is CSV too: the fast parse reads it, so this pass does as well.
        fields = [
            field[1:-1] if len(field) > 1 and field[0] == field[-1] == '"' else field for field in fields
        ]
        t = self.parse_time(fields[0])
        if (why := implausible_time(t)) is not None:
            raise ValueError(why)
        values = []
        for name, text in zip(COLUMNS[1:], fields[1:], strict=True):
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name} is {quote(text.strip())}, not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{name} is {quote(text.strip())}, not a finite number")
            values.append(value)
        return t, (values[0], values[1], values[2])


def _check_header(path: Path, first: bytes) -> None:
    if not first:
        raise RecordingError(path, 1, f"empty file; expected the header {HEADER!r}")
    if len(first) > MAX_LINE_BYTES and not first.endswith(b"\n"):
        raise RecordingError(
            path,
            1,
            f"the first line is longer than {MAX_LINE_BYTES} bytes: {quote(first)}; expected {HEADER!r}",
        )
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if text.replace(" ", "").lower() != HEADER:
        raise RecordingError(path, 1, f"header is {quote(text)}; expected exactly {HEADER!r}")


def iter_csv(
    path: Path,
    chunk_samples: int,
    on_error: str,
    problems: list[RecordingError] | None,
    unit: UnitGuess | None = None,
) -> Iterator[SampleChunk]:
    reader = _CsvBlockReader(path, on_error, problems, unit)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise RecordingError(path, None, f"cannot read: {error.strerror}") from None
    with handle:
        _check_header(path, handle.readline(MAX_LINE_BYTES + 1))
        parse = blocks.FastBlockParser(_arrow_parser())
        workers = blocks.WORKERS
        # In flight: ``workers + 1`` blocks parsed ahead and the one being classified; one more spare.
        lines = blocks.read_blocks(handle, BLOCK_BYTES, ring=workers + 3)
        ahead = blocks.parsed_ahead(lines, parse, workers)
        try:
            for block, parsed in ahead:
                chunk = reader.block(block, parsed)
                for piece in chunk.split(chunk_samples) if len(chunk) > chunk_samples else [chunk]:
                    if len(piece):
                        yield piece
        finally:
            ahead.close()  # stops the workers before the file closes


_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_SKIP = ord("#")


def _digits(values: np.ndarray, width: int, pad_leading: bool) -> np.ndarray:
    """(N, width) ASCII digits of non-negative ints; leading zeros become '#' (deleted later) if asked."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for column in range(width - 1, -1, -1):
        out[:, column] = _DIGITS[rest % 10]
        rest //= 10
    if pad_leading:
        for column in range(width - 1):
            out[:, column] = np.where(values < 10 ** (width - 1 - column), _SKIP, out[:, column])
    return out


def _format_axes(xyz: np.ndarray) -> np.ndarray:
    """(N, 3 * 9) bytes ',<sign><d>.<5 decimals>' per axis; values must be within +-9.99999."""
    parts = []
    for axis in range(3):
        v = xyz[:, axis].astype(np.float64)
        q = np.rint(np.abs(v) * 1e5).astype(np.int64)
        sign = np.where((v < 0) & (q > 0), ord("-"), _SKIP).astype(np.uint8)
        parts += [
            np.full((len(v), 1), ord(","), np.uint8),
            sign[:, None],
            _digits(q // 100000, 1, False),
            np.full((len(v), 1), ord("."), np.uint8),
            _digits(q % 100000, 5, False),
        ]
    return np.hstack(parts)


def format_csv_rows(chunk: SampleChunk, iso: bool = False) -> bytes:
    """CSV rows (no header) for a chunk: epoch seconds with 6 decimals, or ISO-8601 UTC with ms."""
    if not len(chunk):
        return b""
    t, xyz = chunk.t, chunk.xyz
    fast = np.isfinite(t).all() and t.min() >= 0 and t.max() < 1e10 and (np.abs(xyz) < 9.999995).all()
    if not fast:
        stamp = (
            (
                lambda v: (
                    datetime.fromtimestamp(v, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                )
            )
            if iso
            else (lambda v: f"{v:.6f}")
        )
        return "".join(
            f"{stamp(float(a))},{b:.6f},{c:.6f},{d:.6f}\n"
            for a, (b, c, d) in zip(t, xyz.tolist(), strict=True)
        ).encode()
    if iso:
        millis = np.rint(t * 1e3).astype(np.int64).astype("datetime64[ms]")
        text = np.char.add(np.datetime_as_string(millis, unit="ms"), "Z").astype("S24")
        stamp = text.view(np.uint8).reshape(len(t), 24)
    else:
        micros = np.rint(t * 1e6).astype(np.int64)
        stamp = np.hstack(
            [
                _digits(micros // 1_000_000, 10, True),
                np.full((len(t), 1), ord("."), np.uint8),
                _digits(micros % 1_000_000, 6, False),
            ]
        )
    table = np.hstack([stamp, _format_axes(xyz), np.full((len(t), 1), ord("\n"), np.uint8)])
    return table.tobytes().translate(None, b"#")
