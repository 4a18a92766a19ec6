"""Per-second sums of a sample stream, exact and therefore independent of how the stream was cut.

Why exact: the classifier must give identical labels whether a recording arrives as one array or as BLE
packets of 1 to 40 samples. Floating-point sums depend on the order and grouping of their terms, so sums
taken over chunk pieces and added later can differ in the last bit from sums over the whole second, and a
threshold decision can flip on that bit. We therefore quantise every acceleration to a multiple of
2**-16 g (15 micro-g, far below any MEMS sensor's resolution) and sum in float64: such sums are exact
integers times 2**-16 (magnitudes stay below 2**37), so every order of summation gives the same bits.

Only whole seconds are summed: samples of the second that is still open are carried to the next call.
"""

from __future__ import annotations

import numpy as np

from analysis.samples import SampleChunk

#: Quantisation step for accelerations: 2**-16 g.
QUANTUM = 65536.0

#: Accelerations are clipped to +-16 g (every thigh sensor's largest range) so sums stay exact.
CLIP_G = 16.0

#: Columns of a per-second row: sums, then the largest |a| (a maximum is exact in any order too).
N, SX, SY, SZ, SXX, SYY, SZZ, SM, SMM, MAXM = range(10)
N_COLUMNS = 10
_SUMMED = 9


def quantise(xyz: np.ndarray) -> np.ndarray:
    """Accelerations (g) -> float64 multiples of 2**-16 g (exactly representable, exactly summable)."""
    return np.round(xyz.astype(np.float64) * QUANTUM) / QUANTUM


def sample_terms(xyz: np.ndarray) -> np.ndarray:
    """The per-sample terms of a second's row: 1, x, y, z, x^2, y^2, z^2, |a|, |a|^2 (summed), |a| (max).

    |a| is quantised too, so its square is exact; x^2 of a quantised value is exact in float64.
    """
    q = quantise(np.clip(xyz, -CLIP_G, CLIP_G))
    terms = np.empty((q.shape[0], N_COLUMNS), np.float64)
    terms[:, N] = 1.0
    terms[:, SX : SZ + 1] = q
    np.multiply(q, q, out=terms[:, SXX : SZZ + 1])
    magnitude = np.round(np.sqrt(terms[:, SXX : SZZ + 1].sum(axis=1)) * QUANTUM) / QUANTUM
    terms[:, SM] = magnitude
    terms[:, SMM] = magnitude * magnitude
    terms[:, MAXM] = magnitude
    return terms


class SecondAccumulator:
    """Turns a stream of samples into rows of exact per-second sums, one row per whole UTC second.

    ``push`` returns ``(first_second, sums)`` for the seconds that became complete (a sample of a later
    second arrived); seconds without samples inside that range get a row of zeros (n = 0). Samples that go
    back in time to an earlier second than one already seen are dropped (BLE reordering is rare; the
    count is kept in ``dropped``), which a whole-array call does identically.
    """

    def __init__(self) -> None:
        self._open_second: int | None = None  # second of the newest sample (not complete yet)
        self._next_second: int | None = None  # first second not yet returned
        self._pending: list[np.ndarray] = []  # accelerations of the open second
        self.dropped = 0

    @property
    def next_second(self) -> int | None:
        return self._next_second

    def push(self, chunk: SampleChunk) -> tuple[int, np.ndarray]:
        if not len(chunk):
            return (self._next_second or 0), np.zeros((0, N_COLUMNS))
        seconds = np.floor(chunk.t).astype(np.int64)
        if self._open_second is not None and seconds.min() == seconds.max() == self._open_second:
            self._pending.append(chunk.xyz)  # the common BLE case: the packet stays in the open second
            return self._next_second, np.zeros((0, N_COLUMNS))
        floor_so_far = seconds if self._open_second is None else np.maximum(seconds, self._open_second)
        running_max = np.maximum.accumulate(floor_so_far)
        keep = seconds >= running_max
        if not keep.all():
            self.dropped += int((~keep).sum())
            seconds = seconds[keep]
            chunk = SampleChunk(chunk.t[keep], chunk.xyz[keep])
        xyz = chunk.xyz
        if self._next_second is None:
            self._next_second = int(seconds[0])
            self._open_second = int(seconds[0])
        newest = int(seconds[-1])
        if newest == self._open_second:
            self._pending.append(xyz)
            return self._next_second, np.zeros((0, N_COLUMNS))
        # Everything before ``newest`` is complete now.
        split = int(np.searchsorted(seconds, newest, side="left"))
        done_xyz = xyz[:split]
        done_seconds = seconds[:split]
        if self._pending:
            done_xyz = np.concatenate([*self._pending, done_xyz])
            done_seconds = np.concatenate(
                [np.full(sum(len(p) for p in self._pending), self._open_second, np.int64), done_seconds]
            )
        first = self._next_second
        sums = _sum_per_second(done_seconds, sample_terms(done_xyz), first, newest)
        self._pending = [xyz[split:]]
        self._open_second = newest
        self._next_second = newest
        return first, sums

    def flush(self) -> tuple[int, np.ndarray]:
        """End of data: the open second is complete."""
        if self._next_second is None:
            return 0, np.zeros((0, N_COLUMNS))
        first = self._next_second
        if self._pending and sum(len(p) for p in self._pending):
            done_xyz = np.concatenate(self._pending)
            seconds = np.full(len(done_xyz), self._open_second, np.int64)
            sums = _sum_per_second(seconds, sample_terms(done_xyz), first, self._open_second + 1)
        else:
            sums = np.zeros((0, N_COLUMNS))
        self._pending = []
        self._next_second = first + len(sums)
        return first, sums


def _sum_per_second(seconds: np.ndarray, terms: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Rows for seconds ``first .. stop-1``; ``seconds`` is sorted and within that range."""
    sums = np.zeros((stop - first, N_COLUMNS))
    if len(seconds):
        starts = np.concatenate(([0], np.flatnonzero(np.diff(seconds)) + 1))
        rows = seconds[starts] - first
        sums[rows, :_SUMMED] = np.add.reduceat(terms[:, :_SUMMED], starts, axis=0)
        sums[rows, MAXM] = np.maximum.reduceat(terms[:, MAXM], starts)
    return sums
