"""Day templates for the simulator: an office workday and full 24-hour days (a week with ``hours=168``).

The durations are chosen to look like desk workers in the sedentary-behaviour literature: sitting spells of
10-90 minutes at the desk, short stands and walks between them, a lunch break, a bike commute, evenings on
the sofa and nights lying down (or with the sensor on its charger). Times of day are taken from the UTC
clock of ``start`` (the simulator does not model time zones).
"""

from __future__ import annotations

import math

import numpy as np

from sitless.firmware_bridge.simulate_schedule import DAY_S, DESK_NONWEAR_MAX_S, ScheduleBuilder

MIN = 60.0
HOUR = 3600.0


def _minutes(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high)) * MIN


def _loguniform_minutes(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high)))) * MIN


def _do(b: ScheduleBuilder, activity, seconds: float, until: float) -> None:
    left = b.remaining(until)
    if left <= 0:
        return
    activity(min(seconds, left) if left > 3.0 else 3.0)


def _walk_with_stops(b: ScheduleBuilder, seconds: float, until: float) -> None:
    end = min(b.cursor + seconds, until)
    while b.remaining(end) > 0:
        _do(b, b.walk, _minutes(b.rng, 2, 10), end)
        _do(b, b.stand, float(b.rng.uniform(10, 60)), end)


def _commute(b: ScheduleBuilder, until: float, cycle_s: float) -> None:
    rng = b.rng
    _do(b, b.walk, _minutes(rng, 1, 3), until)
    left = b.remaining(until)
    while left > 0 and cycle_s > 0:
        ride = min(cycle_s, _minutes(rng, 4, 12))
        _do(b, b.cycle, ride, until)
        cycle_s -= ride
        if cycle_s > 0:
            _do(b, b.stand, float(rng.uniform(10, 50)), until)  # a traffic light
        left = b.remaining(until)
    _do(b, b.walk, _minutes(rng, 0.5, 2), until)
    _do(b, b.stand, _minutes(rng, 0.5, 1), until)


def _take_off(b: ScheduleBuilder, seconds: float, until: float) -> None:
    _do(b, b.stand, float(b.rng.uniform(20, 60)), until)
    _do(b, b.nonwear, seconds, until)
    _do(b, b.stand, float(b.rng.uniform(20, 60)), until)


def _desk_break(b: ScheduleBuilder, until: float) -> None:
    rng = b.rng
    kind = rng.choice(5, p=[0.35, 0.25, 0.1, 0.15, 0.15])
    if kind == 0:  # stand up, stretch, sit down again
        _do(b, b.stand, _minutes(rng, 0.5, 3), until)
    elif kind == 1:  # kitchen
        _do(b, b.walk, _minutes(rng, 0.5, 1.5), until)
        _do(b, b.stand, _minutes(rng, 1, 5), until)
        _do(b, b.walk, _minutes(rng, 0.5, 1.5), until)
    elif kind == 2:  # meeting elsewhere
        _do(b, b.walk, _minutes(rng, 1, 3), until)
        if rng.random() < 0.25:
            _do(b, b.stand, _minutes(rng, 10, 25), until)
        else:
            _do(b, b.sit, _minutes(rng, 20, 60), until)
        _do(b, b.walk, _minutes(rng, 1, 3), until)
    elif kind == 3:  # bathroom
        _do(b, b.walk, _minutes(rng, 0.4, 1), until)
        _do(b, b.stand, _minutes(rng, 1, 3), until)
        _do(b, b.walk, _minutes(rng, 0.4, 1), until)
    else:  # printer, colleague's desk
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)
        _do(b, b.stand, _minutes(rng, 0.5, 4), until)
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)


def _lunch(b: ScheduleBuilder, until: float) -> None:
    rng = b.rng
    _do(b, b.walk, _minutes(rng, 3, 8), until)
    _do(b, b.stand, _minutes(rng, 2, 5), until)
    _do(b, b.sit, _minutes(rng, 20, 35), until)
    _walk_with_stops(b, _minutes(rng, 5, 15), until)
    _do(b, b.stand, _minutes(rng, 1, 3), until)


