"""Synthetic office days with their ground truth, for the store/report tests and the benchmark.

The generator decides the bouts itself (a bout is a list of sitting segments, possibly with a short
BLE dropout between them) and records them, so the truth is what was *meant*, computed by plain
interval arithmetic here, independently of ``sitless.analysis.metrics``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from sitless.analysis.postures import Posture, PostureSeconds

UPRIGHT_CHOICES = (Posture.STANDING, Posture.WALKING, Posture.CYCLING)


@dataclass
class Truth:
    """What the generator meant: bouts as sitting segments, break times, seconds per posture."""

    bouts: list[list[tuple[int, int]]] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)


@dataclass
class _Writer:
    start: int
    codes: list[np.ndarray] = field(default_factory=list)
    cursor: int = 0
    truth: Truth = field(default_factory=Truth)
    last_was_bout: bool = False

    def __post_init__(self) -> None:
        self.cursor = self.start

    def put(self, posture: Posture, seconds: int) -> None:
        if seconds <= 0:
            return
        if self.last_was_bout and posture in UPRIGHT_CHOICES:
            self.truth.breaks.append(self.cursor)
        self.last_was_bout = False
        self.codes.append(np.full(seconds, posture, np.int8))
        self.cursor += seconds

    def bout(self, rng: np.random.Generator, seconds: int, dropout: bool) -> None:
        """A sitting bout of ``seconds`` sitting seconds, with an optional 20-100 s data gap inside."""
        segments = []
        if dropout and seconds > 300:
            first = int(rng.integers(60, seconds - 60))
            gap = int(rng.integers(20, 101))
            segments = [(self.cursor, self.cursor + first)]
            self.put(Posture.SITTING, first)
            self.put(Posture.UNKNOWN, gap)
            segments.append((self.cursor, self.cursor + seconds - first))
            self.put(Posture.SITTING, seconds - first)
        else:
            segments = [(self.cursor, self.cursor + seconds)]
            self.put(Posture.SITTING, seconds)
        self.truth.bouts.append(segments)
        self.last_was_bout = True

    def series(self) -> PostureSeconds:
        return PostureSeconds(self.start, np.concatenate(self.codes))


def _minutes(rng: np.random.Generator, lo: float, hi: float) -> int:
    return int(rng.uniform(lo, hi) * 60)


def _work_block(w: _Writer, rng: np.random.Generator, until: int) -> None:
    while w.cursor < until - 600:
        length = min(int(rng.lognormal(np.log(22 * 60), 0.8)), until - w.cursor - 300)
        if length >= 30:
            w.bout(rng, max(length, 30), dropout=rng.random() < 0.15)
        w.put(UPRIGHT_CHOICES[int(rng.integers(0, 2))], _minutes(rng, 0.5, 5))
    w.put(Posture.STANDING, max(0, until - w.cursor))


def simulate_days(
    first_day: dt.date, days: int, tz: dt.tzinfo, seed: int = 1
) -> tuple[PostureSeconds, Truth]:
    """``days`` local days of an office worker from local midnight of ``first_day``.

    Nights are lying (worn in bed) or non-wear; the evening's sofa bout sometimes runs past midnight,
    so bouts clipped at midnight are exercised. Weekends have no commute and longer sitting.
    """
    rng = np.random.default_rng(seed)
    midnight = int(dt.datetime.combine(first_day, dt.time(0), tzinfo=tz).timestamp())
    w = _Writer(midnight)
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        base = int(dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp())
        end_of_day = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).timestamp())
        wake = base + 7 * 3600 + _minutes(rng, 0, 30)
        night = Posture.LYING if rng.random() < 0.5 else Posture.NONWEAR
        w.put(night, wake - w.cursor)
        w.put(Posture.WALKING, _minutes(rng, 3, 8))
        w.put(Posture.STANDING, _minutes(rng, 5, 15))
        w.bout(rng, _minutes(rng, 10, 25), dropout=False)  # breakfast
        if day.weekday() < 5:
            w.put(Posture.CYCLING if rng.random() < 0.4 else Posture.WALKING, _minutes(rng, 10, 25))
            _work_block(w, rng, base + 12 * 3600)
            w.put(Posture.WALKING, _minutes(rng, 5, 15))
            w.bout(rng, _minutes(rng, 15, 35), dropout=False)  # lunch
            w.put(Posture.WALKING, _minutes(rng, 3, 10))
            _work_block(w, rng, base + 17 * 3600)
            w.put(Posture.WALKING, _minutes(rng, 10, 25))
        else:
            w.put(Posture.STANDING, _minutes(rng, 2, 10))
            _work_block(w, rng, base + 16 * 3600)
            w.put(Posture.WALKING, _minutes(rng, 30, 90))
        w.put(Posture.STANDING, _minutes(rng, 20, 50))  # cooking
        w.bout(rng, _minutes(rng, 20, 40), dropout=rng.random() < 0.5)  # dinner
        w.put(Posture.STANDING, _minutes(rng, 2, 10))
        w.bout(rng, _minutes(rng, 30, 120), dropout=rng.random() < 0.3)  # sofa
        w.put(Posture.WALKING, _minutes(rng, 1, 5))
        sofa_end = base + 22 * 3600 + _minutes(rng, 30, 150)  # sometimes after midnight
        if sofa_end > w.cursor + 60:
            w.bout(rng, sofa_end - w.cursor, dropout=rng.random() < 0.3)
        w.put(Posture.WALKING, _minutes(rng, 1, 3))
        if w.cursor < end_of_day and i == days - 1:
            w.put(Posture.LYING, end_of_day - w.cursor)
    return w.series(), w.truth


def truth_for_day(truth: Truth, series: PostureSeconds, t0: int, t1: int) -> dict:
    """Plain interval arithmetic: sitting minutes, bouts clipped to [t0, t1), breaks in it."""
    clipped = []
    for segments in truth.bouts:
        inside = sum(max(0, min(e, t1) - max(s, t0)) for s, e in segments)
        if inside > 0:
            clipped.append(inside / 60.0)
    a, b = max(t0, series.start), min(t1, series.end)
    part = series.codes[a - series.start : b - series.start]
    return {
        "bout_minutes": clipped,
        "sitting_min": float(np.sum(part == Posture.SITTING)) / 60.0,
        "walking_min": float(np.sum(part == Posture.WALKING)) / 60.0,
        "breaks": sum(t0 <= t < t1 for t in truth.breaks),
        "bouts_30min": sum(x >= 30 for x in clipped),
        "bouts_60min": sum(x >= 60 for x in clipped),
        "longest_bout_min": max(clipped) if clipped else None,
    }
