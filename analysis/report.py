"""The weekly report as a plain dict (the JSON summary), built from one week of per-second postures.

The store and the time zone stay outside: ``sitless.weekly`` queries the store, works out the local
midnights and hands over a ``WeekData``; everything here is pure and testable with hand-made arrays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sitless.analysis.metrics import (
    BRIDGE_UNKNOWN_S,
    Bouts,
    break_seconds,
    distribution_summary,
    minutes_in_band,
    period_summary,
    sitting_bouts,
)
from sitless.analysis.postures import Posture, PostureSeconds

#: Schema version of the JSON summary (bump on an incompatible change; consumers check it).
REPORT_SCHEMA = 1


@dataclass(frozen=True)
class PromptEvent:
    ts: float
    exercise: str
    stood_after_s: float | None


@dataclass(frozen=True)
class WeekData:
    """One ISO week of postures in a local time zone.

    ``postures`` starts at least ``BRIDGE_UNKNOWN_S`` seconds before ``day_starts[0]`` when data allows
    (so a break just after midnight on Monday is seen) and covers up to ``day_starts[-1]``.
    ``day_starts`` holds the epoch second of each local midnight: one more entry than there are days.
    """

    week: str
    timezone: str
    dates: list[str]
    day_starts: list[int]
    postures: PostureSeconds
    prompts: list[PromptEvent] = field(default_factory=list)
    #: Busy calendar intervals [(start, end)] in epoch seconds; None when no calendar is configured.
    busy: list[tuple[float, float]] | None = None

    def day_codes(self, i: int) -> np.ndarray:
        return self.codes_between(self.day_starts[i], self.day_starts[i + 1])

    def codes_between(self, t0: int, t1: int) -> np.ndarray:
        """Codes for ``[t0, t1)``, UNKNOWN where the series has no data."""
        out = np.zeros(max(0, t1 - t0), np.int8)
        a, b = max(t0, self.postures.start), min(t1, self.postures.end)
        if b > a:
            out[a - t0 : b - t0] = self.postures.codes[a - self.postures.start : b - self.postures.start]
        return out

    def has_data(self) -> bool:
        codes = self.codes_between(self.day_starts[0], self.day_starts[-1])
        return bool(np.any(codes != Posture.UNKNOWN))


@dataclass(frozen=True)
class DayDetail:
    """What the figures need beyond the JSON: the day's bouts, breaks and per-hour upright seconds."""

    date: str
    start: int
    codes: np.ndarray
    bouts: Bouts
    breaks: np.ndarray


def day_details(week: WeekData) -> list[DayDetail]:
    lead = week.day_starts[0] - BRIDGE_UNKNOWN_S - 1
    all_codes = week.codes_between(lead, week.day_starts[-1])
    all_breaks = break_seconds(all_codes, lead)
    details = []
    for i, date in enumerate(week.dates):
        t0, t1 = week.day_starts[i], week.day_starts[i + 1]
        codes = week.day_codes(i)
        details.append(
            DayDetail(
                date=date,
                start=t0,
                codes=codes,
                bouts=sitting_bouts(codes, t0),
                breaks=all_breaks[(all_breaks >= t0) & (all_breaks < t1)],
            )
        )
    return details


def _meeting_figures(week: WeekData, t0: int, t1: int) -> dict:
    """Minutes in busy calendar events between t0 and t1, and how many of them were spent sitting."""
    if week.busy is None:
        return {"meeting_min": None, "sitting_in_meetings_min": None}
    codes = week.codes_between(t0, t1)
    inside = np.zeros(len(codes), bool)
    for start, end in week.busy:
        a, b = max(int(start), t0), min(int(end), t1)
        if b > a:
            inside[a - t0 : b - t0] = True
    sitting = inside & (codes == Posture.SITTING)
    return {"meeting_min": round(inside.sum() / 60, 1), "sitting_in_meetings_min": round(sitting.sum() / 60, 1)}


