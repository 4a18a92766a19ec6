"""Per-second rows of a sample stream, exact and therefore independent of how the stream was cut.

Why exact: the classifier must give identical labels whether a recording arrives as one array or as BLE
packets of 1 to 40 samples. Floating-point sums depend on the order and grouping of their terms, and a
threshold decision can flip on the last bit. We therefore quantise every acceleration to a multiple of
2**-12 g (0.24 mg, below any MEMS thigh sensor's noise) after clipping to +-8 g, so a value is an integer
k with |k| <= 2**15; sums of k and of k**2 over a second are integers far below 2**53 and float64 adds
them exactly, in any order. Maxima are exact in any order anyway.

Only whole seconds are summed: samples of the second that is still open are carried to the next call.
Speed matters (a week at 50 Hz is 30 million samples): one pass to quantise, one to square, and
``np.add.reduceat`` over second boundaries found by binary search in the (sorted) timestamps.
"""

from __future__ import annotations

import numpy as np

from analysis.samples import SampleChunk

#: Quantisation: accelerations in units of 2**-12 g.
QUANTUM = 4096.0
#: Accelerations are clipped to +-8 g (the common thigh-sensor range) so quantised values fit 16 bits.
CLIP_G = 8.0

#: Columns of a per-second row: sample count, sums of x, y, z and of their squares (in g and g^2), and
#: the largest |a| (g) in the second.
N, SX, SY, SZ, SXX, SYY, SZZ, MAXM = range(8)
N_COLUMNS = 8
#: Seconds with a total variance above this (SD 0.05 g) get their largest |a| computed.
PEAK_MIN_VARIANCE_G2 = 0.05**2


