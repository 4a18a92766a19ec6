"""Working hours and days: when a prompt may fire, in the person's time zone.

Separate from the policy because calendars are fiddly (overnight windows, DST, day ranges that wrap
from Sunday to Monday) and deserve their own tests. All times in and out are epoch seconds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class WorkingHours:
    """A daily window [start, end) in minutes after local midnight, on some weekdays.

    ``end <= start`` means the window runs overnight (it belongs to the day it starts on). ``tz`` is a
    resolved zone, never "the machine's": the shell resolves that once (``sitless.daemon``) so the
    rules give the same answer on any host.
    """

    start_min: int
    end_min: int
    days: frozenset[int]
    tz: tzinfo = UTC

    @classmethod
    def parse(cls, hours: str, days: str, tz: tzinfo = UTC) -> WorkingHours:
        match = _HOURS_RE.match(hours)
        if not match:
            raise ValueError(f'working_hours must look like "08:00-18:00", got {hours!r}')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
            raise ValueError(f"working_hours has an impossible time: {hours!r}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == 24 * 60:
            raise ValueError(f"working_hours cannot start at 24:00 (that is 00:00 of the next day): {hours!r}")
        if start == end:
            raise ValueError(f"working_hours is an empty window: {hours!r} (use 00:00-24:00 for all day)")
        return cls(start, end, parse_days(days), tz)

    def _local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self.tz)

    def _at(self, day: date, minutes: int) -> float:
        # Aware + timedelta is wall-clock arithmetic in Python, so 08:00 stays 08:00 across DST.
        moment = datetime.combine(day, time(0), tzinfo=self.tz) + timedelta(minutes=minutes)
        return moment.timestamp()

    def windows_around(self, t: float) -> list[tuple[float, float]]:
        """Working windows that start from the day before ``t`` up to a week after."""
        return list(_windows_from(self, self._local(t).date()))

    def is_open(self, t: float) -> bool:
        return any(a <= t < b for a, b in _windows_from(self, self._local(t).date()))

    def next_open(self, t: float) -> float | None:
        """``t`` if inside working hours, else the start of the next window (None if there is none)."""
        for a, b in _windows_from(self, self._local(t).date()):
            if t < b:
                return max(t, a)
        return None


@functools.lru_cache(maxsize=64)
def _windows_from(hours: WorkingHours, today: date) -> tuple[tuple[float, float], ...]:
    """The windows of ``WorkingHours.windows_around`` for a local date. Cached: the live policy asks
    once a second, and the answer only changes at local midnight (ten zone conversions a call were
    the policy's largest cost, issue 12)."""
    result = []
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        if day.weekday() not in hours.days:
            continue
        end_min = hours.end_min if hours.end_min > hours.start_min else hours.end_min + 24 * 60
        result.append((hours._at(day, hours.start_min), hours._at(day, end_min)))
    return tuple(result)


def parse_days(text: str) -> frozenset[int]:
    """ "Mon-Fri", "Mon,Wed,Fri", "Sat-Mon", "Mon-Fri,Sun" -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        ends = [p.strip()[:3] for p in part.split("-")]
        if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
            raise ValueError(f'working_days must look like "Mon-Fri" or "Mon,Wed,Fri", got {text!r}')
        first = DAY_NAMES.index(ends[0])
        last = DAY_NAMES.index(ends[-1])
        day = first
        while True:
            days.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    if not days:
        raise ValueError(f"working_days names no day: {text!r}")
    return frozenset(days)