def office(
    b: ScheduleBuilder,
    until: float,
    lunch_at: float | None = None,
    nonwear_at: float | None = None,
    nonwear_s: float = 30 * MIN,
) -> None:
    """Desk work: sitting spells of 10-90 min, each followed by a break; lunch and non-wear when due."""
    rng = b.rng
    while b.remaining(until) > 0:
        if nonwear_at is not None and b.cursor >= nonwear_at:
            _take_off(b, nonwear_s, until)
            nonwear_at = None
            continue
        if lunch_at is not None and b.cursor >= lunch_at:
            _lunch(b, until)
            lunch_at = None
            continue
        sit_s = _loguniform_minutes(rng, 10, 90)
        anchors = [a for a in (lunch_at, nonwear_at) if a is not None]
        if anchors:
            sit_s = min(sit_s, max(min(anchors) - b.cursor + float(rng.uniform(0, 120)), 10 * MIN))
        _do(b, b.sit, sit_s, until)
        if b.remaining(until) > 0:
            _desk_break(b, until)


def workday(b: ScheduleBuilder, start_epoch: float, continue_with_fullday: bool = True) -> None:
    """An office day from the start: bike in, desk work with lunch and one desk non-wear, bike home."""
    rng, total = b.rng, b.duration_s
    day_s = min(total, 9.5 * HOUR)
    nonwear_s = float(np.clip(rng.uniform(0.04, 0.08) * day_s, 60.0, DESK_NONWEAR_MAX_S))
    nonwear_at = float(rng.uniform(0.25, 0.45) * day_s) if day_s >= 0.25 * HOUR else None
    lunch_at = 4 * HOUR + float(rng.uniform(-0.5, 0.5)) * HOUR if day_s > 5 * HOUR else None
    commute = day_s >= 2 * HOUR
    if commute:
        _commute(b, day_s, _minutes(rng, 6, 15))
    home_s = _minutes(rng, 6, 15)
    office_until = day_s - (home_s + 5 * MIN if day_s >= 6 * HOUR else 0.0)
    office(b, office_until, lunch_at, nonwear_at, nonwear_s)
    if not b.nonwear_done and nonwear_at is not None and b.remaining(day_s) > 0:
        _take_off(b, min(nonwear_s, max(b.remaining(day_s) - 60, 60.0)), day_s)
    if day_s >= 6 * HOUR:
        _commute(b, day_s, home_s)
    if continue_with_fullday and not b.done:
        fullday(b, start_epoch)


# ---- full days ----------------------------------------------------------------------------------


