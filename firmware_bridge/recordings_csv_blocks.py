"""The CSV reader's fast path: the file cut into blocks of whole lines, each parsed by a C parser on a
worker thread while the classifier works on the blocks before it.

Why threads: pyarrow's parse of a week of rows costs about 8 s of CPU and holds no GIL, the classifier
about 1.5 s; on one thread they run one after the other, on two cores they overlap. Each worker parses
one whole block single-threaded (pyarrow's own threads on a 2-MB block cost the same CPU and only
halve the parse, not the classifier), so two workers on two cores keep both busy, and a Raspberry Pi's
four cores get four. Blocks are parsed ahead at most ``workers + 1`` deep (bounded memory), and come
back in file order.

Everything that depends on the blocks before (time order across blocks, line numbers, the samples
per second, the unit) stays with the caller, which takes the blocks in order: a worker only says
"this block is certainly fine on its own" or "look closer" (None), and the caller's precise pass names
the line, so a bad row is named by file and line whichever thread parsed its block.
"""

from __future__ import annotations

import io
import itertools
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from sitless.firmware_bridge.recordings_checks import MAX_LINE_BYTES, block_looks_fine, quote
from sitless.firmware_bridge.recordings_timestamps import _fast_iso_times

COLUMNS = ("timestamp", "x", "y", "z")

#: Bytes read per block (then cut at the last line end). 2 MB: as fast as 8 MB blocks here and less
#: peak memory (pyarrow's allocator keeps what a block used, per thread). Also the longest line that
#: can be read: more than ``MAX_LINE_BYTES`` is refused anyway.
BLOCK_BYTES = 2 << 20

#: Parsing threads: one per core, at most four (a Raspberry Pi 4 has four; more would only add memory).
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))

