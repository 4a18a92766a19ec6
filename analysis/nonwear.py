"""Non-wear: a sensor on a desk or a charger, told from a still wearer without looking ahead.

What a worn sensor has and a put-down one lacks is slow movement: a seated thigh sways, breathes and
carries the pulse, so its per-second mean wanders more than white sensor noise explains; a sensor on a
desk reads constant gravity plus white noise. The *drift ratio* measures exactly that: the variance
between per-second means over a window, divided by the within-second variance / n (about 1 for pure
noise, whatever the rate and the noise level). Its power grows with the window: at 50 Hz ten seconds
suffice, at 12.5 Hz a minute or more, because tiny sway is buried in noise averaged over fewer samples.

Emitted seconds are final and lag at most 3 s, so we cannot wait and relabel. Three rules, each using
only the past:

1. *Put down flat*: calm, excess drift below the threshold (no margin) over the calm spell, gravity
   within ``nonwear_flat_deg`` of one sensor axis (a sensor lies on one of its faces; a worn sensor's
   axes are aligned with gravity only by chance), *and* the calm spell follows what could be a put-down:
   the sensor turned by more than ``nonwear_putdown_deg`` across the movement before the spell, or that
   movement lasted longer than ``nonwear_putdown_move_s`` (handled, walked to a desk). Recognised within
   a few seconds. The weak test (no margin) misfires now and then on a still wearer over a short
   window, most often at 12.5 Hz; a fidget mid-spell (the thigh moves a few degrees for a few seconds
   and settles where it was) is by far the commonest start of a calm spell, so it never gets the weak
   test: after it the strict test of rule 2 decides, as for any orientation.
2. *Calm without drift, strictly*: excess drift below the threshold by ``nonwear_tilted_z`` standard
   errors: a charger cradle at any angle, or a flat sensor that was nudged; once it holds, the rest of
   the calm spell stays non-wear.
3. Acti4's unconditional rule: SD below ``long_still_sd_g`` for ``long_still_min`` minutes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sitless.analysis import features as F
from sitless.analysis.reference import last_index_where

if TYPE_CHECKING:
    from sitless.analysis.classify import ClassifierSettings

#: Per-second statistics are rounded to integers so window sums are exact and batch-independent.
_MEAN_SCALE = 2.0**18
_WITHIN_SCALE = 2.0**40


class NonwearDetector:
    def __init__(self, settings: ClassifierSettings) -> None:
        self.s = settings
        self._width = settings.nonwear_window_s
        # Cumulative window statistics through each of the last ``width`` + 1 seconds (zeros before
        # data), a ring whose newest row is at ``_newest``: the live path writes one row per second.
        self._ring = np.zeros((self._width + 1, 6), np.int64)
        self._newest = self._width
        self._cos_flat = np.cos(np.radians(settings.nonwear_flat_deg))
        self._last_not_calm: int | None = None
        self._last_not_quiet: int | None = None
        self._last_strict = -(2**62)
        self._cos_putdown = np.cos(np.radians(settings.nonwear_putdown_deg))
        # Put-down evidence: the latest calm second, and the calm second before the latest movement
        # (the "anchor" of the current calm spell), with their gravity directions (zero = none yet,
        # which counts as a put-down: nothing is known of the sensor's past).
        self._last_calm = -(2**62)
        self._last_calm_gravity = np.zeros(3)
        self._anchor = -(2**62)
        self._anchor_gravity = np.zeros(3)

    def detect(
        self, first: int, sums: np.ndarray, sd_total: np.ndarray, gravity: np.ndarray, has_sd: np.ndarray
    ) -> np.ndarray:
        if self._last_not_calm is None:
            self._last_not_calm = self._last_not_quiet = first - 1
        if len(sums) == 1:
            return self._detect_one(first, sums[0], float(sd_total[0]), gravity[0], bool(has_sd[0]))
        s = self.s
        seconds = np.arange(first, first + len(sums), dtype=np.int64)
        has_data = sums[:, F.N] > 0
        calm = has_data & has_sd & (sd_total < s.nonwear_sd_g)
        # Seconds without data (lost packets, short disconnects) do not end a calm spell.
        last_not_calm = last_index_where(has_data & ~calm, first, self._last_not_calm)
        self._last_not_calm = int(last_not_calm[-1])
        calm_for = seconds - last_not_calm

        stats = self._window_stats(sums)
        if calm.any():
            g = np.abs(gravity)
            flat = np.maximum(np.maximum(g[:, 0], g[:, 1]), g[:, 2]) > self._cos_flat
            put_down = self._put_down(first, calm, last_not_calm, gravity)
            z = np.where(flat & put_down, s.nonwear_flat_z, s.nonwear_tilted_z)
            drift = s.nonwear_min_drift_g**2
            excess, spread, count = _drift_excess(stats, np.minimum(calm_for, s.nonwear_window_s))
            enough = count >= s.nonwear_min_still_s
            no_drift = enough & (excess < drift - z * spread)
            strict = enough & (excess < drift - s.nonwear_tilted_z * spread)
        else:  # a second that moves has an empty calm window: no evidence either way (same result)
            no_drift = strict = np.zeros(len(sums), bool)
            self._put_down(first, calm, last_not_calm, gravity)  # keeps the carried state current
        # Strong evidence holds for the rest of the calm spell: a charger does not flicker back to sitting.
        last_strict = last_index_where(strict, first, self._last_strict)
        self._last_strict = int(last_strict[-1])
        no_drift |= last_strict > last_not_calm

        quiet = has_data & has_sd & (sd_total < s.long_still_sd_g)
        last_not_quiet = last_index_where(~quiet, first, self._last_not_quiet)
        self._last_not_quiet = int(last_not_quiet[-1])
        long_still = (seconds - last_not_quiet) > s.long_still_min * 60.0
        return has_data & ((calm & no_drift) | long_still)

    def _put_down(
        self, first: int, calm: np.ndarray, last_not_calm: np.ndarray, gravity: np.ndarray
    ) -> np.ndarray:
        """Whether each second's calm spell could follow a put-down: the sensor turned by more than
        ``nonwear_putdown_deg`` between the calm second before the latest movement (the anchor) and
        now, or that movement lasted more than ``nonwear_putdown_move_s``. A function of earlier
        seconds only, with two carried seconds, so batch boundaries do not matter."""
        n = len(calm)
        if n == 1:  # the live path: the same decisions in plain Python
            return self._put_down_one(first, bool(calm[0]), int(last_not_calm[0]), gravity[0])
        last_calm = last_index_where(calm, first, self._last_calm)
        # Anchor of second k: the latest calm second at or before its latest non-calm second.
        movement = last_not_calm - first  # position of that non-calm second (< 0: before this batch)
        inside = movement >= 0
        anchor = np.where(inside, last_calm[np.maximum(movement, 0)], self._anchor)
        positions = anchor - first
        from_batch = positions >= 0
        anchor_gravity = np.empty((n, 3))
        anchor_gravity[:] = self._anchor_gravity
        anchor_gravity[inside & ~from_batch] = self._last_calm_gravity
        anchor_gravity[from_batch] = gravity[positions[from_batch]]
        turn = gravity * anchor_gravity
        cos_turn = (turn[:, 0] + turn[:, 1]) + turn[:, 2]  # the same order as the one-second path
        moved_long = (last_not_calm - anchor) > self.s.nonwear_putdown_move_s
        # carry: the anchor and latest calm second as of the batch's last second, with their gravity
        if calm.any():
            self._last_calm_gravity = gravity[np.flatnonzero(calm)[-1]].copy()
        self._last_calm = int(last_calm[-1])
        self._anchor = int(anchor[-1])
        self._anchor_gravity = anchor_gravity[-1].copy()
        return (cos_turn < self._cos_putdown) | moved_long

    def _put_down_one(self, second: int, calm: bool, last_not_calm: int, gravity: np.ndarray) -> np.ndarray:
        if last_not_calm == second:  # this second moves: its anchor is the latest calm second before it
            self._anchor, self._anchor_gravity = self._last_calm, self._last_calm_gravity
        if calm:
            self._last_calm, self._last_calm_gravity = second, gravity.copy()
        g, a = gravity, self._anchor_gravity
        cos_turn = (g[0] * a[0] + g[1] * a[1]) + g[2] * a[2]
        moved_long = last_not_calm - self._anchor > self.s.nonwear_putdown_move_s
        return np.array([cos_turn < self._cos_putdown or moved_long])

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
        carried = np.roll(self._ring, -(self._newest + 1), axis=0)[1:]  # oldest first, newest last
        stats += carried[-1]
        cumulative = np.concatenate([carried, stats])
        self._ring = cumulative[-(self._width + 1) :].copy()
        self._newest = self._width
        return cumulative

    def _detect_one(
        self, second: int, row: np.ndarray, sd_total: float, gravity: np.ndarray, has_sd: bool
    ) -> np.ndarray:
        """``detect`` for a single second (the live path), in plain Python: the same operations in the
        same order on the same float64 and int64 values, so the same decisions, bit for bit."""
        s = self.s
        n, sx, sy, sz, sxx, syy, szz = row[: F.SZZ + 1].tolist()
        has_data = n > 0
        calm = has_data and has_sd and sd_total < s.nonwear_sd_g
        if has_data and not calm:
            self._last_not_calm = second
        calm_for = second - self._last_not_calm

        # this second's statistics, as in _window_stats, added to the ring
        present = n >= 2
        safe = max(n, 1.0)
        mx, my, mz = sx / safe, sy / safe, sz / safe
        within = (((sxx / safe - mx * mx) + (syy / safe - my * my)) + (szz / safe - mz * mz)) / safe
        if present:
            ux, uy, uz = round(mx * _MEAN_SCALE), round(my * _MEAN_SCALE), round(mz * _MEAN_SCALE)
            stats = [1, ux, uy, uz, (ux * ux + uy * uy) + uz * uz, round(within * _WITHIN_SCALE)]
        else:
            stats = [0, 0, 0, 0, 0, 0]
        size = self._width + 1
        previous = self._ring[self._newest]
        self._newest = (self._newest + 1) % size
        newest = self._ring[self._newest]
        np.add(previous, np.array(stats, np.int64), out=newest)

        put_down = self._put_down_one(second, calm, self._last_not_calm, gravity)
        no_drift = strict = False
        if calm:
            g = np.abs(gravity)
            flat = max(max(g[0], g[1]), g[2]) > self._cos_flat
            z = s.nonwear_flat_z if flat and put_down else s.nonwear_tilted_z
            window = min(calm_for, s.nonwear_window_s)
            count, tx, ty, tz, squares, noise_units = (
                newest - self._ring[(self._newest - window) % size]
            ).tolist()
            count = float(count)
            safe = max(count, 1.0)
            tx, ty, tz = tx / _MEAN_SCALE, ty / _MEAN_SCALE, tz / _MEAN_SCALE
            between = squares / (_MEAN_SCALE * _MEAN_SCALE) / safe - ((tx * tx + ty * ty) + tz * tz) / (
                safe * safe
            )
            noise = noise_units / _WITHIN_SCALE / safe
            excess = between - noise * (safe - 1.0) / safe
            spread = noise * math.sqrt(2.0 / (3.0 * max(count - 1.0, 1.0)))
            drift = s.nonwear_min_drift_g**2
            enough = count >= s.nonwear_min_still_s
            no_drift = enough and excess < drift - z * spread
            strict = enough and excess < drift - s.nonwear_tilted_z * spread
        if strict:
            self._last_strict = second
        no_drift = no_drift or self._last_strict > self._last_not_calm

        quiet = has_data and has_sd and sd_total < s.long_still_sd_g
        if not quiet:
            self._last_not_quiet = second
        long_still = (second - self._last_not_quiet) > s.long_still_min * 60.0
        return np.array([has_data and ((calm and no_drift) or long_still)])


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