def _no_data_min(codes: np.ndarray) -> float:
    """Seconds the sensor sent nothing (out of range, off, flat battery): neither worn nor not worn."""
    return round(float(np.count_nonzero(codes == Posture.UNKNOWN)) / 60, 1)


def _prompts_in(prompts: list[PromptEvent], t0: int, t1: int) -> list[PromptEvent]:
    return [p for p in prompts if t0 <= p.ts < t1]


def week_totals(week: WeekData, details: list[DayDetail] | None = None) -> dict:
    """The week's totals: the per-day figures over the whole week, plus the bout distribution."""
    details = details if details is not None else day_details(week)
    codes = np.concatenate([d.codes for d in details]) if details else np.zeros(0, np.int8)
    bouts = Bouts(
        start=np.concatenate([d.bouts.start for d in details] or [np.zeros(0, np.int64)]),
        end=np.concatenate([d.bouts.end for d in details] or [np.zeros(0, np.int64)]),
        sitting_s=np.concatenate([d.bouts.sitting_s for d in details] or [np.zeros(0, np.int64)]),
    )
    breaks = sum(len(d.breaks) for d in details)
    t0, t1 = week.day_starts[0], week.day_starts[len(details)]
    prompts = _prompts_in(week.prompts, t0, t1)
    totals = {
        "week": week.week,
        "days_with_data": sum(bool(np.any(d.codes != Posture.UNKNOWN)) for d in details),
    }
    totals.update(period_summary(codes, breaks, bouts, [p.stood_after_s for p in prompts]))
    totals.update(distribution_summary(bouts.minutes))
    totals["sitting_min_by_band"] = [round(v, 1) for v in minutes_in_band(bouts.minutes)]
    totals["no_data_min"] = _no_data_min(codes)
    totals.update(_meeting_figures(week, t0, t1))
    return totals


def stretch_of_the_week(prompts: list[PromptEvent]) -> dict | None:
    """The exercise prompted most often, with how often; None without prompts.

    When several share the top count (the rotation prompts each once before repeating, so a short
    week ties often), none is named: ``exercise`` is None and ``tied`` lists them, in the order first
    prompted. Naming one of eight exercises prompted once each "the stretch of the week" misled.
    """
    if not prompts:
        return None
    counts = Counter(p.exercise for p in prompts)
    top = max(counts.values())
    order = list(dict.fromkeys(p.exercise for p in sorted(prompts, key=lambda p: p.ts)))
    leaders = [e for e in order if counts[e] == top]
    if len(leaders) == 1:
        return {"exercise": leaders[0], "times_prompted": top, "tied": []}
    return {"exercise": None, "times_prompted": top, "tied": leaders}


def build_report(week: WeekData, previous: WeekData | None = None, *, generated: float | None = None) -> dict:
    """The JSON summary: ``week``, ``days``, ``week_totals``, ``previous_week`` (None without data)."""
    details = day_details(week)
    days = []
    for i, detail in enumerate(details):
        prompts = _prompts_in(week.prompts, week.day_starts[i], week.day_starts[i + 1])
        day = {"date": detail.date}
        day.update(
            period_summary(detail.codes, len(detail.breaks), detail.bouts, [p.stood_after_s for p in prompts])
        )
        day["sitting_min_by_band"] = [round(v, 1) for v in minutes_in_band(detail.bouts.minutes)]
        day["no_data_min"] = _no_data_min(detail.codes)
        day.update(_meeting_figures(week, week.day_starts[i], week.day_starts[i + 1]))
        days.append(day)
    t0, t1 = week.day_starts[0], week.day_starts[len(details)]
    return {
        "schema": REPORT_SCHEMA,
        "week": week.week,
        "timezone": week.timezone,
        "generated": generated,
        "days": days,
        "week_totals": week_totals(week, details),
        "previous_week": week_totals(previous) if previous is not None and previous.has_data() else None,
        "stretch_of_the_week": stretch_of_the_week(_prompts_in(week.prompts, t0, t1)),
    }
