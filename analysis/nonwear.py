"""Non-wear: a sensor on a desk or a charger, told from a still wearer without looking ahead.

What a worn sensor has and a put-down one lacks is slow movement: a seated thigh sways, breathes and
carries the pulse, so its per-second mean wanders more than white sensor noise explains; a sensor on a
desk reads constant gravity plus white noise. The *drift ratio* measures exactly that: the variance
between per-second means over a window, divided by the within-second variance / n (about 1 for pure
noise, whatever the rate and the noise level). Its power grows with the window: at 50 Hz ten seconds
suffice, at 12.5 Hz a minute or more, because tiny sway is buried in noise averaged over fewer samples.

Emitted seconds are final and lag at most 3 s, so we cannot wait and relabel. Three rules, each using
only the past:

1. *Put down flat*: calm, drift ratio low over the last ``nonwear_short_window_s`` seconds, and gravity
   within ``nonwear_flat_deg`` of one sensor axis (a sensor lies on one of its faces; a worn sensor's
   axes are aligned with gravity only by chance). Recognised within a few seconds.
2. *Long calm without drift*: calm for ``nonwear_long_window_s`` seconds with a drift ratio below
   ``nonwear_long_drift_ratio``: catches a charger cradle at any angle, after that window.
3. Acti4's unconditional rule: SD below ``long_still_sd_g`` for ``long_still_min`` minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analysis import features as F
from analysis.reference import last_index_where

if TYPE_CHECKING:
    from analysis.classify import ClassifierSettings

#: Per-second statistics are rounded to integers so window sums are exact and batch-independent.
_MEAN_SCALE = 2.0**18
_WITHIN_SCALE = 2.0**40


class NonwearDetector:
    def __init__(self, settings: ClassifierSettings) -> None:
        self.s = settings
        self._width = settings.nonwear_window_s
        # Cumulative window statistics through each of the last ``width`` seconds (zeros before data).
        self._cumulative = np.zeros((self._width, 6), np.int64)
        self._cos_flat = np.cos(np.radians(settings.nonwear_flat_deg))
        self._last_not_calm: int | None = None
        self._last_not_quiet: int | None = None
        self._last_strict = -(2**62)

    def detect(
        self, first: int, sums: np.ndarray, sd_total: np.ndarray, gravity: np.ndarray, has_sd: np.ndarray
    ) -> np.ndarray:
        s = self.s
        seconds = np.arange(first, first + len(sums), dtype=np.int64)
        has_data = sums[:, F.N] > 0
        if self._last_not_calm is None:
            self._last_not_calm = self._last_not_quiet = first - 1
        calm = has_data & has_sd & (sd_total < s.nonwear_sd_g)
        # Seconds without data (lost packets, short disconnects) do not end a calm spell.
        last_not_calm = last_index_where(has_data & ~calm, first, self._last_not_calm)
        self._last_not_calm = int(last_not_calm[-1])
        calm_for = seconds - last_not_calm

        stats = self._window_stats(sums)
        if calm.any():
            g = np.abs(gravity)
            flat = np.maximum(np.maximum(g[:, 0], g[:, 1]), g[:, 2]) > self._cos_flat
            z = np.where(flat, s.nonwear_flat_z, s.nonwear_tilted_z)
            drift = s.nonwear_min_drift_g**2
            excess, spread, count = _drift_excess(stats, np.minimum(calm_for, s.nonwear_window_s))
            enough = count >= s.nonwear_min_still_s
            no_drift = enough & (excess < drift - z * spread)
            strict = enough & (excess < drift - s.nonwear_tilted_z * spread)
        else:  # a second that moves has an empty calm window: no evidence either way (same result)
            no_drift = strict = np.zeros(len(sums), bool)
        # Strong evidence holds for the rest of the calm spell: a charger does not flicker back to sitting.
        last_strict = last_index_where(strict, first, self._last_strict)
        self._last_strict = int(last_strict[-1])
        no_drift |= last_strict > last_not_calm

        quiet = has_data & has_sd & (sd_total < s.long_still_sd_g)
        last_not_quiet = last_index_where(~quiet, first, self._last_not_quiet)
        self._last_not_quiet = int(last_not_quiet[-1])
        long_still = (seconds - last_not_quiet) > s.long_still_min * 60.0
        return has_data & ((calm & no_drift) | long_still)

    def _window_stats(self, sums: np.ndarray) -> np.ndarray:
        """Integer statistics of each second (has data, quantised mean, its square, within-variance / n),
        cumulated through each second: the last ``width`` carried rows, then one row per new second."""
        n = sums[:, F.N]
        present = n >= 2
        safe = np.maximum(n, 1.0)[:, None]
        means = sums[:, F.SX : F.SZ + 1] / safe
        per_axis = sums[:, F.SXX : F.SZZ + 1] / safe - means * means
        within = ((per_axis[:, 0] + per_axis[:, 1]) + per_axis[:, 2]) / safe[:, 0]
        mean_units = np.where(present[:, None], np.round(means * _MEAN_SCALE), 0).astype(np.int64)
        stats = np.empty((len(sums), 6), np.int64)
        stats[:, 0] = present
        stats[:, 1:4] = mean_units
        squares = mean_units * mean_units
        stats[:, 4] = squares[:, 0] + squares[:, 1] + squares[:, 2]
        stats[:, 5] = np.where(present, np.round(within * _WITHIN_SCALE), 0).astype(np.int64)
        np.cumsum(stats, axis=0, out=stats)
        stats += self._cumulative[-1]
        cumulative = np.concatenate([self._cumulative, stats])
        self._cumulative = cumulative[-self._width :].copy()
        return cumulative


def _drift_excess(stats: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the last ``window[k]`` seconds up to second k (``stats`` cumulates through each second, the
    batch's seconds last): the variance of the per-second means beyond
    what white noise explains (g^2, summed over axes), its standard error under pure noise, and the
    number of seconds with data.

    int64 sums may wrap around on very long batches; differences of wrapped sums are still exact."""
    batch = len(window)
    stop = np.arange(len(stats) - batch, len(stats))
    sums = stats[stop] - stats[stop - window]
    count = sums[:, 0].astype(np.float64)
    safe = np.maximum(count, 1.0)
    total = sums[:, 1:4].astype(np.float64) / _MEAN_SCALE
    between = sums[:, 4] / (_MEAN_SCALE * _MEAN_SCALE) / safe - (
        total[:, 0] ** 2 + total[:, 1] ** 2 + total[:, 2] ** 2
    ) / (safe * safe)
    noise = sums[:, 5] / _WITHIN_SCALE / safe  # variance of one per-second mean, summed over axes
    excess = between - noise * (safe - 1.0) / safe
    spread = noise * np.sqrt(2.0 / (3.0 * np.maximum(count - 1.0, 1.0)))
    return excess, spread, count
