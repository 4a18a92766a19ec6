"""The simulated person's day: a list of posture segments with drawn per-episode thigh angles.

The schedule is built for the whole simulated duration before any signal is made. It is cheap (a week is
a few thousand segments) and it is what makes ``simulate_chunks`` exact: every sample is a function of
its index, the schedule and seeded per-block noise, so any cut of the sample range gives the same data.

Angles are in the thigh frame described in ``sitless.firmware_bridge.simulate``: ``phi`` is the signed angle of
the thigh long axis from vertical (positive = knee forward/up, 90 = horizontal as when sitting) and
``psi`` is the rotation of the thigh about its own long axis (0 = front of the thigh facing the way the
thigh tilts, i.e. up when sitting; +-90 = lying on a side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sitless.analysis.postures import Posture

DAY_S = 86400.0
MIN_SEGMENT_S = 3.0
#: Longest gap between taking the sensor off and putting it back on that we draw for a desk spell.
DESK_NONWEAR_MAX_S = 60 * 60.0


@dataclass(frozen=True)
class Schedule:
    """Segment arrays (one row per pose segment; a posture episode may hold several poses).

    ``start[i]`` is seconds from the simulation start; segment i ends where i+1 starts. ``trans[i]`` is
    the duration of the smooth transition centred on ``start[i]`` (from pose i-1 to pose i).
    Events (fidgets, weight shifts) are temporary deviations that never change the posture.
    """

    start: np.ndarray
    posture: np.ndarray
    phi: np.ndarray
    psi: np.ndarray
    amp: np.ndarray
    freq: np.ndarray
    phase: np.ndarray
    sway: np.ndarray
    bounce: np.ndarray
    impact: np.ndarray
    extra_noise: np.ndarray
    trans: np.ndarray
    ev_start: np.ndarray
    ev_end: np.ndarray
    ev_dphi: np.ndarray
    ev_dpsi: np.ndarray
    ev_jig: np.ndarray
    ev_jig_freq: np.ndarray
    gaps: np.ndarray  # (K, 2) disconnect intervals in seconds from start, sorted, non-overlapping
    duration_s: float

    def segment_at(self, tau: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.start, tau, side="right") - 1, 0, len(self.start) - 1)

    def truth_codes(self, first_second: int, stop_second: int) -> np.ndarray:
        """Posture of each second [s, s+1): the segment holding its midpoint."""
        mid = np.arange(first_second, stop_second, dtype=np.float64) + 0.5
        return self.posture[self.segment_at(mid)].astype(np.int8)


class _Person:
    """Traits drawn once per seed so episodes vary around a personal habit, as in real people."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.sit_phi = float(rng.normal(78.0, 4.0))
        self.stand_phi = float(rng.uniform(5.0, 11.0))
        self.walk_phi = float(rng.uniform(4.0, 10.0))
        self.walk_amp = float(rng.uniform(19.0, 25.0))
        self.stride_hz = float(rng.uniform(0.85, 1.0))
        self.cadence_hz = float(rng.uniform(1.0, 1.5))
        self.cycle_low = float(rng.uniform(17.0, 25.0))
        self.cycle_high = float(rng.uniform(62.0, 72.0))
        self.external_rotation_sign = float(rng.choice([-1.0, 1.0]))
        # The charger holds the sensor in one fixed, arbitrary orientation (sensor frame).
        v = rng.normal(size=3)
        self.charger_vector = v / np.linalg.norm(v)


