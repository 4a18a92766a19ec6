"""Home Assistant discovery: the payloads against Home Assistant's documented discovery schema, the
templates rendered as Home Assistant renders them (Jinja2), and the entities round-tripping through a real
Mosquitto and a real `sitless run`.

No Home Assistant runs here (see tests/alerts/ha_discovery.py for why): what it would do is played by an
MQTT client that publishes exactly what the discovery config tells Home Assistant to publish, and that
renders each entity's ``value_template`` on the state messages it receives.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from datetime import datetime

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitless.alerts.discovery import (
    NO_DATA_OPTION,
    discovery_config,
    discovery_messages,
    discovery_node_id,
    discovery_topic,
)
from sitless.alerts.mqtt import MqttSettings, topics_for
from sitless.alerts.payloads import state_payload
from sitless.analysis.postures import Posture
from tests.alerts.conftest import publish_raw
from tests.alerts.ha_discovery import DiscoveryError, check_topic, validate_device_config
from tests.alerts.helpers import MONDAY_8, sitless_command, write_config

TEMPLATES = jinja2.Environment(undefined=jinja2.StrictUndefined)


def render(template: str, state: dict) -> str:
    """Home Assistant's value_template: Jinja2 with the payload parsed as ``value_json``."""
    return TEMPLATES.from_string(template).render(value_json=state, value=json.dumps(state)).strip()


def config_for(device: str) -> tuple[str, dict]:
    topics = topics_for(MqttSettings(), device)
    ((topic, payload),) = discovery_messages(topics, device, sw_version="0.1.0")
    return topic, json.loads(payload)


@pytest.mark.parametrize("device", ["desk", "my.desk", "C0:FF:EE:00:00:01", "büro 2", "a" * 40])
def test_discovery_passes_home_assistants_schema_for_any_device_id(device):
    topic, config = config_for(device)
    check_topic(topic)
    components = validate_device_config(config)
    assert {c["platform"] for c in components.values()} == {
        "binary_sensor",
        "sensor",
        "event",
        "button",
        "switch",
    }
    for key, component in components.items():
        assert component["default_entity_id"].startswith(component["platform"] + ".")
        assert "object_id" not in component, key


def test_the_schema_check_refuses_what_home_assistant_would_drop_or_refuse():
    """The checker must be able to fail: the old object_id, an illegal node id, an 'unknown' option."""
    _, config = config_for("desk")
    old = json.loads(json.dumps(config))
    old["cmps"]["sitting"]["object_id"] = "sitless_desk_sitting"
    with pytest.raises(DiscoveryError, match="object_id"):
        validate_device_config(old)
    with pytest.raises(DiscoveryError, match="illegal discovery topic"):
        check_topic("homeassistant/device/sitless_my.desk/config")
    clash = json.loads(json.dumps(config))
    clash["cmps"]["posture"]["options"].append("unknown")
    with pytest.raises(DiscoveryError, match="unknown"):
        validate_device_config(clash)
    wrong_unit = json.loads(json.dumps(config))
    wrong_unit["cmps"]["snoozed_until"]["unit_of_measurement"] = "min"
    with pytest.raises(DiscoveryError, match="timestamp"):
        validate_device_config(wrong_unit)


@given(st.text(alphabet=st.characters(blacklist_characters="/+#\0"), min_size=1, max_size=30))
def test_every_device_id_gets_a_legal_node_id(device):
    check_topic(discovery_topic(device))


def test_device_ids_that_differ_only_in_illegal_characters_stay_apart():
    ids = {discovery_node_id(d) for d in ("my.desk", "my:desk", "my desk", "my_desk")}
    assert len(ids) == 4
    assert discovery_node_id("desk") == "sitless_desk"  # a legal id is kept as it was


def test_origin_carries_the_support_url_when_there_is_one():
    config = discovery_config(
        topics_for(MqttSettings(), "d"), "d", sw_version="1", origin_url="https://example.org/help"
    )
    assert config["o"] == {"name": "sitless", "sw": "1", "url": "https://example.org/help"}
    validate_device_config(config)


def states() -> dict[str, dict]:
    base = dict(since=MONDAY_8, sitting_spell_s=600, battery=80, ts=MONDAY_8 + 600)
    return {
        "no data": state_payload(posture=Posture.UNKNOWN, **base),
        "snoozed": state_payload(posture=Posture.SITTING, snoozed_until=MONDAY_8 + 1500, **base),
        "dnd": state_payload(posture=Posture.STANDING, dnd_until=MONDAY_8 + 4200, **base),
    }


