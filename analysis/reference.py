"""Running sums over earlier seconds, vectorised over a batch yet identical for any batch boundaries.

The orientation reference (thigh axis learned from walking, front direction learned from sitting) is a
function of earlier seconds only. Computing it second by second in Python would cost a week of data
~10 s; these helpers compute it for a whole batch of seconds at once with integer cumulative sums and
carry just enough state (a few dozen vectors) to the next batch. Integer arithmetic keeps the result
bit-identical however the stream was cut, which the streaming == batch guarantee needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Unit vectors are stored as integers in units of 2**-16 so their sums are exact.
UNIT_SCALE = 65536.0


def quantise_units(vectors: np.ndarray) -> np.ndarray:
    return np.round(vectors * UNIT_SCALE).astype(np.int64)


def last_index_where(flags: np.ndarray, first_index: int, carried: int) -> np.ndarray:
    """For each position, the absolute index of the latest flagged position at or before it
    (``carried`` if none in this batch). ``first_index`` is the absolute index of position 0."""
    if len(flags) == 1:  # the live path, one second at a time
        return np.array([first_index if flags[0] else carried], np.int64)
    positions = np.where(flags, np.arange(first_index, first_index + len(flags), dtype=np.int64), carried)
    return np.maximum.accumulate(positions) if len(positions) else positions


@dataclass
class SlidingWindow:
    """Sum of the last ``size`` contributed vectors of the current segment, up to and including each second.

    A segment starts at a reset (the sensor was put back on): the window is emptied there.
    """

    size: int
    dims: int = 3
    recent: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.recent = np.zeros((0, self.dims), np.int64)
        self._total = np.zeros(self.dims, np.int64)  # sum of ``recent`` (integers: exact)

    @property
    def total(self) -> np.ndarray:
        """The sum of ``recent``: what ``update`` returns for a second that changes nothing."""
        return self._total

    def update(
        self, contributes: np.ndarray, vectors: np.ndarray, resets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` has one integer row per second (rows of non-contributing seconds are ignored), or
        no rows at all when no second contributes.

        Returns (sums, counts) per second."""
        carried = len(self.recent)
        if not contributes.any() and not resets.any():  # nothing changes (integer sums: same result)
            return _rows_of(self._total, len(contributes)), np.full(len(contributes), carried, np.int64)
        added = vectors[contributes] if len(vectors) else np.zeros((0, self.dims), np.int64)
        values = np.concatenate([self.recent, added])
        cumulative = np.zeros((len(values) + 1, self.dims), np.int64)
        np.cumsum(values, axis=0, out=cumulative[1:])
        count_through, low = self._bounds(contributes, resets)
        # np.take: a gather of whole rows, several times cheaper than fancy indexing (the same integers).
        sums = np.take(cumulative, count_through, axis=0) - np.take(cumulative, low, axis=0)
        counts = count_through - low
        if len(resets):
            self.recent = values[low[-1] : count_through[-1]].copy()
            self._total = sums[-1].copy()  # the window through the last second is exactly ``recent``
        return sums, counts

    def counts(self, contributes: np.ndarray, resets: np.ndarray) -> np.ndarray:
        """The counts ``update`` would return for these seconds, without changing the window."""
        count_through, low = self._bounds(contributes, resets)
        return count_through - low

    def _bounds(self, contributes: np.ndarray, resets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per second: how many vectors were contributed through it (carried ones included), and the
        index of the oldest one still in its window (the window starts afresh at a reset)."""
        count_through = len(self.recent) + np.cumsum(contributes, dtype=np.int64)
        count_before = count_through - contributes
        base = np.maximum.accumulate(np.where(resets, count_before, 0)) if len(resets) else count_before
        return count_through, np.maximum(base, count_through - self.size)


@dataclass
class SegmentAccumulator:
    """Sum of all vectors contributed in the current segment strictly before each second."""

    dims: int = 3
    total: np.ndarray = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        self.total = np.zeros(self.dims, np.int64)

    def update(
        self, contributes: np.ndarray, vectors: np.ndarray, resets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(contributes)
        if not contributes.any() and not resets.any():  # nothing changes
            return _rows_of(self.total, n), np.full(n, self.count, np.int64)
        masked = (
            np.where(contributes[:, None], vectors, 0) if len(vectors) else np.zeros((n, self.dims), np.int64)
        )
        cumulative = np.zeros((n + 1, self.dims), np.int64)
        cumulative[0] = self.total
        np.cumsum(masked, axis=0, out=cumulative[1:])
        cumulative[1:] += self.total
        counts_cum = np.zeros(n + 1, np.int64)
        counts_cum[0] = self.count
        counts_cum[1:] = self.count + np.cumsum(contributes, dtype=np.int64)
        if not resets.any():  # the usual batch: one segment, carried on (the same sums as below)
            self.total = cumulative[n].copy()
            self.count = int(counts_cum[n])
            return cumulative[:n], counts_cum[:n]
        # Index (into cumulative) of the segment start for each second: 0 = carried segment.
        start = np.maximum.accumulate(np.where(resets, np.arange(n), -1)) if n else np.zeros(0, np.int64)
        base_index = np.where(start >= 0, start, 0)
        carried_on = start < 0
        base = np.take(cumulative, base_index, axis=0)  # rows gathered (cheaper than fancy indexing)
        base[carried_on] = 0
        sums = cumulative[:n] - base
        counts = counts_cum[:n] - np.where(carried_on, 0, counts_cum[base_index])
        if n:
            last_start = int(start[-1])
            if last_start >= 0:
                self.total = cumulative[n] - cumulative[last_start]
                self.count = int(counts_cum[n] - counts_cum[last_start])
            else:
                self.total = cumulative[n].copy()
                self.count = int(counts_cum[n])
        return sums, counts


def _rows_of(vector: np.ndarray, n: int) -> np.ndarray:
    """``n`` copies of ``vector`` as rows (cheaper than ``np.broadcast_to`` for the live path's n = 1)."""
    out = np.empty((n, len(vector)), vector.dtype)
    out[:] = vector
    return out
