"""Non-wear: a sensor on a desk or a charger, told from a still wearer, without calling the wearer off.

What real thighs show (HuGaDB, MPU-6050 on the front of the thigh, docs/classifier.md): still sitting
has a per-second SD of 0.004-0.012 g (median 0.010), the sensor's noise alone is about 0.004 g, and the
drift of the per-second means of a still sitter is often as small as a desk's. Tests that look for
"too little sway" over seconds or a minute (the rules before issue 9) therefore called 41 % of real
sitting non-wear. The person who sits stillest, who most needs the prompt, lost the sitting timer.

So non-wear is decided only on evidence a worn thigh cannot give, or after waiting:

1. *Temperature* (when the sensor reports it: ``feed_temperature``): a still sensor colder than skin
   (``skin_min_celsius``) is off the body after ``nonwear_min_still_s``; a sensor at skin temperature
   is worn, however still.
2. *Long stillness below the tremor floor*: the 2-s SD stayed below ``nonwear_still_sd_g`` for
   ``nonwear_still_min`` minutes. A wearer's pulse, breathing and tremor lift the SD above that floor
   again and again (half of real still-sitting seconds are above it, and any shift of weight is far
   above); a sensor at rest shows only its noise. Labels are final within 3 s, so the first minutes of
   a desk spell keep the posture the orientation suggests (usually sitting): the cost, accepted because
   the still sitter matters more (docs/classifier.md gives the figures).
3. Acti4's unconditional rule for noisier sensors: SD below ``long_still_sd_g`` for ``long_still_min``.

Once a rule holds, the rest of the still spell stays non-wear (the run only grows). Gaps in the data
do not end a still spell (no data is no evidence of movement). Every quantity is a run length over
earlier seconds, carried as one integer, so batch boundaries never matter, and the live second
(``detect_second``, plain Python) and a week (``detect``, vectorised) carry the same integers.
"""

from __future__ import annotations

import math

import numpy as np

from sitless.analysis.reference import last_index_where
from sitless.analysis.settings import ClassifierSettings


class NonwearDetector:
    def __init__(self, settings: ClassifierSettings) -> None:
        self.s = settings
        self._last_moved: int | None = None  # latest second with data above the tremor floor
        self._last_not_quiet: int | None = None  # latest second with data above Acti4's floor

    def detect(
        self,
        first: int,
        has_data: np.ndarray,
        has_sd: np.ndarray,
        sd_total: np.ndarray,
        celsius: np.ndarray | None = None,
    ) -> np.ndarray:
        """Non-wear per second of the batch starting at ``first``.

        ``celsius``: the sensor's temperature valid at each second (NaN where unknown), or None."""
        s = self.s
        if self._last_moved is None:
            self._last_moved = self._last_not_quiet = first - 1
        seconds = np.arange(first, first + len(has_data), dtype=np.int64)
        measured = has_data & has_sd
        still = measured & (sd_total < s.nonwear_still_sd_g)
        quiet = measured & (sd_total < s.long_still_sd_g)
        last_moved = last_index_where(has_data & ~still, first, self._last_moved)
        last_not_quiet = last_index_where(has_data & ~quiet, first, self._last_not_quiet)
        self._last_moved = int(last_moved[-1])
        self._last_not_quiet = int(last_not_quiet[-1])
        still_for = seconds - last_moved
        off = still & (still_for > s.nonwear_still_min * 60.0)
        off |= quiet & ((seconds - last_not_quiet) > s.long_still_min * 60.0)
        if celsius is not None:
            known = ~np.isnan(celsius)
            if known.any():
                cold = known & (np.where(known, celsius, np.inf) < s.skin_min_celsius)
                warm = known & ~cold
                off = (off & ~warm) | (still & cold & (still_for >= s.nonwear_min_still_s))
        return has_data & off

    def detect_second(
        self, second: int, has_data: bool, has_sd: bool, sd_total: float, celsius: float | None
    ) -> bool:
        """``detect`` for one second in plain Python (the live path: one second at a time, where
        numpy's fixed cost per call outweighs the work); the same comparisons, the same state."""
        s = self.s
        if self._last_moved is None:
            self._last_moved = self._last_not_quiet = second - 1
        measured = has_data and has_sd
        still = measured and sd_total < s.nonwear_still_sd_g
        quiet = measured and sd_total < s.long_still_sd_g
        if has_data and not still:
            self._last_moved = second
        if has_data and not quiet:
            self._last_not_quiet = second
        still_for = second - self._last_moved
        off = (still and still_for > s.nonwear_still_min * 60.0) or (
            quiet and second - self._last_not_quiet > s.long_still_min * 60.0
        )
        if celsius is not None and not math.isnan(celsius):
            cold = celsius < s.skin_min_celsius
            off = (off and cold) or (still and cold and still_for >= s.nonwear_min_still_s)
        return has_data and off


class TemperatureTrack:
    """Temperature readings (time, deg C) of the sensor, and the reading valid at each second.

    A second uses the latest reading taken before its end, if it is at most ``valid_s`` old. Readings
    may arrive in any order and in any batches; what a second sees depends only on the readings fed
    before that second is labelled (a second is labelled when samples two seconds later arrive), so a
    decoder that hands readings over with the samples of the same packet gives the same labels live
    and offline."""

    def __init__(self, valid_s: float) -> None:
        self.valid_s = float(valid_s)
        self._t = np.zeros(0)
        self._c = np.zeros(0)

    def __bool__(self) -> bool:
        return bool(len(self._t))

    def add(self, timestamps: np.ndarray, celsius: np.ndarray) -> None:
        t = np.asarray(timestamps, np.float64).reshape(-1)
        c = np.asarray(celsius, np.float64).reshape(-1)
        if t.shape != c.shape:
            raise ValueError(f"temperature: {len(t)} timestamps but {len(c)} readings")
        good = np.isfinite(t) & np.isfinite(c)
        t = np.concatenate([self._t, t[good]])
        c = np.concatenate([self._c, c[good]])
        order = np.argsort(t, kind="stable")
        self._t, self._c = t[order], c[order]

    def at(self, first: int, n: int) -> np.ndarray:
        """Reading valid at each of seconds ``first .. first+n-1`` (NaN where none); forgets the
        readings no later second can use."""
        ends = np.arange(first + 1, first + n + 1, dtype=np.float64)
        latest = np.searchsorted(self._t, ends, side="right") - 1
        out = np.full(n, np.nan)
        has = latest >= 0
        if has.any():
            age = ends[has] - self._t[latest[has]]
            fresh = age <= self.valid_s
            out[np.flatnonzero(has)[fresh]] = self._c[latest[has]][fresh]
            keep = max(int(latest[-1]), 0)
            self._t, self._c = self._t[keep:], self._c[keep:]
        return out