def test_every_template_renders_a_state_home_assistant_accepts():
    _, config = config_for("desk")
    components = validate_device_config(config)
    state_topic = topics_for(MqttSettings(), "desk").state
    for name, state in states().items():
        for key, component in components.items():
            if "value_template" not in component or component["state_topic"] != state_topic:
                continue
            value = render(component["value_template"], state)
            if component["platform"] in ("binary_sensor", "switch"):
                assert value in ("ON", "OFF"), (name, key, value)
            elif component.get("device_class") == "timestamp":
                assert value == "None" or datetime.fromisoformat(value).tzinfo is not None, (name, key, value)
            elif component.get("device_class") == "enum":
                assert value in component["options"], (name, key, value)
            else:
                float(value)
    posture = components["posture"]
    assert render(posture["value_template"], states()["no data"]) == NO_DATA_OPTION


def test_dnd_switch_and_snooze_round_trip_through_a_real_daemon(broker, subscribe, tmp_path):
    """Play Home Assistant: press what the discovery config says to press, read back through its templates."""
    device = "ha" + uuid.uuid4().hex[:6]
    topics = topics_for(MqttSettings(), device)
    config_topic = discovery_topic(device)
    sub = subscribe(broker.port, [topics.state, config_topic])
    config = write_config(tmp_path, device)
    daemon = subprocess.Popen(
        sitless_command("run", "--simulate", "--broker", broker.url, "--config", str(config), "--store", str(tmp_path / "s.db")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def entity_after(action, key: str, want) -> dict:
        """The first state message after ``action`` on which entity ``key`` shows what ``want`` accepts."""
        seen = len(sub.on(topics.state))
        action()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for message in sub.on(topics.state)[seen:]:
                value = render(components[key]["value_template"], message.json())
                if want(value):
                    return message.json()
            time.sleep(0.05)
        raise AssertionError(
            f"{key} never became what was expected; last state {sub.on(topics.state)[-1].json()}"
        )

    try:
        components = validate_device_config(sub.wait_for(config_topic, timeout=15)[0].json())
        sub.wait_for(topics.state, timeout=15)
        switch = components["dnd"]
        on = entity_after(
            lambda: publish_raw(broker.port, switch["command_topic"], switch["payload_on"]),
            "dnd",
            "ON".__eq__,
        )
        until = render(components["dnd_until"]["value_template"], on)
        assert datetime.fromisoformat(until).timestamp() > time.time() + 6 * 86400  # until switched off
        off = entity_after(
            lambda: publish_raw(broker.port, switch["command_topic"], switch["payload_off"]),
            "dnd",
            "OFF".__eq__,
        )
        assert render(components["dnd_until"]["value_template"], off) == "None"
        button = components["snooze"]
        press = lambda: publish_raw(broker.port, button["command_topic"], button["payload_press"])  # noqa: E731
        snoozed = entity_after(press, "snoozed_until", lambda v: v != "None")
        until = datetime.fromisoformat(render(components["snoozed_until"]["value_template"], snoozed))
        assert 14 * 60 <= until.timestamp() - time.time() <= 15 * 60 + 5
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.communicate(timeout=20)
        finally:
            daemon.kill()


def retained_on(port: int, topics: list[str], settle: float = 1.0) -> dict[str, bytes]:
    """What a new subscriber (Home Assistant after a restart) finds retained on ``topics``."""
    from tests.alerts.conftest import Subscriber

    sub = Subscriber(port, topics)
    try:
        time.sleep(settle)
        return {m.topic: m.payload for m in sub.messages if m.retain and m.payload}
    finally:
        sub.close()


def test_a_demo_against_a_real_broker_removes_what_it_retained(broker, subscribe, tmp_path):
    """One demo run (they cost seconds): a subscriber from the start sees the demo device published, and a
    new subscriber afterwards (Home Assistant after a restart) finds nothing retained."""
    from tests.alerts.helpers import sitless

    topics = topics_for(MqttSettings(), "demo")
    watched = [discovery_topic("demo"), topics.state, topics.availability]
    during = subscribe(broker.port, watched)
    demo = [
        "demo",
        "--broker",
        broker.url,
        "--hours",
        "0.25",
        "--seconds",
        "2",
        "--out-dir",
        str(tmp_path / "d"),
    ]
    cleaned = sitless(*demo)
    assert cleaned.returncode == 0, cleaned.stderr
    assert {m.topic for m in during.messages if m.payload} == set(watched)  # it was there
    assert "removed the demo's retained messages" in cleaned.stdout
    assert retained_on(broker.port, watched) == {}
    assert "--keep-retained" in sitless("demo", "--help").stdout  # the way to keep it instead