class _DayPlans:
    """Key times of each calendar day (UTC), drawn once per day in order so the schedule is reproducible."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.plans: dict[int, dict] = {}

    def __getitem__(self, day: int) -> dict:
        if day not in self.plans:
            rng = self.rng
            weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
            plan: dict = {"weekend": weekend, "charger": bool(rng.random() < 0.3)}
            if weekend:
                wake = float(rng.uniform(7.5, 9.0)) * HOUR
                bed = float(rng.uniform(23.0, 23.9)) * HOUR
                plan["phases"] = [
                    (wake, "sleep"),
                    (wake + float(rng.uniform(1.0, 1.5)) * HOUR, "morning"),
                    (bed, "leisure"),
                    (DAY_S, "sleep"),
                ]
            else:
                wake = float(rng.uniform(6.25, 7.25)) * HOUR
                leave = wake + float(rng.uniform(0.75, 1.1)) * HOUR
                arrive = leave + _minutes(rng, 12, 25)
                work_end = float(rng.uniform(16.5, 17.5)) * HOUR
                home = work_end + _minutes(rng, 12, 25)
                bed = float(rng.uniform(22.5, 23.5)) * HOUR
                plan["lunch"] = float(rng.uniform(12.0, 12.75)) * HOUR
                plan["phases"] = [
                    (wake, "sleep"),
                    (leave, "morning"),
                    (arrive, "commute"),
                    (work_end, "office"),
                    (home, "commute"),
                    (bed, "evening"),
                    (DAY_S, "sleep"),
                ]
            self.plans[day] = plan
        return self.plans[day]


def _sleep(b: ScheduleBuilder, until: float, on_charger: bool) -> None:
    rng = b.rng
    if on_charger:
        _do(b, lambda seconds: b.nonwear(seconds, on_charger=True), b.remaining(until), until)
        return
    left = b.remaining(until)
    if left > 3 * HOUR and rng.random() < 0.4:  # a trip to the bathroom
        _do(b, b.lie, left * float(rng.uniform(0.3, 0.7)), until)
        _do(b, b.stand, float(rng.uniform(10, 40)), until)
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)
        _do(b, b.stand, _minutes(rng, 1, 2), until)
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)
    _do(b, b.lie, b.remaining(until), until)


def _chores(b: ScheduleBuilder, seconds: float, until: float) -> None:
    """Housework: standing with short walks between rooms."""
    end = min(b.cursor + seconds, until)
    while b.remaining(end) > 0:
        _do(b, b.stand, _minutes(b.rng, 1, 6), end)
        _do(b, b.walk, _minutes(b.rng, 0.2, 1.5), end)


def _morning(b: ScheduleBuilder, until: float) -> None:
    rng = b.rng
    _do(b, b.walk, _minutes(rng, 0.3, 1), until)
    _do(b, b.stand, _minutes(rng, 8, 20), until)  # bathroom, dressing
    _chores(b, _minutes(rng, 5, 12), until)  # making breakfast
    _do(b, b.sit, _minutes(rng, 10, 20), until)
    while b.remaining(until) > 0:
        _chores(b, _minutes(rng, 3, 10), until)
        _do(b, b.sit, _minutes(rng, 3, 12), until)


def _evening(b: ScheduleBuilder, until: float) -> None:
    rng = b.rng
    _chores(b, _minutes(rng, 30, 50), until)  # shopping on the way, cooking
    _do(b, b.sit, _minutes(rng, 20, 35), until)  # dinner
    _chores(b, _minutes(rng, 10, 25), until)  # dishes, tidying
    if rng.random() < 0.35:
        _walk_with_stops(b, _minutes(rng, 20, 40), until)  # an evening walk
    while b.remaining(until) > 0:  # the sofa, with trips to the kitchen
        _do(b, b.sit, _loguniform_minutes(rng, 15, 75), until)
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)
        _do(b, b.stand, _minutes(rng, 2, 12), until)
        _do(b, b.walk, _minutes(rng, 0.3, 1), until)


def _leisure(b: ScheduleBuilder, until: float) -> None:
    """Weekend days: outings on foot and by bike, chores, shorter sitting."""
    rng = b.rng
    while b.remaining(until) > 0:
        kind = rng.choice(4, p=[0.14, 0.06, 0.4, 0.4])
        if kind == 0:
            _walk_with_stops(b, _minutes(rng, 20, 60), until)
        elif kind == 1:
            _commute(b, until, _minutes(rng, 15, 45))
        elif kind == 2:
            _chores(b, _minutes(rng, 10, 40), until)
        else:
            _do(b, b.sit, _loguniform_minutes(rng, 15, 90), until)
            _do(b, b.walk, _minutes(rng, 0.3, 1), until)


def fullday(b: ScheduleBuilder, start_epoch: float) -> None:
    """24-hour days from wherever the cursor is (normally local midnight): sleep, commute, work, evening."""
    plans = _DayPlans(b.rng)
    while not b.done:
        now = start_epoch + b.cursor
        day = int(now // DAY_S)
        plan = plans[day]
        tod = now - day * DAY_S
        phase_end, phase = next(
            ((end, name) for end, name in plan["phases"] if tod < end - 1e-3), plan["phases"][-1]
        )
        until = day * DAY_S + phase_end - start_epoch
        before = b.cursor
        if phase == "sleep":
            night_of = day if tod < 12 * HOUR else day + 1
            _sleep(b, until, plans[night_of]["charger"])
        elif phase == "morning":
            _morning(b, until)
        elif phase == "commute":
            _commute(b, until, max(b.remaining(until) - 4 * MIN, 3 * MIN))
        elif phase == "office":
            lunch_at = day * DAY_S + plan["lunch"] - start_epoch
            office(b, until, lunch_at if lunch_at > b.cursor else None)
        elif phase == "evening":
            _evening(b, until)
        else:
            _leisure(b, until)
        if b.remaining(until) > 0:  # a filler stopped early: never loop without progress
            _do(b, b.stand, b.remaining(until), until)
        if b.cursor <= before:
            b.stand(3.0)
