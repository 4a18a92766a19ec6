"""No prompt inside a meeting: real .ics files written here, read by icalendar and recurring-ical-events,
and the policy holding a due prompt until the meeting ends."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from sitless.alerts.calendar import CalendarError, CalendarFeeds, CalendarSettings, busy_intervals
from tests.alerts.helpers import MONDAY_8, day_series, feed, prompts, utc_policy

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")

VTIMEZONE_BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def calendar(*events: str) -> bytes:
    body = "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//sitless tests//EN",
            VTIMEZONE_BERLIN,
            *events,
            "END:VCALENDAR",
        ]
    )
    return body.replace("\n", "\r\n").encode()


def event(uid: str, start: str, end: str, *extra: str, tz: str | None = "Europe/Berlin") -> str:
    when = f";TZID={tz}" if tz else ""
    return "\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART{when}:{start}",
            f"DTEND{when}:{end}",
            *extra,
            "END:VEVENT",
        ]
    )


def local(text: str, zone=BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def spans(intervals, zone=BERLIN) -> list[tuple[str, str]]:
    fmt = "%Y-%m-%d %H:%M"
    return [
        (
            datetime.fromtimestamp(i.start, zone).strftime(fmt),
            datetime.fromtimestamp(i.end, zone).strftime(fmt),
        )
        for i in intervals
    ]


# ------------------------------------------------------------------ what is busy
def test_a_weekly_standup_keeps_its_local_time_across_the_dst_change_with_exdate_and_a_moved_instance():
    ics = calendar(
        event("standup", "20260316T100000", "20260316T103000",
              "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=5", "EXDATE;TZID=Europe/Berlin:20260323T100000"),
        event("standup", "20260406T140000", "20260406T143000", "RECURRENCE-ID;TZID=Europe/Berlin:20260406T100000"),
    )  # fmt: skip
    busy = busy_intervals(ics, local("2026-03-15T00:00"), local("2026-04-20T00:00"), zone=BERLIN)
    assert spans(busy) == [
        ("2026-03-16 10:00", "2026-03-16 10:30"),  # CET: 09:00 UTC
        # 23 March: EXDATE
        ("2026-03-30 10:00", "2026-03-30 10:30"),  # CEST since 29 March: 08:00 UTC, still 10:00 local
        ("2026-04-06 14:00", "2026-04-06 14:30"),  # moved by RECURRENCE-ID
        ("2026-04-13 10:00", "2026-04-13 10:30"),
    ]
    assert (
        datetime.fromtimestamp(busy[0].start, UTC).hour == 9
        and datetime.fromtimestamp(busy[1].start, UTC).hour == 8
    )


def test_all_day_free_and_cancelled_events_are_not_busy_and_overlaps_merge():
    ics = calendar(
        "BEGIN:VEVENT\nUID:holiday\nDTSTAMP:20260101T000000Z\nDTSTART;VALUE=DATE:20261116\nDTEND;VALUE=DATE:20261117\nEND:VEVENT",
        event("focus", "20261116T090000", "20261116T120000", "TRANSP:TRANSPARENT"),
        event("gone", "20261116T130000", "20261116T140000", "STATUS:CANCELLED"),
        event("a", "20261116T100000", "20261116T110000"),
        event("b", "20261116T104500", "20261116T113000"),
        event("utc", "20261116T150000Z", "20261116T153000Z", tz=None),
    )
    busy = busy_intervals(ics, local("2026-11-16T00:00"), local("2026-11-17T00:00"), zone=BERLIN)
    assert spans(busy) == [("2026-11-16 10:00", "2026-11-16 11:30"), ("2026-11-16 16:00", "2026-11-16 16:30")]


def test_a_floating_time_is_read_in_the_configured_zone():
    ics = calendar(event("float", "20261116T100000", "20261116T110000", tz=None))
    (tokyo,) = busy_intervals(
        ics, local("2026-11-15T00:00", UTC), local("2026-11-18T00:00", UTC), zone=ZoneInfo("Asia/Tokyo")
    )
    assert datetime.fromtimestamp(tokyo.start, UTC).hour == 1  # 10:00 in Tokyo


def test_a_broken_file_is_a_clear_error_naming_it(tmp_path):
    broken = tmp_path / "work.ics"
    broken.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:not a date\n")
    feeds = CalendarFeeds(CalendarSettings(ics=[str(broken)]), BERLIN)
    with pytest.raises(CalendarError, match="work.ics"):
        feeds.check()
    missing = CalendarFeeds(CalendarSettings(ics=[str(tmp_path / "absent.ics")]), BERLIN)
    with pytest.raises(CalendarError, match="absent.ics: cannot read it"):
        missing.check()


class IcsServer:
    """A calendar's "secret address": serves ``body``, or fails with HTTP ``status``."""

    def __init__(self, body: bytes) -> None:
        self.body, self.status = body, 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(server.status)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()
                self.wfile.write(server.body if server.status == 200 else b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/private/s3cret-token/basic.ics"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_unreachable_url_keeps_the_last_good_copy_and_says_so(caplog):
    server = IcsServer(calendar(event("m", "20261116T100000", "20261116T110000")))
    clock = [local("2026-11-16T08:00")]
    feeds = CalendarFeeds(CalendarSettings(ics=[server.url], refresh_min=5), BERLIN, clock=lambda: clock[0])
    try:
        feeds.check()
        window = (local("2026-11-16T00:00"), local("2026-11-17T00:00"))
        assert len(feeds.busy(*window)) == 1
        server.status = 503
        clock[0] += 600
        caplog.set_level(logging.WARNING)
        feeds.refresh()
        assert spans(feeds.busy(*window)) == [("2026-11-16 10:00", "2026-11-16 11:00")]  # the last good copy
        server.body, server.status = b"<html>login</html>", 200
        clock[0] += 600
        feeds.refresh()
        assert len(feeds.busy(*window)) == 1
    finally:
        server.close()
    down = CalendarFeeds(CalendarSettings(ics=[server.url]), BERLIN)
    down.check()  # a server that is down at start does not stop the daemon: no meetings known yet
    assert down.busy(*window) == []
    lines = [r.getMessage() for r in caplog.records]
    assert any("no meetings known from it until it answers" in line for line in lines), lines
    assert any("HTTP 503" in line and "copy from 10 min ago" in line for line in lines), lines
    assert any("not an iCalendar file" in line for line in lines), lines
    assert all("s3cret-token" not in line for line in lines)  # the secret address is a password


# ------------------------------------------------------------------ the policy
def test_a_prompt_due_in_a_meeting_waits_for_its_end_and_says_so():
    policy = utc_policy(sit_limit_min=30)
    policy.set_busy([(MONDAY_8 + 20 * 60, MONDAY_8 + 50 * 60)])  # 08:20-08:50, the prompt was due 08:30
    (prompt,) = prompts(feed(policy, day_series(("sitting", 55 * 60)), chunk=60))
    assert prompt.ts == MONDAY_8 + 50 * 60 and prompt.waited_for == "meeting" and prompt.level == 1


def test_standing_up_when_the_meeting_ends_means_no_prompt_at_all():
    policy = utc_policy(sit_limit_min=30)
    policy.set_busy([(MONDAY_8 + 20 * 60, MONDAY_8 + 50 * 60)])
    events = feed(
        policy, day_series(("sitting", 50 * 60), ("walking", 5 * 60), ("sitting", 10 * 60)), chunk=60
    )
    assert prompts(events) == []


def test_a_meeting_that_ends_before_the_limit_changes_nothing():
    policy = utc_policy(sit_limit_min=30)
    policy.set_busy([(MONDAY_8, MONDAY_8 + 10 * 60)])
    (prompt,) = prompts(feed(policy, day_series(("sitting", 35 * 60)), chunk=60))
    assert prompt.ts == MONDAY_8 + 30 * 60 and prompt.waited_for is None


def test_live_the_held_prompt_fires_within_a_tick_of_the_meeting_end():
    policy = utc_policy(sit_limit_min=30)
    end = MONDAY_8 + 40 * 60
    policy.set_busy([(MONDAY_8 + 25 * 60, end)])
    assert prompts(feed(policy, day_series(("sitting", 40 * 60 - 2)), chunk=60)) == []  # data up to 08:39:58
    (prompt,) = prompts(policy.tick(end + 0.25))  # the daemon ticks every 0.25 s
    assert prompt.ts == end and prompt.waited_for == "meeting"


# ------------------------------------------------------------------ the daemon
def test_replay_holds_the_first_prompt_of_the_day_until_the_meeting_in_the_ics_file_ends(workday, tmp_path):
    """A real .ics file in [calendar]: the day's first prompt, due in the meeting, comes at its end."""
    import json
    from datetime import UTC

    from sitless.analysis.postures import SEDENTARY
    from tests.alerts.helpers import epoch, sitless, write_config

    postures = workday["postures"]
    due, level = workday["expected"][0]
    assert level == 1
    sedentary = [int(c) in {int(p) for p in SEDENTARY} for c in postures.codes[due - postures.start :]]
    run = next((k for k, sits in enumerate(sedentary) if not sits), len(sedentary))
    assert run > 180, "the person should sit on after the prompt time"
    end = due + min(run - 60, 600)  # the meeting ends while the person still sits

    def stamp(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")

    ics = tmp_path / "work.ics"
    ics.write_bytes(calendar(event("review", stamp(due - 600), stamp(end), tz=None)))
    config = write_config(tmp_path, "cal", f'\n[calendar]\nics = ["{ics}"]\n')
    done = sitless(
        "replay", str(workday["path"]), "--config", str(config), "--store", str(tmp_path / "s.db"), "--json"
    )
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)["prompts"][0]
    assert epoch(first["ts"]) == end and first["waited_for"] == "meeting"

    ics.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:garbage\n")
    broken = sitless(
        "replay", str(workday["path"]), "--config", str(config), "--store", str(tmp_path / "t.db")
    )
    assert broken.returncode == 2 and "[calendar] ics" in broken.stderr and "work.ics" in broken.stderr


def test_the_monday_report_counts_the_meetings_of_the_ics_file(tmp_path):
    """The daemon's Monday report (WeeklyPublisher) with [calendar]: meeting time per day."""
    import json
    from datetime import UTC

    from sitless.store import Store
    from sitless.weekly_publisher import WeeklyPublisher

    friday = MONDAY_8 - 3 * 86400  # 08:00 UTC on Friday 13 November, week 2026-W46
    ics = tmp_path / "work.ics"

    def stamp(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")

    ics.write_bytes(calendar(event("retro", stamp(friday + 1800), stamp(friday + 5400), tz=None)))
    feeds = CalendarFeeds(CalendarSettings(ics=[str(ics)]), UTC)
    feeds.check()
    with Store.open(tmp_path / "s.db") as store:
        store.add_postures(day_series(("sitting", 3600), ("walking", 3600), start=friday), "live")
        weekly = WeeklyPublisher(
            store=store, topic="t/report/weekly", timezone=UTC, device_id="d", sensor_id="live",
            kick=lambda: None, busy=feeds.busy,
        )  # fmt: skip
        assert weekly.maybe_publish(MONDAY_8)
        (message,) = store.outbox_pending()
    report = json.loads(message.payload)
    (friday_figures,) = [d for d in report["days"] if d["date"] == "2026-11-13"]
    assert friday_figures["meeting_min"] == 60.0 and friday_figures["sitting_in_meetings_min"] == 30.0
