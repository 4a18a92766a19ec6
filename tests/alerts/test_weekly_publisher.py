"""The Monday report: queued only once built, retried after a failure, per sensor, never going back."""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import pytest

from sitless.store import Store
from sitless.weekly_publisher import RETRY_S, WeeklyPublisher
from tests.alerts.helpers import MONDAY_8, day_series

TOPIC = "sitless/desk/report/weekly"
FRIDAY_BEFORE = MONDAY_8 - 3 * 86400  # 2026-11-13, in ISO week 2026-W46


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "s.db")
    opened.add_postures(day_series(("sitting", 3600), ("walking", 600), start=FRIDAY_BEFORE), "live")
    yield opened
    opened.close()


def publisher_for(store: Store, sensor_id: str, kicks: list) -> WeeklyPublisher:
    return WeeklyPublisher(
        store=store,
        topic=TOPIC,
        timezone=ZoneInfo("UTC"),
        device_id="desk",
        sensor_id=sensor_id,
        kick=lambda: kicks.append(1),
    )


def queued_weeks(store: Store) -> list[str]:
    return [json.loads(m.payload)["week"] for m in store.outbox_pending() if m.topic == TOPIC]


def test_monday_morning_queues_last_week_once_retained(store):
    kicks: list = []
    weekly = publisher_for(store, "live", kicks)
    assert not weekly.maybe_publish(MONDAY_8 - 2 * 3600)  # 06:00: not yet
    assert weekly.maybe_publish(MONDAY_8)
    assert not weekly.maybe_publish(MONDAY_8 + 60)
    (message,) = store.outbox_pending()
    assert message.retain and queued_weeks(store) == ["2026-W46"] and kicks == [1]
    # A restart on the same Monday (a new publisher, the same store) does not queue it again.
    assert not publisher_for(store, "live", kicks).maybe_publish(MONDAY_8 + 120)


def test_a_failed_build_is_logged_not_marked_done_and_retried(store, monkeypatch, caplog):
    """A build failure cannot be produced on demand from real data, so the builder is replaced for
    the first call only (the real one runs on the retry)."""
    import sitless.weekly

    real = sitless.weekly.build_weekly_report
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(sitless.weekly, "build_weekly_report", failing_once)
    weekly = publisher_for(store, "live", [])
    with caplog.at_level(logging.ERROR, logger="sitless.weekly_publisher"):
        assert not weekly.maybe_publish(MONDAY_8)
    assert "disk hiccup" in caplog.text and "trying again" in caplog.text
    assert queued_weeks(store) == [] and store.load_state("pipeline.weekly/live") is None
    assert not weekly.maybe_publish(MONDAY_8 + RETRY_S - 1)  # waits before trying again
    assert weekly.maybe_publish(MONDAY_8 + RETRY_S)
    assert queued_weeks(store) == ["2026-W46"]


def test_the_done_week_is_remembered_per_sensor(store):
    publisher_for(store, "live", []).maybe_publish(MONDAY_8)
    assert store.load_state("pipeline.weekly/live") == {"week": "2026-W46"}
    assert store.load_state("pipeline.weekly/replay:old") is None


def test_replaying_an_old_recording_does_not_replace_the_newer_report_on_the_topic(store, caplog):
    publisher_for(store, "live", []).maybe_publish(MONDAY_8)
    month_ago = MONDAY_8 - 28 * 86400
    store.add_postures(day_series(("sitting", 3600), start=month_ago - 3 * 86400), "replay:old")
    with caplog.at_level(logging.INFO, logger="sitless.weekly_publisher"):
        assert not publisher_for(store, "replay:old", []).maybe_publish(month_ago)
    assert queued_weeks(store) == ["2026-W46"]
    assert "2026-W42 not published: 2026-W46 is already on" in caplog.text


def test_the_report_falls_due_at_monday_seven_local_time_whatever_was_asked_before(store):
    """Asked every few minutes through two weeks (a daylight-saving change in Berlin included), one
    publisher (which remembers when nothing can be due) answers as a fresh one asked once."""
    berlin = ZoneInfo("Europe/Berlin")
    start = 1774476000  # 2026-03-25 23:00 Berlin, a Wednesday; summer time begins on Sunday 29

    def fresh(t: float):
        publisher = WeeklyPublisher(store=store, topic=TOPIC, timezone=berlin, device_id="desk",
                                    sensor_id="live", kick=lambda: None)  # fmt: skip
        return publisher.due_week(t)

    one = WeeklyPublisher(store=store, topic=TOPIC, timezone=berlin, device_id="desk", sensor_id="live",
                          kick=lambda: None)  # fmt: skip
    moments = [start + 277 * i for i in range(14 * 86400 // 277)]
    answers = [one.due_week(t) for t in moments]
    assert answers == [fresh(t) for t in moments]
    assert any(answers) and not all(answers)



def test_after_a_settled_monday_the_next_week_falls_due_the_next_monday_at_seven(store):
    weekly = publisher_for(store, "live", [])
    assert weekly.maybe_publish(MONDAY_8)
    week_later = MONDAY_8 + 7 * 86400 - 3600  # the next Monday, 07:00 UTC
    assert not any(weekly.due_week(t) for t in range(MONDAY_8 + 1, week_later, 61))
    assert weekly.due_week(week_later) == "2026-W47"
