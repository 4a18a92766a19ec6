"""The labeller's rules for one second at a time, in plain Python floats: the live path's usual call.

Why a second path: live BLE packets complete one second at a time, and on a one-row batch the array
path (``SecondLabeller.label_seconds``) pays numpy's fixed cost of a microsecond or more on each of its ~70
calls, for what is a few dozen float operations. This path does those operations on Python floats.

Why its labels are the array path's, bit for bit: every value is computed by the same IEEE-754 double
operations in the same order (``_sum3``'s ``(a + b) + c``, ``x * x`` for numpy's ``x ** 2``, the same
divisions and correctly rounded square roots), so each float has the same bits and every threshold
sees the same number; integer run lengths are Python ints. The state carried between seconds is the
labeller's own, read and written the same way, so a stream may switch between the two paths at any
second (``tests/classifier/test_one_second_labeller.py`` checks both on real and simulated data).
Seconds that change the reference windows (a teaching step, a first sitting second, a re-mount) are
rare; for them the windows' own array ``update`` runs on one-row arrays, so that arithmetic exists once.
"""

from __future__ import annotations

import math

import numpy as np

from sitless.analysis import features as F
from sitless.analysis.postures import Posture
from sitless.analysis.reference import quantise_units

#: Fewest samples in the 2-s window for an SD to mean anything (12.5 Hz gives 25).
MIN_SAMPLES_FOR_SD = 4
# Posture codes as plain ints: numpy converts an IntEnum more slowly, once per second on the live path.
_UNKNOWN, _NONWEAR, _SITTING, _STANDING, _WALKING, _LYING, _CYCLING = (
    int(Posture.UNKNOWN), int(Posture.NONWEAR), int(Posture.SITTING), int(Posture.STANDING),
    int(Posture.WALKING), int(Posture.LYING), int(Posture.CYCLING),
)  # fmt: skip

_NO_UNITS = np.zeros((0, 3), np.int64)
_ONE_TRUE = np.ones(1, bool)
_ONE_TRUE.flags.writeable = False
_ONE_FALSE = np.zeros(1, bool)
_ONE_FALSE.flags.writeable = False
_Vector = tuple[float, float, float]


