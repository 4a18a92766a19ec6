"""The prompt rules, postures in and events out, with the data time as the only clock."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.alerts.commands import AckCommand, DndCommand, SnoozeCommand
from sitless.alerts.exercises import LIBRARY
from sitless.alerts.policy import AlertPolicy, AlertSettings, PolicyError, PromptOutcome, SpellEnded
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.config import ConfigError, load_config
from tests.alerts.helpers import MONDAY_8, counting_ids, day_series, feed, prompts, utc_policy
from tests.alerts.oracle import expected_prompts

MIN = 60


def prompt_times(events) -> list[tuple[int, int]]:
    return [(p.ts, p.level) for p in prompts(events)]


def test_prompt_fires_when_sitting_reaches_the_limit():
    events = feed(utc_policy(), day_series(("sitting", 35 * MIN)), chunk=7)
    (prompt,) = prompts(events)
    assert prompt.ts == MONDAY_8 + 30 * MIN
    assert prompt.sitting_s == 30 * MIN and prompt.level == 1


def test_prompt_repeats_while_sitting_continues_up_to_max_repeats():
    events = feed(utc_policy(), day_series(("sitting", 2 * 60 * MIN)), chunk=60)
    assert prompt_times(events) == [(MONDAY_8 + m * MIN, level) for m, level in ((30, 1), (40, 2), (50, 3))]


def test_repeat_every_zero_switches_repeats_off():
    events = feed(utc_policy(repeat_every_min=0), day_series(("sitting", 90 * MIN)), chunk=60)
    assert prompt_times(events) == [(MONDAY_8 + 30 * MIN, 1)]


def test_short_stand_does_not_reset_sitting_timer():
    series = day_series(("sitting", 20 * MIN), ("standing", 50), ("sitting", 15 * MIN))
    events = feed(utc_policy(), series)
    assert prompt_times(events) == [(MONDAY_8 + 30 * MIN, 1)]
    assert not [e for e in events if isinstance(e, SpellEnded)]


def test_a_minute_upright_is_a_break_that_ends_the_spell():
    series = day_series(("sitting", 20 * MIN), ("walking", 60), ("sitting", 25 * MIN))
    events = feed(utc_policy(), series, chunk=13)
    assert prompts(events) == []
    (ended,) = [e for e in events if isinstance(e, SpellEnded)]
    assert (ended.start, ended.end, ended.reason) == (MONDAY_8, MONDAY_8 + 20 * MIN, "break")


def test_short_data_gap_is_bridged_but_long_gap_ends_the_spell():
    bridged = day_series(("sitting", 20 * MIN), ("unknown", 119), ("sitting", 15 * MIN))
    assert prompt_times(feed(utc_policy(), bridged, chunk=30)) == [(MONDAY_8 + 30 * MIN, 1)]

    broken = day_series(("sitting", 20 * MIN), ("unknown", 121), ("sitting", 15 * MIN))
    events = feed(utc_policy(), broken, chunk=30)
    assert prompts(events) == []
    assert [e.reason for e in events if isinstance(e, SpellEnded)] == ["gap"]


def test_a_gap_between_deliveries_counts_like_unknown_seconds():
    policy = utc_policy()
    policy.receive(day_series(("sitting", 20 * MIN)))
    events = policy.receive(day_series(("sitting", 15 * MIN), start=MONDAY_8 + 20 * MIN + 300))
    assert prompts(events) == [] and [e.reason for e in events if isinstance(e, SpellEnded)] == ["gap"]


def test_nonwear_ends_the_spell():
    series = day_series(("sitting", 20 * MIN), ("nonwear", 30), ("sitting", 20 * MIN))
    events = feed(utc_policy(), series)
    assert prompts(events) == []
    assert [e.reason for e in events if isinstance(e, SpellEnded)] == ["nonwear"]


def test_lying_counts_as_sedentary():
    events = feed(utc_policy(), day_series(("sitting", 15 * MIN), ("lying", 20 * MIN)))
    assert prompt_times(events) == [(MONDAY_8 + 30 * MIN, 1)]


def test_no_prompt_outside_working_hours_and_a_held_prompt_fires_at_opening():
    evening = day_series(("sitting", 60 * MIN), start=MONDAY_8 + 10 * 3600)  # 18:00-19:00
    assert prompts(feed(utc_policy(), evening, chunk=60)) == []

    early = day_series(("sitting", 71 * MIN), start=MONDAY_8 - 60 * MIN)  # 07:00-08:10
    assert prompt_times(feed(utc_policy(), early, chunk=60)) == [(MONDAY_8, 1), (MONDAY_8 + 10 * MIN, 2)]


def test_no_prompt_on_a_weekend_day():
    saturday = day_series(("sitting", 60 * MIN), start=MONDAY_8 + 5 * 86400)
    assert prompts(feed(utc_policy(), saturday, chunk=60)) == []
    weekend_worker = utc_policy(working_days="Sat-Sun")
    assert len(prompts(feed(weekend_worker, saturday, chunk=60))) == 3


def test_working_hours_follow_the_configured_timezone():
    # 08:00-18:00 in New York is 13:00-23:00 UTC (EST in November).
    policy = AlertPolicy(AlertSettings(timezone="America/New_York"), new_id=counting_ids())
    morning_utc = day_series(("sitting", 60 * MIN), start=MONDAY_8 + 2 * 3600)  # 10:00 UTC = 05:00 NY
    assert prompts(feed(policy, morning_utc, chunk=60)) == []
    afternoon_utc = day_series(("sitting", 40 * MIN), start=MONDAY_8 + 6 * 3600)  # 14:00 UTC = 09:00 NY
    assert prompt_times(feed(policy, afternoon_utc, chunk=60)) == [(MONDAY_8 + 6 * 3600 + 30 * MIN, 1)]


def test_snooze_holds_prompts_then_reminds_once():
    policy = utc_policy()
    events = feed(policy, day_series(("sitting", 31 * MIN)), chunk=60)
    assert prompt_times(events) == [(MONDAY_8 + 30 * MIN, 1)]
    assert policy.apply(SnoozeCommand(), MONDAY_8 + 31 * MIN)
    later = feed(policy, day_series(("sitting", 40 * MIN), start=MONDAY_8 + 31 * MIN), chunk=60)
    reminders = prompts(later)
    assert [(p.ts, p.after_snooze) for p in reminders][0] == (MONDAY_8 + 46 * MIN, True)
    assert all(p.ts >= MONDAY_8 + 46 * MIN for p in reminders)


def test_do_not_disturb_holds_prompts_until_it_ends():
    policy = utc_policy()
    policy.apply(DndCommand(until=MONDAY_8 + 60 * MIN), MONDAY_8)
    events = feed(policy, day_series(("sitting", 65 * MIN)), chunk=60)
    assert prompt_times(events) == [(MONDAY_8 + 60 * MIN, 1)]
    policy.apply(DndCommand(), MONDAY_8 + 65 * MIN)
    assert policy.dnd_until is None


def test_do_not_disturb_for_minutes_counts_from_now():
    policy = utc_policy()
    policy.apply(DndCommand(minutes=45), MONDAY_8 + 10 * MIN)
    assert policy.dnd_until == MONDAY_8 + 55 * MIN
    events = feed(policy, day_series(("sitting", 60 * MIN)), chunk=60)
    assert prompt_times(events) == [(MONDAY_8 + 55 * MIN, 1)]


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (SnoozeCommand(7 * 24 * 60 + 1), "more than 7 days"),
        (SnoozeCommand(1441), None),  # a day and a minute: inside the one limit, accepted
        (SnoozeCommand(1e300), "more than 7 days"),
        (DndCommand(minutes=7 * 24 * 60 + 1), "more than 7 days"),
        (DndCommand(until=253402300799.0), "more than 7 days"),  # 9999-12-31T23:59:59Z
        (DndCommand(until=1e12), "more than 7 days"),
        (DndCommand(until=MONDAY_8 - 60.0), "in the past"),
        (DndCommand(until=MONDAY_8 + 7 * 86400.0), None),  # exactly a week: the limit itself
    ],
)
def test_snooze_and_dnd_are_bounded_to_a_week_and_not_the_past(command, needle):
    """One limit, checked in one place: a far-future DND used to poison every later tick."""
    policy = utc_policy()
    if needle is None:
        assert policy.apply(command, MONDAY_8)
        return
    with pytest.raises(PolicyError, match=needle):
        policy.apply(command, MONDAY_8)
    assert policy.snoozed_until is None and policy.dnd_until is None  # a refusal changes nothing


def test_a_saved_far_future_dnd_is_dropped_on_restore():
    policy = utc_policy()
    feed(policy, day_series(("sitting", 5 * MIN)), chunk=60)
    state = policy.export_state()
    state["dnd_until"] = 253402300799.0
    state["snoozed_until"] = float("nan")
    restored = AlertPolicy(AlertSettings(timezone="UTC"), state=json.loads(json.dumps(state)))
    assert restored.dnd_until is None and restored.snoozed_until is None
    assert len(restored.restore_notes) == 2


def test_ack_stops_the_repeats_of_this_spell_only():
    policy = utc_policy()
    (first,) = prompts(feed(policy, day_series(("sitting", 35 * MIN)), chunk=60))
    assert not policy.apply(AckCommand("not-a-prompt-of-this-spell"), MONDAY_8 + 35 * MIN)
    assert policy.apply(AckCommand(first.prompt_id), MONDAY_8 + 35 * MIN)
    rest = day_series(
        ("sitting", 60 * MIN), ("walking", 2 * MIN), ("sitting", 31 * MIN), start=MONDAY_8 + 35 * MIN
    )
    later = prompts(feed(policy, rest, chunk=60))
    assert [p.level for p in later] == [1]  # only the next spell's first prompt


def test_outcome_records_standing_within_five_minutes_and_the_delay():
    series = day_series(("sitting", 32 * MIN), ("standing", 3 * MIN), ("sitting", 10 * MIN))
    events = feed(utc_policy(), series, chunk=5)
    (outcome,) = [e for e in events if isinstance(e, PromptOutcome)]
    assert outcome.stood is True and outcome.stood_after_s == 2 * MIN


def test_outcome_records_not_standing_after_five_minutes():
    events = feed(utc_policy(), day_series(("sitting", 36 * MIN), ("standing", 2 * MIN)), chunk=5)
    outcomes = [e for e in events if isinstance(e, PromptOutcome)]
    assert [(o.stood, o.stood_after_s) for o in outcomes] == [(False, None)]


def test_outcome_is_unknown_when_the_sensor_comes_off():
    events = feed(utc_policy(), day_series(("sitting", 31 * MIN), ("nonwear", 20 * MIN)), chunk=5)
    outcomes = [e for e in events if isinstance(e, PromptOutcome)]
    assert [(o.stood, o.stood_after_s) for o in outcomes] == [(None, None)]


def test_each_prompt_carries_an_exercise_never_the_same_twice_in_a_row():
    policy = utc_policy(max_repeats=100, repeat_every_min=1)
    events = prompts(feed(policy, day_series(("sitting", 60 * MIN)), chunk=60))
    keys = [p.exercise.key for p in events]
    assert len(keys) == 30  # minutes 30..59
    assert all(a != b for a, b in zip(keys, keys[1:], strict=False))
    assert set(keys) == {e.key for e in LIBRARY}


def test_tick_without_data_ends_the_spell_after_the_bridge():
    policy = utc_policy()
    policy.receive(day_series(("sitting", 20 * MIN)))
    assert policy.tick(MONDAY_8 + 20 * MIN + 100) == []
    (ended,) = policy.tick(MONDAY_8 + 20 * MIN + 121)
    assert isinstance(ended, SpellEnded) and ended.reason == "gap" and ended.end == MONDAY_8 + 20 * MIN


def test_tick_fires_a_due_prompt_while_data_lags_within_the_bridge():
    policy = utc_policy()
    policy.receive(day_series(("sitting", 30 * MIN - 3)))  # the classifier is 3 s behind the clock
    (prompt,) = prompts(policy.tick(MONDAY_8 + 30 * MIN + 0.4))
    assert prompt.ts == MONDAY_8 + 30 * MIN and prompt.level == 1
    later = policy.receive(day_series(("sitting", 60), start=MONDAY_8 + 30 * MIN - 3))
    assert prompts(later) == []  # the data confirming it does not prompt again


def test_wake_at_names_the_moment_a_prompt_falls_due_so_a_live_daemon_need_not_poll():
    policy = utc_policy()
    assert policy.wake_at() is None  # no data: nothing can happen
    policy.receive(day_series(("sitting", 30 * MIN - 3)))
    due = policy.wake_at()
    assert due == MONDAY_8 + 30 * MIN
    assert prompts(policy.tick(due - 0.5)) == []  # just before it: nothing
    (prompt,) = prompts(policy.tick(due))
    assert prompt.ts == MONDAY_8 + 30 * MIN
    assert policy.wake_at() == MONDAY_8 + 30 * MIN - 3 + 120 + 0.001  # next: the gap bridge runs out
    policy.tick(policy.wake_at())
    assert policy.wake_at() is None  # the spell ended at the gap, the outcome is resolved


def test_wake_at_respects_do_not_disturb_and_ignores_a_stand():
    policy = utc_policy()
    policy.apply(DndCommand(until=MONDAY_8 + 45 * MIN), MONDAY_8)
    policy.receive(day_series(("sitting", 44 * MIN)))
    assert policy.wake_at() == MONDAY_8 + 45 * MIN  # held until the DND ends (before the bridge would)
    policy.receive(day_series(("standing", 30), start=MONDAY_8 + 44 * MIN))
    assert policy.wake_at() == MONDAY_8 + 44 * MIN + 30 + 120 + 0.001  # standing: only the bridge


def test_tick_does_not_prompt_during_a_short_stand():
    policy = utc_policy()
    policy.receive(day_series(("sitting", 29 * MIN), ("standing", 30)))
    assert prompts(policy.tick(MONDAY_8 + 31 * MIN)) == []


def test_seconds_already_seen_are_ignored():
    policy = utc_policy()
    series = day_series(("sitting", 35 * MIN))
    first = policy.receive(series)
    assert prompts(first) and policy.receive(series) == []


def test_state_survives_a_json_round_trip_mid_spell():
    series = day_series(("sitting", 25 * MIN), ("standing", 30), ("sitting", 50 * MIN), ("walking", 90))
    whole = feed(utc_policy(), series, chunk=60)
    for cut in (10 * MIN, 25 * MIN + 15, 31 * MIN, 45 * MIN):
        first = utc_policy()
        head = first.receive(PostureSeconds(series.start, series.codes[:cut]))
        saved = json.loads(json.dumps(first.export_state()))
        second = AlertPolicy(AlertSettings(timezone="UTC"), state=saved, new_id=lambda ts, level: "x")
        tail = second.receive(PostureSeconds(series.start + cut, series.codes[cut:]))
        strip = [(type(e).__name__, getattr(e, "ts", None), getattr(e, "level", None)) for e in head + tail]
        assert strip == [(type(e).__name__, getattr(e, "ts", None), getattr(e, "level", None)) for e in whole]


def test_prompt_ids_are_uuids_that_repeat_when_the_same_data_is_processed_again():
    series = day_series(("sitting", 45 * MIN))
    first = [
        p.prompt_id
        for p in prompts(AlertPolicy(AlertSettings(timezone="UTC"), id_scope="dev").receive(series))
    ]
    again = [
        p.prompt_id
        for p in prompts(AlertPolicy(AlertSettings(timezone="UTC"), id_scope="dev").receive(series))
    ]
    other = [
        p.prompt_id for p in prompts(AlertPolicy(AlertSettings(timezone="UTC"), id_scope="x").receive(series))
    ]
    assert first == again and len(set(first)) == 2 and not set(first) & set(other)
    assert all(str(uuid.UUID(i)) == i for i in first)


def test_unreadable_saved_state_is_a_clear_error():
    with pytest.raises(PolicyError, match="version"):
        AlertPolicy(AlertSettings(), state={"version": 99})


def test_settings_come_from_the_alerts_table_with_clear_errors(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[alerts]\nsit_limit_min = 45\nworking_days = "Mon-Thu"\n')
    loaded = load_config(path).section("alerts", AlertSettings)
    assert loaded.sit_limit_min == 45.0 and loaded.working_days == "Mon-Thu"
    for bad, needle in (
        ('working_hours = "8-18"', "working_hours"),
        ('working_days = "Mon-Fry"', "working_days"),
        ('timezone = "Mars/Olympus"', "timezone"),
        ("sit_limit_mins = 20", "sit_limit_mins"),
        ("max_repeats = -1", "max_repeats"),
    ):
        path.write_text(f"[alerts]\n{bad}\n")
        with pytest.raises(ConfigError, match=needle) as caught:
            load_config(path).section("alerts", AlertSettings)
        assert str(path) in str(caught.value)


# --------------------------------------------------------------------------- property tests
LABELS = ["sitting", "standing", "walking", "lying", "nonwear", "unknown"]
segments = st.lists(
    st.tuples(st.sampled_from(LABELS), st.integers(min_value=1, max_value=40 * MIN)), min_size=1, max_size=12
)


@settings(max_examples=30, deadline=None)
@given(segments, st.integers(min_value=1, max_value=900))
def test_policy_agrees_with_a_per_second_reading_of_the_rules(segs, chunk):
    series = day_series(*segs, start=MONDAY_8 - 30 * MIN)
    got = prompt_times(feed(utc_policy(), series, chunk=chunk))
    assert got == expected_prompts(series.start, series.codes.tolist())


@settings(max_examples=25, deadline=None)
@given(segments, st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=20))
def test_how_the_seconds_are_chunked_does_not_change_the_events(segs, cuts):
    series = day_series(*segs)
    whole = utc_policy().receive(series)
    policy, events, position = utc_policy(), [], 0
    for cut in cuts + [len(series)]:
        end = min(len(series), position + cut)
        events += policy.receive(PostureSeconds(series.start + position, series.codes[position:end]))
        position = end
    events += policy.receive(PostureSeconds(series.start + position, series.codes[position:]))
    assert events == whole


def test_empty_input_changes_nothing():
    policy = utc_policy()
    assert policy.receive(PostureSeconds(MONDAY_8, np.empty(0, np.int8))) == []
    assert policy.posture is Posture.UNKNOWN
