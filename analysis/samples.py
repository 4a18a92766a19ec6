"""The one sample type used end to end: a chunk of timestamped accelerations.

A BLE notification, a CSV file and a simulated week are all just ``SampleChunk`` objects, so the same
classifier code runs live (chunks of 1 to 40 samples) and offline (millions of samples at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SampleChunk:
    """Timestamps (float64 epoch seconds, UTC) and accelerations (float32, N x 3, in g).

    Timestamps are non-decreasing within a chunk; a jump larger than the sampling interval is a gap
    (lost packets, a disconnect) and is never filled with invented samples.
    """

    t: np.ndarray
    xyz: np.ndarray
    #: The producer has checked that every value is finite and the timestamps never decrease (a
    #: recording reader that validated the block), so the classifier need not test it again.
    checked: bool = False

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t, dtype=np.float64).reshape(-1)
        xyz = np.ascontiguousarray(self.xyz, dtype=np.float32)
        if xyz.size == 0:
            xyz = xyz.reshape(0, 3)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise ValueError(f"accelerations must have shape (N, 3), got {xyz.shape}")
        if xyz.shape[0] != t.shape[0]:
            raise ValueError(f"{t.shape[0]} timestamps but {xyz.shape[0]} acceleration rows")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "xyz", xyz)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls) -> SampleChunk:
        return cls(np.empty(0, np.float64), np.empty((0, 3), np.float32))

    @classmethod
    def concat(cls, chunks: Iterable[SampleChunk]) -> SampleChunk:
        parts = [c for c in chunks if len(c)]
        if not parts:
            return cls.empty()
        return cls(np.concatenate([c.t for c in parts]), np.concatenate([c.xyz for c in parts]))

    def slice(self, start: int, stop: int) -> SampleChunk:
        return SampleChunk(self.t[start:stop], self.xyz[start:stop], self.checked)

    def split(self, size: int) -> list[SampleChunk]:
        """Cut into chunks of at most ``size`` samples (the shape BLE packets give the live path)."""
        return [self.slice(i, i + size) for i in range(0, len(self), size)]

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) > 1 else 0.0

    def nominal_rate_hz(self) -> float:
        """Median sampling rate; robust to gaps and jitter."""
        if len(self) < 2:
            return float("nan")
        step = np.median(np.diff(self.t))
        return float(1.0 / step) if step > 0 else float("nan")