class OneSecondRules:
    """The one-second path of ``SecondLabeller``, which inherits it: a mixin, so that both paths read
    and write the one state (nothing to keep in step) while each lives in a module of readable size."""

    def label_second(self, second: int, row: list[float]) -> int:
        """The raw label of ``second`` from its row of sums (a list of floats), as the array path
        labels a one-row batch, updating the same state."""
        s = self.s
        previous = self._previous if isinstance(self._previous, list) else self._previous.tolist()
        self._previous = row
        # The 2-s window (previous second + this one), summed as the array path sums it: row + previous.
        n, sx, sy, sz, sxx, syy, szz, peak, sm = row
        count = n + previous[F.N]
        both_peak = min(peak, previous[F.MAXM])
        safe = max(count, 1.0)
        mx, my, mz = (sx + previous[F.SX]) / safe, (sy + previous[F.SY]) / safe, (sz + previous[F.SZ]) / safe
        wxx, wyy, wzz = sxx + previous[F.SXX], syy + previous[F.SYY], szz + previous[F.SZZ]
        variance = ((wxx / safe - mx * mx) + (wyy / safe - my * my)) + (wzz / safe - mz * mz)
        sd_total = math.sqrt(max(variance, 0.0))
        has_data = n > 0
        has_sd = count >= MIN_SAMPLES_FOR_SD
        if has_data:
            own_n = max(n, 1.0)
            gx, gy, gz = sx / own_n, sy / own_n, sz / own_n
        else:
            gx, gy, gz = mx, my, mz
        norm = max(math.sqrt((gx * gx + gy * gy) + gz * gz), 1e-9)
        gx, gy, gz = gx / norm, gy / norm, gz / norm
        bx, by, bz = self._previous_gravity if self._previous_gravity is not None else (gx, gy, gz)
        self._previous_gravity = (gx, gy, gz)

        celsius = float(self.temperature.at(second, 1)[0]) if self.temperature else None
        nonwear = self._nonwear.detect_second(second, has_data, has_sd, sd_total, celsius)
        worn = has_data and not nonwear
        reset = self._remount_second(second, worn, nonwear)

        moving = has_sd and sd_total > s.move_sd_g
        steps = worn and moving and both_peak > s.step_peak_g
        swinging = False
        if steps:
            magnitude_mean = (sm + previous[F.SM]) / safe
            magnitude_var = ((wxx + wyy) + wzz) / safe - magnitude_mean * magnitude_mean
            swinging = magnitude_var < (s.step_swing_ratio**2) * variance
        if self._last_not_step is None:
            self._last_not_step = second - 1
        needed = s.step_sustained_s + s.reference_min_walk_s - 1
        gait = False
        if steps:
            along_axis = abs((gx, gy, gz)[self._long_axis])
            saddle = along_axis <= self._cos_prior_cycle_min and along_axis > self._cos_cycle_max
            gait = swinging or not saddle
            if not reset and len(self._walks.recent) >= s.reference_min_walk_s:  # learned before this second
                gait, needed = swinging, s.step_sustained_s
        if not gait:
            self._last_not_step = second
        teaches = gait and second - self._last_not_step >= needed
        walks = self._walks
        if teaches or reset:
            units = quantise_units(np.array([[gx, gy, gz]])) if teaches else _NO_UNITS
            walks.update(_ONE_TRUE if teaches else _ONE_FALSE, units, _ONE_TRUE if reset else _ONE_FALSE)
        learned = len(walks.recent) >= s.reference_min_walk_s
        # The window's sum through this second, as floats: the array path squares float64s, not integers.
        wx, wy, wz = map(float, walks.total.tolist())
        scale = max(math.sqrt((wx * wx + wy * wy) + wz * wz), 1.0)
        up: _Vector = (wx / scale, wy / scale, wz / scale)
        if not learned:
            up = self._fallback_up_second((gx, gy, gz))
        elif self.calibration_up is None and s.reuse_reference_after_remount:
            self._prior_up = up
        self._up_now = up if learned or self.calibration_up is not None else None
        ux, uy, uz = up
        cos_incl = (gx * ux + gy * uy) + gz * uz
        seated = cos_incl <= self._cos_sit

        sedentary = worn and seated and not moving
        if worn and not seated:
            self._last_upright = second
        lying = False
        if seated:
            ax, ay, az = gx - cos_incl * ux, gy - cos_incl * uy, gz - cos_incl * uz
            length = max(math.sqrt((ax * ax + ay * ay) + az * az), 1e-9)
            ax, ay, az = ax / length, ay / length, az / length
            just_sat = (
                sedentary and learned and second - self._last_upright <= s.forward_learn_after_upright_s
            )
            sitting = self._sedentary
            if just_sat or reset:  # the sums strictly before this second: what update returns
                units = quantise_units(np.array([[ax, ay, az]])) if just_sat else _NO_UNITS
                sums, counts = sitting.update(
                    _ONE_TRUE if just_sat else _ONE_FALSE, units, _ONE_TRUE if reset else _ONE_FALSE
                )
                total, forward_count = sums[0].tolist(), int(counts[0])
            else:
                total, forward_count = sitting.total.tolist(), sitting.count
            fx, fy, fz = map(float, total)
            scale = max(math.sqrt((fx * fx + fy * fy) + fz * fz), 1.0)
            rotated = (ax * (fx / scale) + ay * (fy / scale)) + az * (fz / scale) < self._cos_lying
            lying = learned and forward_count >= s.forward_min_sedentary_s and rotated
        elif reset:  # nobody sits, but a re-mount still empties the sitting direction's window
            self._sedentary.update(_ONE_FALSE, _NO_UNITS, _ONE_TRUE)

        reference_known = learned or self.calibration_up is not None
        cycling = riding = False
        if moving:
            cycle_min = self._cos_cycle_min if reference_known else self._cos_prior_cycle_min
            steady = (gx * bx + gy * by) + gz * bz >= self._cos_cycle_turn
            cycling = (
                (reference_known or not swinging) and self._cos_cycle_max < cos_incl <= cycle_min and steady
            )
            if worn:
                self._last_moving = second
                if cycling:
                    self._last_cycling = second
                    self._pedalled += 1
                if steps:
                    self._last_step, self._pedalled_at_step = second, self._pedalled
            riding = (
                worn and not seated and not steps and self._pedalled - self._pedalled_at_step >= s.ride_min_s
            )
        coasting = (
            worn
            and not moving
            and not seated
            and cos_incl <= self._cos_coast_min
            and self._last_cycling == self._last_moving
        )
        # The array path's rules, highest priority first (it assigns them lowest first).
        if not has_data:
            return _UNKNOWN
        if nonwear:
            return _NONWEAR
        if not reference_known and ((swinging and cos_incl > self._cos_cycle_max) or (steps and seated)):
            return _WALKING
        if cycling or coasting or riding:
            return _CYCLING
        if moving:
            return _WALKING if not seated else (_LYING if lying else _SITTING)
        return (_LYING if lying else _SITTING) if seated else _STANDING

    def _remount_second(self, second: int, worn: bool, nonwear: bool) -> bool:
        """Whether this worn second follows a long enough off-body stretch or data gap (``_remounts``)."""
        if not worn:
            self._nonwear_cumulative += nonwear
            return False
        s = self.s
        reset = (self._nonwear_cumulative - self._nonwear_last_worn >= s.relearn_after_nonwear_s) or (
            second - self._last_worn - 1 >= s.relearn_after_gap_min * 60.0
        )
        self._last_worn = second
        self._nonwear_last_worn = self._nonwear_cumulative
        return reset

    def _fallback_up_second(self, gravity: _Vector) -> _Vector:
        """The upright direction assumed while none is learned (``SecondLabeller._fallback_up``)."""
        if self.calibration_up is not None:
            return tuple(self.calibration_up.tolist())
        prior = self._prior_up if self.s.reuse_reference_after_remount else None
        if prior is None or not any(prior):
            px, py, pz = (1.0 if axis == self._long_axis else 0.0 for axis in range(3))
        else:
            px, py, pz = prior if isinstance(prior, tuple) else prior.tolist()
        gx, gy, gz = gravity
        sign = 1.0 if (gx * px + gy * py) + gz * pz >= 0 else -1.0
        return (px * sign, py * sign, pz * sign)
