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


#: Samples summed per block: the block's work arrays (about 2.6 MB) stay in the cache between the passes,
#: where a chunk's would spill to memory after each one. Blocks end at second boundaries. 2**16 rather
#: than 2**15: half the blocks, half the hand-overs of the GIL between summing and labelling threads
#: (a week's whole command 0.05 s faster on these 2 cores; alone, either size sums in the same time).
BLOCK_SAMPLES = 1 << 16
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


def _one_second_sums(xyz: np.ndarray) -> list[float] | None:
    """``_one_second_row`` for the live path's second, as a list, in fewer numpy calls: no clipping,
    which changes nothing when the largest quantised |a| is at most 8 g (no component is larger than
    |a|: the root of an exact sum of integer squares is at least each exact root), and that peak is
    computed anyway. None for a second above 8 g or with a non-finite value (the peak is then NaN or
    inf), which the careful path takes."""
    n = len(xyz)
    block = np.empty((6, n))  # the quantised axes, then their squares: one sum for all six
    q = np.multiply(xyz.T, QUANTUM, out=block[:3])  # exact: a power of two
    np.rint(q, out=q)
    squares = np.multiply(q, q, out=block[3:])
    magnitude = squares[0] + squares[1]
    magnitude += squares[2]
    np.sqrt(magnitude, out=magnitude)
    peak = float(np.maximum.reduce(magnitude))
    if not peak <= CLIP_G * QUANTUM:
        return None
    sx, sy, sz, sxx, syy, szz = np.add.reduce(block, axis=1).tolist()
    total_magnitude = float(np.add.reduce(np.rint(magnitude, out=magnitude)))
    square = QUANTUM * QUANTUM
    return [
        float(n), sx / QUANTUM, sy / QUANTUM, sz / QUANTUM,
        sxx / square, syy / square, szz / square, peak / QUANTUM, total_magnitude / QUANTUM,
    ]  # fmt: skip


_NO_ROWS = np.zeros((0, N_COLUMNS))
_NO_ROWS.flags.writeable = False
#: Packets of up to this many samples take the live path (BLE notifications carry 1 to 40).
LIVE_PACKET_MAX = 256