def second_rows(t: np.ndarray, xyz: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Rows for seconds ``first .. stop-1`` from samples inside that range with non-decreasing seconds."""
    rows = np.zeros((stop - first, N_COLUMNS))
    if not len(t):
        return rows
    if stop - first == 1:
        return _one_second_row(xyz)[None, :]
    edges = np.searchsorted(t, np.arange(first, stop + 1, dtype=np.float64))
    counts = np.diff(edges)
    present = np.flatnonzero(counts)
    starts = edges[present]
    limit = CLIP_G * QUANTUM
    q = np.multiply(xyz, np.float32(QUANTUM), dtype=np.float32)
    np.clip(q, -limit, limit, out=q)
    np.rint(q, out=q)
    squares = np.square(q, dtype=np.float64)
    n = counts[present]
    # float32 adds integers below 2**24 exactly: |k| <= 2**15 times at most 256 samples in a second.
    accumulate = np.float32 if n.max() <= 256 else np.float64
    rows[present, N] = n
    rows[present, SX : SZ + 1] = np.add.reduceat(q, starts, axis=0, dtype=accumulate) / QUANTUM
    rows[present, SXX : SZZ + 1] = np.add.reduceat(squares, starts, axis=0) / (QUANTUM * QUANTUM)
    # The largest |a| only matters in seconds that move (it finds heel strikes); skip still seconds
    # (their row keeps the mean's magnitude, a lower bound that no step threshold comes near).
    sums = rows[present]
    per_axis = sums[:, SXX : SZZ + 1] / n[:, None] - (sums[:, SX : SZ + 1] / n[:, None]) ** 2
    lively = (per_axis[:, 0] + per_axis[:, 1]) + per_axis[:, 2] > PEAK_MIN_VARIANCE_G2
    mean2 = sums[:, SX : SZ + 1] ** 2
    rows[present, MAXM] = np.sqrt((mean2[:, 0] + mean2[:, 1]) + mean2[:, 2]) / n
    if lively.any():
        chosen = np.repeat(lively, n)
        selected = squares[chosen]
        magnitude2 = selected[:, 0] + selected[:, 1]
        magnitude2 += selected[:, 2]
        offsets = np.concatenate(([0], np.cumsum(n[lively])[:-1]))
        rows[present[lively], MAXM] = np.sqrt(np.maximum.reduceat(magnitude2, offsets)) / QUANTUM
    return rows


def _one_second_row(xyz: np.ndarray) -> np.ndarray:
    """The live path's usual case, with fewer numpy calls; sums are exact, so the result is the same
    bits as ``np.add.reduceat`` gives."""
    limit = CLIP_G * QUANTUM
    q = np.multiply(xyz, np.float32(QUANTUM), dtype=np.float32)
    np.clip(q, -limit, limit, out=q)
    np.rint(q, out=q)
    squares = np.square(q, dtype=np.float64)
    n = len(q)
    row = np.empty(N_COLUMNS)
    row[N] = n
    row[SX : SZ + 1] = q.sum(axis=0, dtype=np.float32 if n <= 256 else np.float64) / QUANTUM
    row[SXX : SZZ + 1] = squares.sum(axis=0) / (QUANTUM * QUANTUM)
    per_axis = row[SXX : SZZ + 1] / n - (row[SX : SZ + 1] / n) ** 2
    variance = (per_axis[0] + per_axis[1]) + per_axis[2]  # the same order of adds as second_rows
    if variance > PEAK_MIN_VARIANCE_G2:
        row[MAXM] = np.sqrt(squares.sum(axis=1).max()) / QUANTUM  # exact integers: any order
    else:
        mean2 = row[SX : SZ + 1] ** 2
        row[MAXM] = np.sqrt((mean2[0] + mean2[1]) + mean2[2]) / n
    return row


class SecondAccumulator:
    """Turns a stream of samples into per-second rows, one per whole UTC second.

    ``push`` returns ``(first_second, rows)`` for the seconds that became complete (a sample of a later
    second arrived); seconds without samples inside that range get a row of zeros (n = 0). A sample that
    goes back in time to an earlier second than one already seen is dropped (BLE reordering is rare;
    the count is kept in ``dropped``), which a whole-array call does identically.
    """

    def __init__(self) -> None:
        self._open_second: int | None = None  # second of the newest sample (not complete yet)
        self._pending_t: list[np.ndarray] = []  # samples of the open second
        self._pending_xyz: list[np.ndarray] = []
        self.dropped = 0

    def push(self, chunk: SampleChunk) -> tuple[int, np.ndarray]:
        empty = np.zeros((0, N_COLUMNS))
        if not len(chunk):
            return (self._open_second or 0), empty
        t, xyz = chunk.t, chunk.xyz
        open_second = self._open_second
        first_floor, last_floor = np.floor(t[0]), np.floor(t[-1])
        if open_second is not None and first_floor == last_floor == open_second and _sorted(t):
            self._pending_t.append(t)  # the common BLE case: the packet stays in the open second
            self._pending_xyz.append(xyz)
            return open_second, empty
        if not (_sorted(t) and (open_second is None or first_floor >= open_second)):
            t, xyz = self._drop_backwards(t, xyz)
            if not len(t):
                return (self._open_second or 0), empty
        if self._open_second is None:
            self._open_second = int(np.floor(t[0]))
        newest = int(np.floor(t[-1]))
        if newest == self._open_second:
            self._pending_t.append(t)
            self._pending_xyz.append(xyz)
            return newest, empty
        first = self._open_second
        split = int(np.searchsorted(t, float(newest)))
        done_t = np.concatenate([*self._pending_t, t[:split]]) if self._pending_t else t[:split]
        done_xyz = np.concatenate([*self._pending_xyz, xyz[:split]]) if self._pending_xyz else xyz[:split]
        self._pending_t, self._pending_xyz = [t[split:]], [xyz[split:]]
        self._open_second = newest
        return first, second_rows(done_t, done_xyz, first, newest)

    def flush(self) -> tuple[int, np.ndarray]:
        """End of data: the open second is complete."""
        if self._open_second is None:
            return 0, np.zeros((0, N_COLUMNS))
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
