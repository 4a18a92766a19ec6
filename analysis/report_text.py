"""The report's words and numbers as plain text, shared by the HTML page and the PNG's headline cards
(so both say the same, and neither module imports the other)."""

from __future__ import annotations

import datetime as dt
import math


def format_minutes(minutes: float | None) -> str:
    """``95.4`` -> ``"1 h 35 min"``; ``None`` -> ``"–"``."""
    if minutes is None or not math.isfinite(minutes):
        return "–"
    total = int(round(minutes))
    hours, mins = divmod(total, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def format_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if digits else f"{int(round(value))}"


# (label, key, formatter, lower_is_better, compare per day): the headline cards.
HEADLINES = (
    ("Sitting", "sitting_min", format_minutes, True, True),
    ("Breaks from sitting", "breaks", format_number, False, True),
    ("Breaks per sitting hour", "breaks_per_sitting_hour", lambda v: format_number(v, 2), False, False),
    ("Bouts of 30 min or more", "bouts_30min", format_number, True, True),
    ("Longest bout", "longest_bout_min", format_minutes, True, False),
    ("Usual bout (W50)", "w50_min", format_minutes, True, False),
)


def headline_texts(report: dict) -> list[tuple[str, str]]:
    """The cards beyond HEADLINES as (label, plain text), for the PNG."""
    totals = report["week_totals"]
    heeded, prompts = totals["prompts_heeded"], totals["prompts"]
    stretch = report.get("stretch_of_the_week")
    if not stretch:
        favourite = "no prompts"
    elif stretch["exercise"] is None:
        favourite = f"none: {len(stretch['tied'])} tied"
    else:
        favourite = stretch["exercise"]
    return [("Prompts heeded", f"{heeded} of {prompts}"), ("Stretch of the week", favourite)]


def period_text(report: dict) -> str:
    """ "Mon 16 Nov – Sun 22 Nov 2026 · 5 days with data · times in Europe/Berlin" """
    totals = report["week_totals"]
    first, last = report["days"][0]["date"], report["days"][-1]["date"]
    span = f"{dt.date.fromisoformat(first):%a %d %b} – {dt.date.fromisoformat(last):%a %d %b %Y}"
    days = totals["days_with_data"]
    return f"{span} · {days} day{'s' if days != 1 else ''} with data · times in {report['timezone']}"