class SecondAccumulator:
    """Turns a stream of samples into per-second rows, one per whole UTC second.

    ``push`` returns ``(first_second, rows)`` for the seconds that became complete (a sample of a later
    second arrived); seconds without samples inside that range get a row of zeros (n = 0). A sample that
    goes back in time to an earlier second than one already seen is dropped (BLE reordering is rare;
    the count is kept in ``dropped``), which a whole-array call does identically; so is a sample with a
    non-finite time or acceleration. Live packets are checked when their second is completed (or at
    ``flush``), so ``dropped`` may lag the newest packet by up to a second.

    The samples of the open second are held in one buffer that grows as needed; after the general path
    they are checked (finite, in order), after the live path perhaps not (``_held_checked``).
    """

    def __init__(self) -> None:
        self._open_second: int | None = None  # second of the newest sample (not complete yet)
        self._held_t = np.empty(1024)  # the open second's samples, not yet summed, in arrival order
        self._held_xyz = np.empty((1024, 3), np.float32)
        self._held = 0
        self._held_checked = True
        self.dropped = 0
        self._scratch = Scratch()

    def push(self, chunk: SampleChunk) -> tuple[int, np.ndarray]:
        n = len(chunk)
        if not n:
            return (self._open_second or 0), _NO_ROWS
        if n <= LIVE_PACKET_MAX and self._open_second is not None:
            pushed = self._push_live(chunk.t, chunk.xyz)
            if pushed is not None:
                return pushed
        if not self._held_checked:
            t, xyz = self._take_held()
            return self._push_checked(np.concatenate([t, chunk.t]), np.concatenate([xyz, chunk.xyz]))
        return self._push_checked(chunk.t, chunk.xyz, chunk.checked)

    def _push_live(self, t: np.ndarray, xyz: np.ndarray) -> tuple[int, np.ndarray] | None:
        """The usual BLE packet: it stays in the open second, or completes it (and only it). It is held
        unchecked; the second is summed when it completes, from the buffer, after one check of all that
        is held: times in order (which a NaN time fails) and a peak at most 8 g (which a NaN or infinite
        acceleration fails). One check per second instead of one per packet, no lists to join; the
        samples summed, and hence the rows, are the general path's. None: not taken (nothing held);
        a second that fails the check goes to the general path whole."""
        open_second, last = self._open_second, t[-1]
        if not (t[0] >= open_second and last < open_second + 2):
            return None
        held = self._held
        end = held + len(t)
        if end <= len(self._held_t):  # _hold, inline: this runs for every packet
            self._held_t[held:end] = t
            self._held_xyz[held:end] = xyz
            self._held = held = end
        else:
            self._hold(t, xyz)
            held = self._held
        self._held_checked = False
        if last < open_second + 1:
            return open_second, _NO_ROWS
        times = self._held_t[:held]
        if not (times[1:] >= times[:-1]).all():
            return self._push_checked(*self._take_held())
        split = int(times.searchsorted(open_second + 1))
        row = _one_second_sums(self._held_xyz[:split]) if split else [0.0] * N_COLUMNS
        if row is None:
            return self._push_checked(*self._take_held())
        rest = held - split  # the next second's first samples (times checked, values at its end)
        self._held_t[:rest] = self._held_t[split:held]
        self._held_xyz[:rest] = self._held_xyz[split:held]
        self._held = rest
        self._open_second = open_second + 1
        return open_second, np.array([row])

    def _hold(self, t: np.ndarray, xyz: np.ndarray) -> None:
        """Copy samples into the buffer (the caller may reuse its arrays for the next chunk)."""
        held, n = self._held, len(t)
        if held + n > len(self._held_t):
            size = max(2 * len(self._held_t), held + n)
            self._held_t = np.concatenate([self._held_t[:held], np.empty(size - held)])
            self._held_xyz = np.concatenate([self._held_xyz[:held], np.empty((size - held, 3), np.float32)])
        self._held_t[held : held + n] = t
        self._held_xyz[held : held + n] = xyz
        self._held = held + n

    def _take_held(self) -> tuple[np.ndarray, np.ndarray]:
        """The held samples (copies), to be checked by the general path: those already checked are
        in the open second and come first, so checking them again changes nothing."""
        held, self._held, self._held_checked = self._held, 0, True
        return self._held_t[:held].copy(), self._held_xyz[:held].copy()

    def _push_checked(self, t: np.ndarray, xyz: np.ndarray, checked: bool = False) -> tuple[int, np.ndarray]:
        """The general path; what is held is checked. ``checked``: the reader has already found the
        samples finite and in time order (one pass over a recording, not two: ``SampleChunk.checked``)."""
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
            self._hold(t, xyz)  # the packet stays in the open second
            return open_second, empty
        if not (ordered and (open_second is None or math.floor(t[0]) >= open_second)):
            t, xyz = self._drop_backwards(t, xyz)
            if not len(t):
                return (self._open_second or 0), empty
        if self._open_second is None:
            self._open_second = math.floor(t[0])
        newest = math.floor(t[-1])
        if newest == self._open_second:
            self._hold(t, xyz)
            return newest, empty
        first = self._open_second
        split = int(np.searchsorted(t, float(newest)))
        # The open second (held samples plus this chunk's first ones) is summed on its own so a large
        # chunk is never copied; rows are per second, so the split changes nothing.
        head = int(np.searchsorted(t[:split], float(first + 1)))
        open_xyz = np.concatenate([self._held_xyz[: self._held], xyz[:head]])
        rows = np.empty((newest - first, N_COLUMNS))
        rows[0] = _one_second_row(open_xyz) if len(open_xyz) else 0.0
        if newest > first + 1:  # live packets complete one second: nothing else to sum
            rows[1:] = second_rows(t[head:split], xyz[head:split], first + 1, newest, self._scratch)
        self._held = 0
        self._hold(t[split:], xyz[split:])
        self._open_second = newest
        return first, rows

    def flush(self) -> tuple[int, np.ndarray]:
        """End of data: the open second is complete."""
        if self._open_second is None:
            return 0, np.zeros((0, N_COLUMNS))
        if not self._held_checked:  # check them now (an unsorted packet may even complete seconds)
            started = self._open_second
            _, completed = self._push_checked(*self._take_held())
            _, last = self.flush()
            return started, np.concatenate([completed, last])
        first = self._open_second
        if not self._held:
            return first, np.zeros((0, N_COLUMNS))
        t, xyz = self._held_t[: self._held], self._held_xyz[: self._held]
        self._held = 0
        self._open_second = first + 1
        return first, second_rows(t, xyz, first, first + 1)

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
