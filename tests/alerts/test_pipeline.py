"""End to end: a simulated day through `sitless replay` into a real Mosquitto, checked by an
independent subscriber against a per-second reading of the rules."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from sitless.alerts.discovery import discovery_topic
from sitless.analysis.postures import Posture
from sitless.store import Store
from tests.alerts.helpers import epoch, sitless, write_config


@pytest.fixture(scope="module")
def day_run(workday, broker, tmp_path_factory):
    """One `sitless replay` of the day into the broker, with a subscriber listening from the start."""
    from tests.alerts.conftest import Subscriber

    directory = tmp_path_factory.mktemp("day-run")
    device = "day" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device}/"
    sub = Subscriber(broker.port, [prefix + "prompt", prefix + "prompt/outcome"])
    config = write_config(directory, device)
    done = sitless("replay", str(workday["path"]), "--broker", broker.url, "--config", str(config),
                   "--store", str(directory / "s.db"), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        received = sub.wait_for(prefix + "prompt", len(workday["expected"]), timeout=15)
        time.sleep(0.5)  # the outcomes follow their prompts through the same outbox
        outcomes = sub.on(prefix + "prompt/outcome")
    finally:
        sub.close()
    return {
        "device": device,
        "prefix": prefix,
        "received": received,
        "outcomes": outcomes,
        "store": directory / "s.db",
    }


def test_each_prompt_outcome_is_published_with_the_count_heeded_today(day_run):
    with Store.open(day_run["store"]) as store:
        stored = {r.prompt_id: r for r in store.prompts_between(0, 2**40)}
    outcomes = {}
    for message in day_run["outcomes"]:
        assert not message.retain
        outcomes.setdefault(message.json()["id"], message.json())  # QoS 1 may repeat one
    assert set(outcomes) <= set(stored) and len(outcomes) >= len(stored) - 1  # the last may be pending
    heeded = 0
    for prompt_id, outcome in sorted(outcomes.items(), key=lambda item: item[1]["prompt_ts"]):
        record = stored[prompt_id]
        assert outcome["stood"] == (record.stood_after_s is not None) or outcome["stood"] is None
        if outcome["stood"]:
            assert outcome["stood_after_s"] == record.stood_after_s
        heeded += record.heeded
        assert outcome["prompts_heeded_today"] == heeded  # one simulated day: "today" is all of it
    assert heeded >= 1


def test_simulated_day_delivers_exactly_the_prompts_the_rules_imply(workday, day_run):
    expected = workday["expected"]
    assert len(expected) >= 4, "the simulated day should hold several long sitting spells"
    received = day_run["received"]
    payloads = [m.json() for m in received]
    assert [(epoch(p["ts"]), p["level"]) for p in payloads] == expected
    assert len({p["id"] for p in payloads}) == len(payloads) and not any(m.retain for m in received)
    for payload in payloads:
        uuid.UUID(payload["id"])
        assert payload["sitting_min"] >= 30 and payload["event_type"] == "prompt"
        exercise = payload["exercise"]
        assert (
            exercise["name"]
            and exercise["instructions"]
            and exercise["dosage"]
            and "pain" in exercise["safety"]
        )
    names = [p["exercise"]["name"] for p in payloads]
    assert all(a != b for a, b in zip(names, names[1:], strict=False))
    # Against the simulator's ground truth (not the classifier's view), the same prompts within a minute.
    truth = workday["expected_from_truth"]
    assert len(truth) == len(expected)
    assert all(abs(a[0] - b[0]) <= 60 and a[1] == b[1] for a, b in zip(truth, expected, strict=True))
    with Store.open(day_run["store"]) as store:
        stored = store.prompts_between(0, 2**40)
        assert [r.prompt_id for r in stored] == [p["id"] for p in payloads]
        assert all(r.outcome_known for r in stored[:-1])
        assert store.outbox_pending() == []


def test_late_subscriber_finds_retained_state_availability_and_discovery(day_run, broker, subscribe):
    prefix = day_run["prefix"]
    config_topic = discovery_topic(day_run["device"])
    late = subscribe(broker.port, [prefix + "availability", prefix + "state", config_topic])
    assert late.wait_for(prefix + "availability")[0].payload == b"offline"  # the replay has ended
    state = late.wait_for(prefix + "state")[0]
    assert state.retain
    body = state.json()
    assert body["posture"] in {p.label for p in Posture} and body["ts"].startswith("2026-11-16T16:00")
    assert {"since", "sitting_spell_s", "battery", "sitting"} <= set(body)

    discovery = late.wait_for(config_topic)[0]
    assert discovery.retain
    check_discovery(discovery.json(), prefix, body)


def check_discovery(config: dict, prefix: str, state: dict) -> None:
    """Home Assistant device discovery, checked field by field against its documented shape."""
    assert config["dev"]["ids"] and config["dev"]["name"] and config["o"]["name"] == "sitless"
    assert config["availability_topic"] == prefix + "availability"
    components = config["cmps"]
    platforms = {c["p"] for c in components.values()}
    assert {"binary_sensor", "sensor", "event", "button"} <= platforms
    unique_ids = [c["unique_id"] for c in components.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for component in components.values():
        for key in ("state_topic", "command_topic"):
            if key in component:
                assert component[key].startswith(prefix)
        template = component.get("value_template", "")
        for field in re.findall(r"value_json\.(\w+)", template):
            assert field in state, f"template uses {field!r} which the state payload lacks"
    (event,) = [c for c in components.values() if c["p"] == "event"]
    assert event["state_topic"] == prefix + "prompt" and event["event_types"] == ["prompt"]
    assert any(c.get("command_topic") == prefix + "cmd/snooze" for c in components.values())


def test_a_broken_config_file_is_a_clear_error_and_touches_nothing(workday, tmp_path):
    store = tmp_path / "never.db"
    for text, needles in (
        ('[alerts]\nsit_limit_min = "soon"\n', ["[alerts]", "sit_limit_min", "expected float"]),
        ("[alerts\nsit_limit_min = 30\n", ["not valid TOML"]),
        ('[mqtt]\nurl = "http://x"\n', ["[mqtt]", "mqtt://"]),
    ):
        config = tmp_path / "config.toml"
        config.write_text(text)
        done = sitless("replay", str(workday["path"]), "--config", str(config), "--store", str(store))
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(config) in lines[0] and "Traceback" not in done.stderr
        assert all(n in lines[0] for n in needles), lines[0]
        assert not store.exists()


def test_replay_without_a_broker_writes_the_store_and_is_resumable(workday, tmp_path):
    config = write_config(tmp_path, "nobroker")
    db = tmp_path / "s.db"
    first = sitless("replay", str(workday["path"]), "--config", str(config), "--store", str(db), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert [(epoch(p["ts"]), p["level"]) for p in summary["prompts"]] == workday["expected"]
    again = sitless("replay", str(workday["path"]), "--config", str(config), "--store", str(db), "--json")
    assert json.loads(again.stdout)["prompts"] == []  # already processed: nothing new, no duplicates
    with Store.open(db) as store:
        assert len(store.prompts_between(0, 2**40)) == len(workday["expected"])
        assert store.outbox_pending() == []  # nothing queued for a broker that was never given


def test_monday_seven_oclock_publishes_last_weeks_report_retained(broker, subscribe, tmp_path):
    from sitless.firmware_bridge.recordings import write_recording
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate
    from tests.alerts.helpers import MONDAY_8

    friday = tmp_path / "friday.npz"
    write_recording(
        friday, simulate(SimulationConfig(hours=1, rate_hz=12.5, seed=5, start=MONDAY_8 - 3 * 86400)).samples
    )
    monday = tmp_path / "monday.npz"  # 06:50-07:10 UTC
    write_recording(
        monday,
        simulate(SimulationConfig(hours=1 / 3, rate_hz=12.5, seed=6, start=MONDAY_8 - 70 * 60)).samples,
    )
    device = "week" + uuid.uuid4().hex[:6]
    topic = f"sitless/{device}/report/weekly"
    config = write_config(tmp_path, device)
    db = str(tmp_path / "s.db")
    assert sitless("replay", str(friday), "--config", str(config), "--store", db).returncode == 0
    done = sitless("replay", str(monday), "--broker", broker.url, "--config", str(config), "--store", db)
    assert done.returncode == 0, done.stderr
    late = subscribe(broker.port, [topic])
    report = late.wait_for(topic)[0]
    assert report.retain and "2026-W46" in report.payload.decode()
    assert "weekly report 2026-W46 queued" in done.stderr
    later = tmp_path / "later.npz"  # 07:20-07:40 the same Monday: the week is already published
    write_recording(
        later, simulate(SimulationConfig(hours=1 / 3, rate_hz=12.5, seed=7, start=MONDAY_8 - 40 * 60)).samples
    )
    again = sitless("replay", str(later), "--broker", broker.url, "--config", str(config), "--store", db)
    assert again.returncode == 0 and "weekly report" not in again.stderr
