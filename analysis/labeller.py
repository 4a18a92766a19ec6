"""Raw per-second labels from per-second sums, with the orientation reference learned on the way.

Vectorised over a batch of consecutive seconds; the state carried between batches (the previous second's
sums, run lengths, the reference windows) makes the result independent of batch boundaries. A call of a
few seconds (the live path's one) takes the same rules in plain Python instead (analysis/labeller_second.py).
"""

from __future__ import annotations

import numpy as np

from sitless.analysis import features as F
from sitless.analysis.calibration import Calibration
from sitless.analysis.labeller_second import (
    _CYCLING,
    _LYING,
    _NONWEAR,
    _SITTING,
    _STANDING,
    _UNKNOWN,
    _WALKING,
    MIN_SAMPLES_FOR_SD,
    OneSecondRules,
)
from sitless.analysis.nonwear import NonwearDetector, TemperatureTrack
from sitless.analysis.reference import SegmentAccumulator, SlidingWindow, last_index_where, quantise_units
from sitless.analysis.settings import ClassifierSettings

_NO_UNITS = np.zeros((0, 3), np.int64)  # stands in for vectors when no second contributes
#: Calls of at most this many seconds take the plain-Python path one second at a time (analysis/
#: labeller_second.py): about 23 us a second whatever the call, where the array path's fixed cost makes
#: a call of 1 second 340 us, of 8 seconds 48 us and of 16 seconds 25 us a second (measured here).
FEW_SECONDS = 16


