"""Command payload validation and working-hours calendars, without a broker."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sitless.alerts.payloads import AckCommand, CommandPayloadError, DndCommand, SnoozeCommand, parse_command
from sitless.alerts.schedule import WorkingHours, parse_days


def test_commands_accept_the_forms_home_assistant_and_people_send():
    prompt_id = str(uuid.uuid4())
    assert parse_command("snooze", b"PRESS") == SnoozeCommand()
    assert parse_command("snooze", b"25") == SnoozeCommand(25.0)
    assert parse_command("ack", prompt_id.encode()) == AckCommand(prompt_id)
    assert parse_command("ack", b"") == AckCommand()
    assert parse_command("dnd", b"0") == DndCommand()
    assert parse_command("dnd", b'{"off": true}') == DndCommand()
    until = parse_command("dnd", b'{"until": "2026-11-16T12:00:00+01:00"}')
    assert until == DndCommand(until=datetime(2026, 11, 16, 11, 0, tzinfo=ZoneInfo("UTC")).timestamp())


@pytest.mark.parametrize(
    ("name", "payload", "needle"),
    [
        ("snooze", b'{"minutes": true}', "must be a number"),
        ("snooze", b'{"minutes": 20, "extra": 1}', "unknown field"),
        ("snooze", b"0", "more than 0"),
        ("dnd", b'{"until": "2026-11-16T12:00:00"}', "UTC offset"),
        ("dnd", b'{"minutes": NaN}', "number"),
        ("ack", b'{"id": 5}', "expected"),
        ("ack", b"x" * 5000, "too large"),
    ],
)
def test_malformed_commands_name_the_topic_and_the_problem(name, payload, needle):
    with pytest.raises(CommandPayloadError, match=needle) as caught:
        parse_command(name, payload)
    assert str(caught.value).startswith(f"cmd/{name}:")


def test_working_days_ranges_wrap_over_the_weekend():
    assert parse_days("Sat-Mon") == {5, 6, 0}
    assert parse_days("mon,wed , fri") == {0, 2, 4}
    assert parse_days("Monday-Friday") == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="working_days"):
        parse_days("weekdays")


def test_overnight_working_hours_belong_to_the_day_they_start():
    night = WorkingHours.parse("22:00-06:00", "Mon-Fri", ZoneInfo("UTC"))
    monday_23 = datetime(2026, 11, 16, 23, tzinfo=ZoneInfo("UTC")).timestamp()
    saturday_03 = datetime(2026, 11, 21, 3, tzinfo=ZoneInfo("UTC")).timestamp()  # Friday's night shift
    saturday_23 = datetime(2026, 11, 21, 23, tzinfo=ZoneInfo("UTC")).timestamp()
    assert night.is_open(monday_23) and night.is_open(saturday_03) and not night.is_open(saturday_23)


def test_working_hours_keep_local_clock_time_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    hours = WorkingHours.parse("08:00-18:00", "Mon-Sun", ZoneInfo("Europe/Berlin"))
    for day in (28, 29, 30):  # DST starts on Sunday 2026-03-29
        before = datetime(2026, 3, day, 7, 59, tzinfo=berlin).timestamp()
        opening = datetime(2026, 3, day, 8, 0, tzinfo=berlin).timestamp()
        assert hours.next_open(before) == opening


def test_next_open_follows_the_local_day_as_the_clock_moves_on():
    """The windows are cached per local date (the live policy asks every second): asked minute by
    minute through a daylight-saving change and a weekend, in both directions, every answer is the
    one worked out from the calendar by hand."""
    berlin = ZoneInfo("Europe/Berlin")
    hours = WorkingHours.parse("08:00-18:00", "Mon-Fri", berlin)
    start = datetime(2026, 3, 26, 0, 0, tzinfo=berlin).timestamp()  # Thursday; DST starts Sunday 29
    moments = [start + 599 * i for i in range(6 * 24 * 7)]
    for t in moments + moments[::-1]:
        local = datetime.fromtimestamp(t, berlin)
        day = local.date()
        while True:
            opening = datetime(day.year, day.month, day.day, 8, tzinfo=berlin).timestamp()
            closing = datetime(day.year, day.month, day.day, 18, tzinfo=berlin).timestamp()
            if day.weekday() < 5 and t < closing:
                break
            day += timedelta(days=1)
        assert hours.next_open(t) == max(t, opening), local


def test_impossible_hours_are_rejected_with_the_value():
    for text in ("25:00-26:00", "08:00-08:00", "8-18"):
        with pytest.raises(ValueError, match="working_hours"):
            WorkingHours.parse(text, "Mon-Fri")
