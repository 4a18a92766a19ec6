"""Per-second rows of a sample stream, exact and therefore independent of how the stream was cut.

Why exact: the classifier must give identical labels whether a recording arrives as one array or as BLE
packets of 1 to 40 samples. Floating-point sums depend on the order and grouping of their terms, and a
threshold decision can flip on the last bit. We therefore quantise every acceleration to a multiple of
2**-12 g (0.24 mg, below any MEMS thigh sensor's noise) after clipping to +-8 g, so a value is an integer
k with |k| <= 2**15; sums of k and of k**2 over a second are integers far below 2**53 and float64 adds
them exactly, in any order. Maxima are exact in any order anyway.

Only whole seconds are summed: samples of the second that is still open are carried to the next call.
Speed matters (a week at 50 Hz is 30 million samples): one pass to quantise, one to square, and
``np.add.reduceat`` over second boundaries found by binary search in the (sorted) timestamps, in blocks
of whole seconds small enough to stay in the processor's cache from one pass to the next.
"""

from __future__ import annotations

import math

import numpy as np

from sitless.analysis.samples import SampleChunk

#: Quantisation: accelerations in units of 2**-12 g.
QUANTUM = 4096.0
#: Accelerations are clipped to +-8 g (the common thigh-sensor range) so quantised values fit 16 bits.
CLIP_G = 8.0

#: Columns of a per-second row: sample count, sums of x, y, z and of their squares (in g and g^2), the
#: largest |a| (g) in the second, and the sum of |a| (g; each |a| rounded to the quantum, so the sum is
#: exact too). |a|^2 summed is SXX + SYY + SZZ: with SM it gives the SD of the magnitude, which tells a
#: swinging thigh (walking: the direction changes) from one loaded along its length (pedalling).
N, SX, SY, SZ, SXX, SYY, SZZ, MAXM, SM = range(9)
N_COLUMNS = 9


#: Samples summed per block: the block's work arrays (about 1.3 MB) stay in the core's cache between the
#: passes, where a chunk's would spill to memory after each one. Blocks end at second boundaries.
BLOCK_SAMPLES = 1 << 15
BLOCK_SLACK = BLOCK_SAMPLES // 8


def second_rows(
    t: np.ndarray, xyz: np.ndarray, first: int, stop: int, scratch: Scratch | None = None
) -> np.ndarray:
    """Rows for seconds ``first .. stop-1`` from samples inside that range with non-decreasing seconds."""
    rows = np.zeros((stop - first, N_COLUMNS))
    if not len(t):
        return rows
    if stop - first == 1:
        rows[0] = _one_second_row(xyz)
        return rows
    scratch = scratch if scratch is not None else Scratch()
    begin, total = 0, len(t)
    while begin < total:
        end = _block_end(t, begin)
        _add_block_rows(rows, first, t[begin:end], xyz[begin:end], scratch)
        begin = end
    return rows


def _block_end(t: np.ndarray, begin: int) -> int:
    """End of the block from ``begin``: about ``BLOCK_SAMPLES`` later, at the first sample of a second.
    A block takes up to ``BLOCK_SLACK`` more rather than leave a sliver behind (each block has a fixed
    cost of about 0.1 ms: a chunk of 2**18 samples makes 8 blocks, not 8 and a sliver)."""
    if len(t) - begin <= BLOCK_SAMPLES + BLOCK_SLACK:
        return len(t)
    end = begin + BLOCK_SAMPLES
    # Seconds are non-decreasing, so a whole second partitions the samples (the order within it is free).
    cut = begin + int(np.searchsorted(t[begin:end], np.floor(t[end])))
    if cut > begin:
        return cut
    # One second longer than a block: it is its own block.
    return begin + int(np.searchsorted(t[begin:], np.floor(t[begin]) + 1.0))


def _add_block_rows(rows: np.ndarray, first: int, t: np.ndarray, xyz: np.ndarray, scratch: Scratch) -> None:
    """Fill the rows of the seconds in one block of whole seconds (searched within the block: cached)."""
    low, high = int(np.floor(t[0])), int(np.floor(t[-1]))
    edges = np.searchsorted(t, np.arange(low, high + 2, dtype=np.float64))
    counts = np.diff(edges)
    if counts.all():  # the usual block: every second has samples, so its rows are one slice
        _fill_rows(rows[low - first : high + 1 - first], edges[:-1], counts, xyz, scratch)
        return
    present = np.flatnonzero(counts)
    at = present + (low - first)
    filled = np.zeros((len(present), N_COLUMNS))
    _fill_rows(filled, edges[present], counts[present], xyz, scratch)
    rows[at] = filled