class SecondLabeller(OneSecondRules):
    def __init__(self, settings: ClassifierSettings, calibration: Calibration | None) -> None:
        self.s = settings
        self.calibration_up = calibration.up_vector() if calibration is not None else None
        self._previous = np.zeros(F.N_COLUMNS)  # sums of the second before the batch
        self._nonwear = NonwearDetector(settings)
        self.temperature = TemperatureTrack(settings.temperature_valid_s)
        self._last_worn = -(2**62)  # absolute second of the latest worn second
        self._nonwear_cumulative = 0  # nonwear seconds seen so far (for run counts across batches)
        self._nonwear_last_worn = 0  # nonwear count through the latest worn second
        self._walks = SlidingWindow(settings.reference_walk_s)
        self._sedentary = SegmentAccumulator()
        self._up_now: np.ndarray | None = None
        self._prior_up: np.ndarray | None = (
            None  # the latest learned upright direction, kept across re-mounts
        )
        self._last_upright = -(2**62)
        self._last_not_step: int | None = None  # latest second that was not a step (run length)
        self._last_moving = -(2**62)  # latest worn moving second, and latest cycling one (never equal
        self._last_cycling = -(2**62) - 1  # before any cycling)
        self._last_step = -(2**62)  # latest worn step second
        self._pedalled = 0  # cycling seconds so far, and that count at the latest step second
        self._pedalled_at_step = 0
        self._long_axis = "xyz".index(settings.long_axis)
        # Python floats (the same values): the one-second path compares them with Python floats.
        self._cos_sit = float(np.cos(np.radians(settings.sit_inclination_deg)))
        self._cos_cycle_min = float(np.cos(np.radians(settings.cycle_min_inclination_deg)))
        self._cos_prior_cycle_min = float(
            np.cos(
                np.radians(min(settings.cycle_min_inclination_deg + settings.long_axis_tolerance_deg, 90.0))
            )
        )
        self._cos_coast_min = float(np.cos(np.radians(settings.coast_min_inclination_deg)))
        self._cos_cycle_max = float(np.cos(np.radians(settings.cycle_max_inclination_deg)))
        self._cos_lying = float(np.cos(np.radians(settings.lying_rotation_deg)))
        self._cos_cycle_turn = float(np.cos(np.radians(settings.cycle_max_turn_deg)))
        self._previous_gravity: tuple[float, float, float] | None = None  # the last second's direction

    def current_up(self) -> np.ndarray | None:
        # The one-second path keeps it as a tuple of floats.
        return None if self._up_now is None else np.array(self._up_now, np.float64)

    def _remounts(self, first: int, seconds: np.ndarray, worn: np.ndarray, nonwear: np.ndarray) -> np.ndarray:
        """Worn seconds that follow a long enough off-body stretch or data gap: learn again from there."""
        s = self.s
        if worn.all():  # the usual case: only the first second can follow a break
            resets = np.zeros(len(worn), bool)
            resets[0] = (self._nonwear_cumulative - self._nonwear_last_worn >= s.relearn_after_nonwear_s) or (
                first - self._last_worn - 1 >= s.relearn_after_gap_min * 60.0
            )
            self._last_worn = int(seconds[-1])
            self._nonwear_last_worn = self._nonwear_cumulative
            return resets
        last_worn_before = np.concatenate(
            ([self._last_worn], last_index_where(worn, first, self._last_worn)[:-1])
        )
        self._last_worn = int(max(self._last_worn, seconds[worn][-1])) if worn.any() else self._last_worn
        nonwear_through = self._nonwear_cumulative + np.cumsum(nonwear, dtype=np.int64)
        nonwear_before = nonwear_through - nonwear
        # Nonwear seconds between the last worn second and s: count via the running total at that second.
        offset_index = np.minimum(last_worn_before - first, len(worn) - 1)
        at_last_worn = np.where(
            offset_index >= 0, nonwear_through[np.maximum(offset_index, 0)], self._nonwear_last_worn
        )
        nonwear_run = nonwear_before - at_last_worn
        gap_run = seconds - last_worn_before - 1
        resets = worn & (
            (nonwear_run >= s.relearn_after_nonwear_s) | (gap_run >= s.relearn_after_gap_min * 60.0)
        )
        if worn.any():
            self._nonwear_last_worn = int(nonwear_through[np.flatnonzero(worn)[-1]])
        self._nonwear_cumulative = int(nonwear_through[-1])
        return resets

    def _fallback_up(
        self, first: int, learned: np.ndarray, up: np.ndarray, gravity: np.ndarray
    ) -> np.ndarray:
        """The upright direction assumed where none is learned (no calibration): the latest learned one
        if the sensor was ever walked with (a strap goes back on the same way; not for a phone, see
        ``reuse_reference_after_remount``), otherwise the sensor's long axis line (``long_axis``: a
        thigh pod's x, Acti4's convention; a phone's y). Either way a thigh is never upside down, so
        the line is taken with the sign that points upwards."""
        n = len(learned)
        if not self.s.reuse_reference_after_remount:  # the long axis after every re-mount
            prior = np.zeros((n, 3))
        elif learned.all():  # the fallback is not used; only the latest learned direction is kept
            self._prior_up = up[-1].copy()
            return up
        elif learned.any():
            last = last_index_where(learned, first, -1)
            prior = np.empty((n, 3))
            prior[:] = self._prior_up if self._prior_up is not None else 0.0
            in_batch = last >= first
            prior[in_batch] = up[last[in_batch] - first]
            self._prior_up = prior[-1].copy()
        elif self._prior_up is not None:
            prior = np.empty((n, 3))
            prior[:] = self._prior_up
        else:
            prior = np.zeros((n, 3))
        never = ~prior.any(axis=1)
        prior[never, self._long_axis] = 1.0
        sign = np.where(_dot(gravity, prior) >= 0, 1.0, -1.0)
        return prior * sign[:, None]

    def _known_before(
        self, first: int, seconds: np.ndarray, gait: np.ndarray, resets: np.ndarray, first_run: int
    ) -> np.ndarray:
        """Whether the upright reference was learned strictly before each second, had every ``gait``
        second that ends a ``first_run`` run taught. Exact for the seconds up to the first one it is
        true for, which is all that the caller's switch from "gait teaches" to "swinging steps teach"
        needs: after that second the reference stays learned (a segment's count of teaching seconds
        never falls until a reset)."""
        last_not_gait = last_index_where(~gait, first, self._last_not_step)
        teaches = gait & (seconds - last_not_gait >= first_run)
        learned = self._walks.counts(teaches, resets) >= self.s.reference_min_walk_s
        before = np.empty_like(learned)
        before[0] = len(self._walks.recent) >= self.s.reference_min_walk_s
        before[1:] = learned[:-1]
        before[resets] = False
        return before

    def _cycling(
        self,
        first: int,
        worn: np.ndarray,
        moving: np.ndarray,
        seated: np.ndarray,
        steps: np.ndarray,
        swinging_steps: np.ndarray,
        cos_incl: np.ndarray,
        reference_known: np.ndarray,
        steady: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pedalling, riding out of the saddle, and whether the latest moving second was pedalling, per
        second (docs/classifier.md, Rules)."""
        s = self.s
        cycle_min = self._cos_cycle_min if reference_known.all() else self._cos_prior_cycle_min
        if cycle_min != self._cos_cycle_min:  # guessed seconds: the axis's tolerance widens the margin
            cycle_min = np.where(reference_known, self._cos_cycle_min, cycle_min)
        cycling = (
            moving
            & (reference_known | ~swinging_steps)
            & (cos_incl <= cycle_min)
            & (cos_incl > self._cos_cycle_max)
            & steady
        )
        last_moving = last_index_where(worn & moving, first, self._last_moving)
        last_cycling = last_index_where(worn & cycling, first, self._last_cycling)
        self._last_moving, self._last_cycling = int(last_moving[-1]), int(last_cycling[-1])
        # Out of the saddle: a moving, upright thigh with no heel strike since at least ``ride_min_s``
        # pedalling seconds (a ride, not a stray second) is still riding. Walking away starts with
        # steps; of HuGaDB's riding seconds read as walking before this rule, 60 % had none.
        stepped = worn & steps
        last_step = last_index_where(stepped, first, self._last_step)
        pedalled = self._pedalled + np.cumsum(worn & cycling, dtype=np.int64)
        in_batch = last_step >= first
        at_step = np.where(in_batch, pedalled[np.maximum(last_step - first, 0)], self._pedalled_at_step)
        self._last_step, self._pedalled = int(last_step[-1]), int(pedalled[-1])
        self._pedalled_at_step = int(at_step[-1])
        riding = worn & moving & ~seated & ~steps & (pedalled - at_step >= s.ride_min_s)
        return cycling, riding, last_cycling == last_moving

    def label(self, first: int, sums: np.ndarray) -> np.ndarray:
        """Raw labels of seconds ``first ..`` from their rows of sums; the same whichever path runs."""
        if 0 < len(sums) <= FEW_SECONDS:
            rows = sums.tolist()
            return np.array([self.label_second(first + i, row) for i, row in enumerate(rows)], np.int8)
        return self.label_seconds(first, sums)

    def label_seconds(self, first: int, sums: np.ndarray) -> np.ndarray:
        """The array path: any number of seconds in one pass of numpy calls."""
        n_seconds = len(sums)
        if not n_seconds:
            return np.zeros(0, np.int8)
        s = self.s
        seconds = np.arange(first, first + n_seconds, dtype=np.int64)
        window = sums.copy()
        window[0] += self._previous
        window[1:] += sums[:-1]
        window[0, F.MAXM] = max(sums[0, F.MAXM], self._previous[F.MAXM])
        window[1:, F.MAXM] = np.maximum(sums[1:, F.MAXM], sums[:-1, F.MAXM])
        # The smaller of the two seconds' peaks: heel strikes keep coming, a bump is one peak.
        both_peak = sums[:, F.MAXM].copy()
        both_peak[0] = min(both_peak[0], self._previous[F.MAXM])
        np.minimum(both_peak[1:], sums[:-1, F.MAXM], out=both_peak[1:])
        self._previous = sums[-1].copy()

        has_data = sums[:, F.N] > 0
        count = window[:, F.N]
        safe = np.maximum(count, 1.0)
        mean = window[:, F.SX : F.SZ + 1] / safe[:, None]
        variance = window[:, F.SXX : F.SZZ + 1] / safe[:, None] - mean * mean
        sd_total = np.sqrt(np.maximum(_sum3(variance), 0.0))
        has_sd = count >= MIN_SAMPLES_FOR_SD
        # Orientation from the second itself (no half-second lag); movement from the 2-s window.
        own = sums[:, F.SX : F.SZ + 1] / np.maximum(sums[:, F.N], 1.0)[:, None]
        own = np.where(has_data[:, None], own, mean)
        norm = np.sqrt(_dot(own, own))
        gravity = own / np.maximum(norm, 1e-9)[:, None]

        # --- non-wear (see analysis/nonwear.py) -------------------------------------------------------
        celsius = self.temperature.at(first, n_seconds) if self.temperature else None
        nonwear = self._nonwear.detect(first, has_data, has_sd, sd_total, celsius)
        worn = has_data & ~nonwear

        resets = self._remounts(first, seconds, worn, nonwear)

        # --- upright reference from steps (rotation invariant) ---------------------------------------
        moving = has_sd & (sd_total > s.move_sd_g)
        # Steps swing the thigh: its direction changes far more than its length (real walking: the SD
        # of |a| is 0.55 of the vector's SD, median). Pedalling and vehicles load the thigh along its
        # length (real cycling: 0.81): before a reference is known, such peaks are not taken for walking.
        steps = worn & moving & (both_peak > s.step_peak_g)
        if steps.any():
            magnitude_var = _sum3(window[:, F.SXX : F.SZZ + 1]) / safe - (window[:, F.SM] / safe) ** 2
            swinging_steps = steps & (magnitude_var < (s.step_swing_ratio**2) * _sum3(variance))
        else:
            swinging_steps = steps
        # What teaches (docs/classifier.md, "Pedalling must not teach"): sustained gait, never pedal
        # strokes, which peak like steps. Gait is a step second that swings (a walking thigh turns:
        # |a| SD 0.55 of the vector's, real; pedalling loads it: 0.82), or one that the sensor's long
        # axis does not put at a saddle's inclination (a phone high in a pocket walks at 0.56-0.82 but
        # along its long axis). Before a reference exists, the first one comes from one walk: the end
        # of a run of step_sustained_s + reference_min_walk_s - 1 gait seconds (isolated 4-s runs of
        # pedal strokes, minutes apart, once added up to a reference). Once it exists, only swinging
        # steps that end a step_sustained_s run teach: a loaded stepping thigh may be pedalling at any
        # angle the guess cannot judge, and a ride after a walk must not turn the reference.
        if self._last_not_step is None:
            self._last_not_step = first - 1
        first_run = s.step_sustained_s + s.reference_min_walk_s - 1
        if steps.any():
            along_axis = np.abs(gravity[:, self._long_axis])
            saddle = (along_axis <= self._cos_prior_cycle_min) & (along_axis > self._cos_cycle_max)
            gait = steps & (swinging_steps | ~saddle)
            known_before = self._known_before(first, seconds, gait, resets, first_run)
            if known_before.any():
                gait = np.where(known_before, swinging_steps, gait)
            needed = np.where(known_before, s.step_sustained_s, first_run)
        else:
            gait, needed = steps, first_run
        last_not_step = last_index_where(~gait, first, self._last_not_step)
        self._last_not_step = int(last_not_step[-1])
        teaches = gait & (seconds - last_not_step >= needed)
        step_units = quantise_units(gravity) if teaches.any() else _NO_UNITS
        walk_sums, walk_counts = self._walks.update(teaches, step_units, resets)
        walk_sums = walk_sums.astype(np.float64)  # int64 squares of long sums would overflow
        learned = walk_counts >= s.reference_min_walk_s
        up = walk_sums / np.maximum(np.sqrt(_dot(walk_sums, walk_sums)), 1.0)[:, None]
        if self.calibration_up is not None:
            fallback = np.empty_like(up)
            fallback[:] = self.calibration_up
        else:
            fallback = self._fallback_up(first, learned, up, gravity)
        up = np.where(learned[:, None], up, fallback)
        self._up_now = up[-1].copy() if learned[-1] or self.calibration_up is not None else None
        # Angles are compared through their cosines (same decisions, no arccos per second).
        cos_incl = _dot(gravity, up)
        seated = cos_incl <= self._cos_sit

        # --- sitting vs lying: rotation about the thigh axis against the learned sitting direction ------
        sedentary = worn & seated & ~moving
        # The front of the thigh is learned where it is unambiguous: the first seconds after sitting down
        # from upright (one sits before lying down; rolling over while lying teaches nothing).
        upright_worn = worn & ~seated
        last_upright = last_index_where(upright_worn, first, self._last_upright)
        self._last_upright = int(last_upright[-1])
        if seated.any():
            across = gravity - cos_incl[:, None] * up
            across_unit = across / np.maximum(np.sqrt(_dot(across, across)), 1e-9)[:, None]
            just_sat = sedentary & learned & (seconds - last_upright <= s.forward_learn_after_upright_s)
            units = quantise_units(across_unit) if just_sat.any() else _NO_UNITS
            forward_sums, forward_counts = self._sedentary.update(just_sat, units, resets)
            forward_sums = forward_sums.astype(np.float64)  # int64 squares of long sums would overflow
            forward = forward_sums / np.maximum(np.sqrt(_dot(forward_sums, forward_sums)), 1.0)[:, None]
            rotated = _dot(across_unit, forward) < self._cos_lying
            lying = learned & (forward_counts >= s.forward_min_sedentary_s) & rotated
        else:  # nobody sits: nothing to learn or decide about lying, but a re-mount still resets
            self._sedentary.update(np.zeros(n_seconds, bool), _NO_UNITS, resets)
            lying = np.zeros(n_seconds, bool)

        # --- rules, in priority order -----------------------------------------------------------------
        labels = np.full(n_seconds, _STANDING, np.int8)
        reference_known = learned | (self.calibration_up is not None)
        # How far the thigh turned since the second before (its direction, with or without data).
        before = np.empty_like(gravity)
        before[1:] = gravity[:-1]
        before[0] = self._previous_gravity if self._previous_gravity is not None else gravity[0]
        self._previous_gravity = tuple(gravity[-1].tolist())
        if moving.any():
            steady = _dot(gravity, before) >= self._cos_cycle_turn
            cycling, riding, after_pedalling = self._cycling(
                first, worn, moving, seated, steps, swinging_steps, cos_incl, reference_known, steady
            )
        else:  # nothing moves: no pedalling, no step, and the latest moving second is the carried one
            cycling = riding = np.zeros(n_seconds, bool)
            after_pedalling = self._last_cycling == self._last_moving
        # Coasting, or stopped on the saddle: the thigh keeps the bike's flexion while it is still, so a
        # still second inclined like a thigh on a saddle (Acti4's 25 deg: standing thighs stay below it,
        # real ones 99 % under 22 deg) after cycling (the latest moving second) is still cycling.
        coasting = worn & ~moving & ~seated & (cos_incl <= self._cos_coast_min) & after_pedalling
        labels[seated] = _SITTING
        labels[seated & lying] = _LYING
        labels[moving & ~seated] = _WALKING
        labels[cycling | coasting | riding] = _CYCLING
        # Before a reference is known, steps are the better evidence of walking than the guessed angle:
        # swinging steps whatever the angle says, and any steps where the guess says "seated".
        guessed = ~reference_known
        labels[guessed & ((swinging_steps & (cos_incl > self._cos_cycle_max)) | (steps & seated))] = _WALKING
        labels[nonwear] = _NONWEAR
        labels[~has_data] = _UNKNOWN
        return labels


def _sum3(a: np.ndarray) -> np.ndarray:
    """Row sums of an (n, 3) array; column adds are several times faster than ``sum(axis=1)``."""
    return (a[:, 0] + a[:, 1]) + a[:, 2]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _sum3(a * b)