class ScheduleBuilder:
    """Appends segments at a cursor; activity methods draw their own parameters."""

    def __init__(self, rng: np.random.Generator, duration_s: float, rotation: np.ndarray) -> None:
        self.rng = rng
        self.duration_s = duration_s
        self.rotation = rotation
        self.person = _Person(rng)
        self.cursor = 0.0
        self.rows: list[tuple] = []
        self.events: list[tuple] = []
        self.nonwear_done = False

    # -- low level -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.cursor >= self.duration_s

    def _segment(self, posture: Posture, seconds: float, phi: float, psi: float, **kw: float) -> float:
        seconds = max(MIN_SEGMENT_S, float(seconds))
        trans = float(kw.pop("trans", self.rng.uniform(1.0, 2.0)))
        self.rows.append(
            (
                self.cursor,
                int(posture),
                phi,
                psi,
                kw.get("amp", 0.0),
                kw.get("freq", 0.0),
                kw.get("phase", float(self.rng.uniform(0, 1))),
                kw.get("sway", 0.0),
                kw.get("bounce", 0.0),
                kw.get("impact", 0.0),
                kw.get("extra_noise", 0.0),
                trans if self.rows else 0.0,
            )
        )
        begin = self.cursor
        self.cursor += seconds
        return begin

    def _event(
        self, start: float, seconds: float, dphi: float, dpsi: float, jig: float, jig_hz: float
    ) -> None:
        self.events.append((start, start + seconds, dphi, dpsi, jig, jig_hz))

    def _fill_events(self, begin: float, end: float, mean_gap_s: float, make) -> None:
        """Non-overlapping temporary events inside [begin, end), away from the segment edges."""
        t = begin + 3.0 + self.rng.exponential(mean_gap_s)
        while True:
            seconds = float(self.rng.uniform(1.5, 5.0))
            if t + seconds > end - 3.0:
                break
            dphi, dpsi, jig, jig_hz = make()
            self._event(t, seconds, dphi, dpsi, jig, jig_hz)
            t += seconds + 1.0 + self.rng.exponential(mean_gap_s)

    def remaining(self, until: float) -> float:
        return min(until, self.duration_s) - self.cursor

    # -- postures --------------------------------------------------------------------------------
    def sit(self, seconds: float) -> None:
        """Mostly still; the thigh rotation shifts now and then (legs crossed, slouching); fidgets."""
        rng, p = self.rng, self.person
        end = self.cursor + seconds
        episode_phi = float(np.clip(rng.normal(p.sit_phi, 5.0), 67.0, 97.0))
        while self.cursor < end - 1e-9:
            left = end - self.cursor
            part = left if left < 8 * 60 else min(left, float(rng.uniform(4, 30)) * 60)
            if 0 < left - part < MIN_SEGMENT_S:
                part = left
            phi = float(np.clip(episode_phi + rng.normal(0, 3.0), 66.0, 98.0))
            psi = float(np.clip(rng.normal(0, 12.0), -35.0, 35.0))
            begin = self._segment(Posture.SITTING, part, phi, psi, sway=0.5, extra_noise=0.005)
            self._fill_events(
                begin,
                begin + part,
                90.0,
                lambda: (
                    float(rng.uniform(-3, 3)),
                    float(rng.uniform(-6, 6)),
                    float(rng.choice([0.0, rng.uniform(0.3, 1.0)])),
                    float(rng.uniform(3.0, 5.0)),
                ),
            )

    def stand(self, seconds: float) -> None:
        rng, p = self.rng, self.person
        phi = float(np.clip(rng.normal(p.stand_phi, 3.0), 1.0, 15.0))
        psi = float(rng.normal(0.0, 15.0))
        begin = self._segment(Posture.STANDING, seconds, phi, psi, sway=1.0, extra_noise=0.008)
        self._fill_events(
            begin,
            begin + seconds,
            40.0,
            lambda: (float(rng.uniform(-3, 3)), float(rng.uniform(-5, 5)), 0.0, 1.0),
        )

    def walk(self, seconds: float) -> None:
        rng, p = self.rng, self.person
        self._segment(
            Posture.WALKING,
            seconds,
            float(np.clip(rng.normal(p.walk_phi, 1.5), 2.0, 12.0)),
            float(rng.normal(0.0, 6.0)),
            amp=float(np.clip(rng.normal(p.walk_amp, 1.5), 17.0, 27.0)),
            freq=float(np.clip(rng.normal(p.stride_hz, 0.04), 0.8, 1.05)),
            bounce=float(rng.uniform(0.15, 0.3)),
            impact=1.0,
            extra_noise=0.02,
        )

    def cycle(self, seconds: float) -> None:
        rng, p = self.rng, self.person
        low = float(np.clip(rng.normal(p.cycle_low, 2.0), 15.0, 28.0))
        high = float(np.clip(rng.normal(p.cycle_high, 2.5), 58.0, 75.0))
        self._segment(
            Posture.CYCLING,
            seconds,
            (low + high) / 2,
            float(rng.normal(0.0, 6.0)),
            amp=(high - low) / 2,
            freq=float(np.clip(rng.normal(p.cadence_hz, 0.08), 0.95, 1.55)),
            extra_noise=0.04,
        )

    def lie(self, seconds: float) -> None:
        """Lying: thigh about horizontal, rolled onto a side, the back (external rotation) or front."""
        rng, p = self.rng, self.person
        end = self.cursor + seconds
        while self.cursor < end - 1e-9:
            left = end - self.cursor
            part = left if left < 25 * 60 else min(left, float(rng.uniform(15, 90)) * 60)
            if 0 < left - part < MIN_SEGMENT_S:
                part = left
            kind = rng.choice(3, p=[0.5, 0.35, 0.15])
            if kind == 0:
                psi = float(rng.choice([-1.0, 1.0]) * rng.uniform(70, 105))
            elif kind == 1:
                psi = float(p.external_rotation_sign * rng.uniform(40, 75))
            else:
                psi = float(180.0 + rng.normal(0, 20.0))
            phi = float(np.clip(rng.normal(88.0, 4.0), 78.0, 100.0))
            self._segment(Posture.LYING, part, phi, psi, sway=0.2)

    def nonwear(self, seconds: float, on_charger: bool = False) -> None:
        """Sensor off the body: still on a desk (one flat face up) or in a charger."""
        rng = self.rng
        if on_charger:
            sensor_up = self.person.charger_vector
        else:
            face = np.array([0.0, 0.0, rng.choice([-1.0, 1.0])])  # a flat sensor rests on a large face
            tilt = rng.normal(0, 0.03, size=3)
            sensor_up = (face + tilt) / np.linalg.norm(face + tilt)
        thigh_up = self.rotation.T @ sensor_up
        phi = math.degrees(math.acos(float(np.clip(thigh_up[0], -1.0, 1.0))))
        psi = math.degrees(math.atan2(-float(thigh_up[1]), float(thigh_up[2])))
        self._segment(Posture.NONWEAR, seconds, phi, psi, trans=float(rng.uniform(1.5, 2.0)))
        self.nonwear_done = True

    # -- output ----------------------------------------------------------------------------------
    def build(self, gaps: np.ndarray) -> Schedule:
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, 12)
        ev = np.array(sorted(self.events), dtype=np.float64).reshape(-1, 6)
        return Schedule(
            start=rows[:, 0].copy(),
            posture=rows[:, 1].astype(np.int8),
            phi=rows[:, 2].copy(),
            psi=rows[:, 3].copy(),
            amp=rows[:, 4].copy(),
            freq=rows[:, 5].copy(),
            phase=rows[:, 6].copy(),
            sway=rows[:, 7].copy(),
            bounce=rows[:, 8].copy(),
            impact=rows[:, 9].copy(),
            extra_noise=rows[:, 10].copy(),
            trans=rows[:, 11].copy(),
            ev_start=ev[:, 0].copy(),
            ev_end=ev[:, 1].copy(),
            ev_dphi=ev[:, 2].copy(),
            ev_dpsi=ev[:, 3].copy(),
            ev_jig=ev[:, 4].copy(),
            ev_jig_freq=ev[:, 5].copy(),
            gaps=gaps,
            duration_s=self.duration_s,
        )


def draw_disconnects(rng: np.random.Generator, duration_s: float, per_hour: float) -> np.ndarray:
    """Poisson disconnects, each losing 5-120 s of data; overlapping ones are merged."""
    if per_hour <= 0 or duration_s <= 0:
        return np.empty((0, 2))
    count = int(rng.poisson(per_hour * duration_s / 3600.0))
    starts = np.sort(rng.uniform(0.0, duration_s, count))
    ends = starts + rng.uniform(5.0, 120.0, count)
    merged: list[list[float]] = []
    for s, e in zip(starts, ends, strict=True):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([float(s), float(e)])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)