def _fill_rows(
    rows: np.ndarray, starts: np.ndarray, counts: np.ndarray, xyz: np.ndarray, scratch: Scratch
) -> None:
    """Rows of consecutive seconds with samples, the k-th starting at sample ``starts[k]``; each result
    is divided into its slice of ``rows`` in place (no temporary rows, no scattered writes)."""
    q, squares = _quantised_axes(xyz, scratch)
    # float32 adds integers below 2**24 exactly: |k| <= 2**15 times at most 256 samples in a second.
    accumulate = np.float32 if counts.max() <= 256 else np.float64
    rows[:, N] = counts
    np.divide(np.add.reduceat(q, starts, axis=1, dtype=accumulate).T, QUANTUM, out=rows[:, SX : SZ + 1])
    np.divide(np.add.reduceat(squares, starts, axis=1).T, QUANTUM * QUANTUM, out=rows[:, SXX : SZZ + 1])
    magnitude = squares[0]  # the squares are summed: their space takes |a|
    magnitude += squares[1]
    magnitude += squares[2]
    np.sqrt(magnitude, out=magnitude)
    np.divide(np.maximum.reduceat(magnitude, starts), QUANTUM, out=rows[:, MAXM])
    np.rint(magnitude, out=magnitude)  # integers below 2**16: exact sums in any order
    np.divide(np.add.reduceat(magnitude, starts), QUANTUM, out=rows[:, SM])


class Scratch:
    """Work arrays reused from block to block: fresh arrays per block cost allocations and page faults."""

    def __init__(self) -> None:
        self.q = np.empty((3, BLOCK_SAMPLES + BLOCK_SLACK), np.float32)
        self.squares = np.empty((3, BLOCK_SAMPLES + BLOCK_SLACK), np.float64)

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self.q.shape[1] < n:  # a second longer than a block (rare): fresh arrays, not kept
            return np.empty((3, n), np.float32), np.empty((3, n), np.float64)
        return self.q[:, :n], self.squares[:, :n]