Parsed = tuple[np.ndarray, np.ndarray]  # t (float64 epoch seconds), xyz (float32, N x 3)


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines of the file (``data``), or, when ``data`` is None, one overlong line that was skipped
    (``overlong`` quotes its start)."""

    data: memoryview | None
    at_eof: bool
    overlong: str = ""


class FastBlockParser:
    """``parse(block)``: (t, xyz) of a block of whole lines when it is certainly good on its own (every
    line a row, no empty line, no null, times non-decreasing and between 2000 and 2100, accelerations
    finite), else None. Safe to call from several threads at once (no state changes after init)."""

    def __init__(self, arrow=None) -> None:
        """``arrow``: (pyarrow, pyarrow.csv), or None for numpy's parser."""
        self.arrow = arrow
        if arrow is None:
            return
        pa, csv = arrow
        # Every line must be a row (ignore_empty_lines=False: an empty line fails), so the caller's line
        # numbers follow from the row count without counting line ends.
        self._read = csv.ReadOptions(
            column_names=COLUMNS, block_size=BLOCK_BYTES + MAX_LINE_BYTES, use_threads=False
        )
        self._parse = csv.ParseOptions(ignore_empty_lines=False)
        axes = {"x": pa.float64(), "y": pa.float64(), "z": pa.float64()}
        # Arrow's own ISO-8601 parser: "Z" and "+HH:MM"/"-HH:MM" offsets to UTC microseconds; a time with
        # no zone, or more than 6 decimals, fails the block (then the precise pass decides).
        # No null values: an empty field or "NA" fails the conversion (the precise pass names it, as it
        # named a null before), "nan" becomes NaN (the finiteness check fails the block); 3-6 % less CPU
        # than checking every field against arrow's list of null spellings.
        self._convert = {
            iso: csv.ConvertOptions(
                column_types={"timestamp": pa.timestamp("us", tz="UTC") if iso else pa.float64(), **axes},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
            for iso in (False, True)
        }

    def __call__(self, block: Block) -> Parsed | None:
        data = block.data
        if data is None or not len(data):
            return None
        first = bytes(data[:64]).split(b",", 1)[0]
        iso = b"T" in first or b":" in first or b"-" in first[1:]
        parsed = self._arrow(data, iso) if self.arrow else self._numpy(bytes(data), iso)
        if parsed is None or not block_looks_fine(parsed[0], parsed[1], -np.inf):
            return None
        return parsed

    def _arrow(self, data: memoryview, iso: bool) -> Parsed | None:
        pa, csv = self.arrow
        try:
            table = csv.read_csv(
                pa.py_buffer(data),
                read_options=self._read,
                parse_options=self._parse,
                convert_options=self._convert[iso],
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if any(column.null_count for column in table.columns):
            return None
        rows = table.num_rows
        t = np.empty(rows, np.float64)
        # ISO: one correctly rounded division of arrow's UTC microseconds: exact to the microsecond.
        _fill(t, table.column(0), np.int64 if iso else np.float64, 1e6 if iso else None)
        xyz = np.empty((rows, 3), np.float32)
        for axis in range(3):
            _fill(xyz[:, axis], table.column(axis + 1))
        return t, xyz

    @staticmethod
    def _numpy(data: bytes, iso: bool) -> Parsed | None:
        """numpy's text parser (no pyarrow wheel, e.g. 32-bit ARM): about ten times slower, same samples."""
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        if b"\n\n" in data or data.startswith(b"\n"):
            return None  # an empty line: numpy would skip it, and the line numbers would drift
        try:
            text = data.decode("ascii")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if text.count(",") != 3 * lines:
                    return None
                if iso:
                    t = _fast_iso_times(text)
                    axes = np.loadtxt(
                        io.StringIO(text),
                        delimiter=",",
                        dtype=np.float64,
                        comments=None,
                        ndmin=2,
                        usecols=(1, 2, 3),
                    )
                else:
                    table = np.loadtxt(
                        io.StringIO(text), delimiter=",", dtype=np.float64, comments=None, ndmin=2
                    )
                    t, axes = table[:, 0], table[:, 1:]
        except (ValueError, UnicodeDecodeError):
            return None
        if t is None or axes.shape != (lines, 3) or len(t) != lines:
            return None
        return t, axes.astype(np.float32)


def _fill(out: np.ndarray, column, source=np.float64, divisor: float | None = None) -> None:
    """``out[:] = column`` (or ``column / divisor``) for a pyarrow column without nulls, straight from its
    data buffers as ``source`` values, converted to ``out``'s dtype (pyarrow's own ``to_numpy`` imports
    pandas when it is installed: 50 MB and 0.3 s more for every CSV read)."""
    position = 0
    for chunk in column.chunks:
        size = len(chunk)
        values = np.frombuffer(chunk.buffers()[1], source, count=size, offset=chunk.offset * 8)
        if divisor is None:
            out[position : position + size] = values
        else:
            np.divide(values, divisor, out=out[position : position + size])
        position += size


def read_blocks(handle, block_bytes: int, ring: int) -> Iterator[Block]:
    """The rest of ``handle`` as blocks of whole lines, about ``block_bytes`` each, read straight into
    ``ring`` buffers that are reused in turn: a block's view is valid until ``ring - 1`` more blocks
    have been taken, so the caller keeps fewer than that in flight. Fresh 2-MB ``bytes`` for every
    read, and joining each with the previous block's cut line, cost 0.8-1.0 s of CPU a week here
    (two copies and the page faults of new memory); this is one copy, from the page cache.

    A line longer than ``MAX_LINE_BYTES`` with no line end in a whole block comes as a ``Block`` without
    data (the caller names it by its line) and is skipped without being kept."""
    # The carried piece of a line is shorter than a block (it follows the block's last line end) or
    # than MAX_LINE_BYTES (a piece with no line end yet), so a buffer holds it and a block's read.
    capacity = block_bytes + max(block_bytes, MAX_LINE_BYTES)
    buffers = [bytearray(capacity) for _ in range(max(2, ring))]  # pages are touched only when used
    carry = memoryview(b"")
    for turn in itertools.count():
        buffer = buffers[turn % len(buffers)]
        view = memoryview(buffer)
        kept = len(carry)
        view[:kept] = carry
        end = kept + handle.readinto(view[kept : kept + block_bytes])
        if end == kept:
            if kept:
                yield Block(view[:kept], True)
            return
        cut = buffer.rfind(b"\n", 0, end) + 1
        if cut == 0 and end <= MAX_LINE_BYTES:
            carry = view[:end]  # a short piece of a line (the file's cut last row, or tiny blocks): read on
            continue
        if cut == 0:
            yield Block(None, False, quote(view[:end]))
            carry = memoryview(_skip_past_line_end(handle, bytes(view[:end]), block_bytes))
            continue
        carry = view[cut:end]
        yield Block(view[:cut], False)


def _skip_past_line_end(handle, data: bytes, block_bytes: int) -> bytes:
    """Read on (in blocks, keeping nothing) to the end of an overlong line; return what follows it."""
    while True:
        end = data.find(b"\n")
        if end >= 0:
            return data[end + 1 :]
        data = handle.read(block_bytes)
        if not data:
            return b""


Item = TypeVar("Item")
Result = TypeVar("Result")


def parsed_ahead(
    items: Iterator[Item], parse: Callable[[Item], Result], workers: int | None = None
) -> Iterator[tuple[Item, Result]]:
    """``(item, parse(item))`` in the order of ``items``, ``parse`` running on ``workers`` threads at most
    ``workers + 1`` items ahead of the consumer. Closing the iterator (an error, a stop) cancels what is
    not started and waits for what is (each at most one block). ``workers``: ``WORKERS`` unless given."""
    workers = WORKERS if workers is None else workers
    if workers <= 1:
        for item in items:
            yield item, parse(item)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="sitless-csv")
    pending: deque = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(parse, item)))
            if len(pending) > workers:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
