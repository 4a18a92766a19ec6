"""Timestamps for sensors that send none: arrival time smoothed with the nominal rate.

BLE delivers notifications in bursts (several per connection event, then a pause), so raw arrival times
jitter by tens of milliseconds. The classifier wants evenly spaced samples, so the clock advances exactly
one sample period per sample and is pulled only gently (``pull``) toward the arrival time. It never runs
backwards. A silence longer than ``gap_packets`` packet periods (and at least ``min_gap_s``) restarts the
clock at the arrival time and is reported as a gap. If the sensor's real rate differs from the nominal
one (a micro:bit rounding its period, a WitMotion ignoring the rate command), the period is re-estimated
from the arrivals every ``estimate_every_s`` seconds and adopted when it is off by more than 10 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ArrivalClock:
    rate_hz: float
    gap_packets: float = 3.0
    min_gap_s: float = 0.3
    pull: float = 0.05
    estimate_every_s: float = 10.0

    def __post_init__(self) -> None:
        self.period_s = 1.0 / float(self.rate_hz)
        self._next_t: float | None = None
        self._last_t = -np.inf
        self._window_start: float | None = None
        self._window_samples = 0
        self._offsets_for: tuple[int, float] | None = None
        self._steps = np.zeros(0)

    def stamp(self, n_samples: int, arrival: float) -> tuple[np.ndarray, tuple[float, float] | None]:
        """Timestamps for ``n_samples`` that arrived at ``arrival``; plus the gap (before, after) if any."""
        period = self.period_s
        threshold = max(self.gap_packets * n_samples * period, self.min_gap_s)
        gap = None
        if self._next_t is None or arrival - (self._next_t + (n_samples - 1) * period) > threshold:
            if self._next_t is not None:
                start = max(arrival - (n_samples - 1) * period, self._last_t + period)
                gap = (self._last_t, start)
            else:
                start = arrival - (n_samples - 1) * period
            self._window_start, self._window_samples = arrival, 0
        else:
            predicted_end = self._next_t + (n_samples - 1) * period
            start = self._next_t + self.pull * (arrival - predicted_end)
            start = max(start, self._last_t + 0.25 * period)  # pulled back, never backwards
            self._window_samples += n_samples
            self._maybe_adopt_rate(arrival)
        t = start + self._offsets(n_samples)
        self._last_t = float(t[-1])
        self._next_t = self._last_t + self.period_s
        return t, gap

    def _offsets(self, n_samples: int) -> np.ndarray:
        """0, 1, ... n-1 sample periods (kept: packets usually hold the same number of samples)."""
        key = (n_samples, self.period_s)
        if self._offsets_for != key:
            self._offsets_for = key
            self._steps = np.arange(n_samples, dtype=np.float64) * self.period_s
        return self._steps

    def _maybe_adopt_rate(self, arrival: float) -> None:
        if self._window_start is None:
            return
        span = arrival - self._window_start
        if span < self.estimate_every_s or self._window_samples < 10:
            return
        measured = span / self._window_samples
        if abs(measured / self.period_s - 1.0) > 0.10:
            self.period_s = measured
        self._window_start, self._window_samples = arrival, 0