def _quantised_axes(xyz: np.ndarray, scratch: Scratch | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quantised values (3 x N float32, axis-major so each axis is contiguous) and their squares."""
    limit = CLIP_G * QUANTUM
    if scratch is None:
        q, squares = np.empty((3, len(xyz)), np.float32), np.empty((3, len(xyz)), np.float64)
    else:
        q, squares = scratch.arrays(len(xyz))
    np.multiply(xyz.T, np.float32(QUANTUM), out=q)
    np.clip(q, -limit, limit, out=q)
    np.rint(q, out=q)
    np.square(q, out=squares, dtype=np.float64)
    return q, squares


#: What the sums of a one-second row are divided by (SX..SZ, SXX..SZZ), in column order.
_ROW_SCALE = np.array([QUANTUM] * 3 + [QUANTUM * QUANTUM] * 3)


def _one_second_row(xyz: np.ndarray) -> np.ndarray:
    """The live path's usual case (once a second), in as few numpy calls as it takes: the quantised
    values and their squares in one float64 block, summed in one call. Every value is an integer and
    every sum is exact in float64 (and in the float32 the batch path may use), so the result has the
    same bits as ``np.add.reduceat`` gives."""
    block = np.empty((6, len(xyz)))
    q = block[:3]
    np.multiply(xyz.T, np.float32(QUANTUM), out=q, dtype=np.float32)  # exact: a power of two
    np.clip(q, -CLIP_G * QUANTUM, CLIP_G * QUANTUM, out=q)
    np.rint(q, out=q)
    np.square(q, out=block[3:])
    row = np.empty(N_COLUMNS)
    row[N] = len(xyz)
    np.divide(block.sum(axis=1), _ROW_SCALE, out=row[SX : SZZ + 1])
    magnitude = np.sqrt(block[3:].sum(axis=0))
    row[MAXM] = magnitude.max() / QUANTUM
    row[SM] = np.rint(magnitude, out=magnitude).sum() / QUANTUM
    return row


_NO_ROWS = np.zeros((0, N_COLUMNS))
_NO_ROWS.flags.writeable = False


class SecondAccumulator:
    """Turns a stream of samples into per-second rows, one per whole UTC second.

    ``push`` returns ``(first_second, rows)`` for the seconds that became complete (a sample of a later
    second arrived); seconds without samples inside that range get a row of zeros (n = 0). A sample that
    goes back in time to an earlier second than one already seen is dropped (BLE reordering is rare;
    the count is kept in ``dropped``), which a whole-array call does identically; so is a sample with a
    non-finite time or acceleration. Packets inside the open second are checked when that second is
    completed (or at ``flush``), so ``dropped`` may lag the newest packet by up to a second.
    """

    def __init__(self) -> None:
        self._open_second: int | None = None  # second of the newest sample (not complete yet)
        self._pending_t: list[np.ndarray] = []  # samples of the open second
        self._pending_xyz: list[np.ndarray] = []
        self._unchecked_t: list[np.ndarray] = []  # whole packets inside the open second, not yet checked
        self._unchecked_xyz: list[np.ndarray] = []
        self.dropped = 0
        self._scratch = Scratch()

    def push(self, chunk: SampleChunk) -> tuple[int, np.ndarray]:
        if not len(chunk):
            return (self._open_second or 0), _NO_ROWS
        t, xyz = chunk.t, chunk.xyz
        open_second = self._open_second
        if open_second is not None and t[0] >= open_second and t[-1] < open_second + 1:
            # The usual BLE packet: it begins and ends inside the open second. Nothing can be complete
            # yet, so it is kept unchecked (a NaN fails the test above) and checked with the packet that
            # completes the second: one check per second instead of one per packet; the samples, their
            # order and hence the result are the same.
            self._unchecked_t.append(t.copy())
            self._unchecked_xyz.append(xyz.copy())
            return open_second, _NO_ROWS
        checked = chunk.checked
        if self._unchecked_t:
            t = np.concatenate([*self._unchecked_t, t])
            xyz = np.concatenate([*self._unchecked_xyz, xyz])
            self._unchecked_t, self._unchecked_xyz = [], []
            checked = False
        return self._push_checked(t, xyz, checked)

    def _push_checked(self, t: np.ndarray, xyz: np.ndarray, checked: bool = False) -> tuple[int, np.ndarray]:
        """``checked``: the reader has already found the samples finite and in time order (one pass
        over a recording, not two: ``SampleChunk.checked``)."""
        empty = _NO_ROWS
        if not checked and not (math.isfinite(t.sum()) and math.isfinite(xyz.sum())):  # cheap; exact below
            # A NaN would poison every running sum downstream; such samples are dropped and counted.
            finite = np.isfinite(t) & np.isfinite(xyz).all(axis=1)
            self.dropped += int((~finite).sum())
            t, xyz = t[finite], xyz[finite]
            if not len(t):
                return (self._open_second or 0), empty
        open_second = self._open_second
        ordered = checked or _sorted(t)
        low, high = (t[0], t[-1]) if ordered else (t.min(), t.max())
        if open_second is not None and low >= open_second and high < open_second + 1:
            self._pending_t.append(t.copy())  # the common BLE case: the packet stays in the open second
            self._pending_xyz.append(xyz.copy())
            return open_second, empty
        if not (ordered and (open_second is None or math.floor(t[0]) >= open_second)):
            t, xyz = self._drop_backwards(t, xyz)
            if not len(t):
                return (self._open_second or 0), empty
        if self._open_second is None:
            self._open_second = math.floor(t[0])
        newest = math.floor(t[-1])
        if newest == self._open_second:
            self._pending_t.append(t.copy())
            self._pending_xyz.append(xyz.copy())
            return newest, empty
        first = self._open_second
        split = int(np.searchsorted(t, float(newest)))
        # The open second (carried samples plus this chunk's first ones) is summed on its own so a large
        # chunk is never copied; rows are per second, so the split changes nothing.
        head = int(np.searchsorted(t[:split], float(first + 1)))
        open_xyz = np.concatenate([*self._pending_xyz, xyz[:head]])
        rows = np.empty((newest - first, N_COLUMNS))
        rows[0] = _one_second_row(open_xyz) if len(open_xyz) else 0.0
        if newest > first + 1:  # live packets complete one second: nothing else to sum
            rows[1:] = second_rows(t[head:split], xyz[head:split], first + 1, newest, self._scratch)
        # Copies: the caller may reuse its buffers for the next chunk.
        self._pending_t, self._pending_xyz = [t[split:].copy()], [xyz[split:].copy()]
        self._open_second = newest
        return first, rows

    def flush(self) -> tuple[int, np.ndarray]:
        """End of data: the open second is complete."""
        if self._open_second is None:
            return 0, np.zeros((0, N_COLUMNS))
        if self._unchecked_t:  # check them now (an unsorted packet may even complete seconds)
            started = self._open_second
            t, xyz = np.concatenate(self._unchecked_t), np.concatenate(self._unchecked_xyz)
            self._unchecked_t, self._unchecked_xyz = [], []
            _, completed = self._push_checked(t, xyz)
            _, last = self.flush()
            return started, np.concatenate([completed, last])
        first = self._open_second
        if not self._pending_t:
            return first, np.zeros((0, N_COLUMNS))
        t, xyz = np.concatenate(self._pending_t), np.concatenate(self._pending_xyz)
        self._pending_t, self._pending_xyz = [], []
        self._open_second = first + 1
        return first, second_rows(t, xyz, first, first + 1) if len(t) else np.zeros((0, N_COLUMNS))

    def _drop_backwards(self, t: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keep samples whose second is not earlier than any second seen before them."""
        seconds = np.floor(t)
        floor = seconds if self._open_second is None else np.maximum(seconds, self._open_second)
        keep = seconds >= np.maximum.accumulate(floor)
        self.dropped += int((~keep).sum())
        # Kept samples have non-decreasing seconds; order inside a second does not matter (exact sums),
        # and binary search for second boundaries only needs each boundary to partition the array.
        return t[keep], xyz[keep]


def _sorted(t: np.ndarray) -> bool:
    return bool(len(t) < 2 or (t[1:] >= t[:-1]).all())
