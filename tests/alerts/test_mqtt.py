"""The MQTT publisher against a real Mosquitto: outbox delivery, retained topics, commands, discovery."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from sitless.alerts.discovery import discovery_messages, discovery_topic
from sitless.alerts.mqtt import MqttError, MqttSettings, publish_retained, topics_for
from sitless.alerts.payloads import AckCommand, DndCommand, SnoozeCommand, state_payload
from sitless.analysis.postures import Posture
from sitless.store import Store
from tests.alerts.conftest import publish_raw


def unique_device() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "sitless.db")
    yield opened
    opened.close()


def start_publisher(make_publisher, url: str, device: str, **kwargs):
    settings = kwargs.pop("settings", None) or MqttSettings(url=url)
    publisher = make_publisher(settings, device, **kwargs)
    publisher.start()
    publisher.wait_connected(10)
    return publisher


def test_a_prompt_in_the_outbox_is_delivered_once_and_then_leaves_the_outbox(
    broker, subscribe, store, make_publisher
):
    device = unique_device()
    topics = topics_for(MqttSettings(), device)
    sub = subscribe(broker.port, [topics.prompt])
    store.outbox_put("id-1", topics.prompt, '{"id":"id-1"}')
    publisher = start_publisher(make_publisher, broker.url, device, outbox=store)
    try:
        (received,) = sub.wait_for(topics.prompt)
        assert received.json() == {"id": "id-1"} and not received.retain
        assert publisher.wait_drained(5) and store.outbox_pending() == []
        store.outbox_put("id-2", topics.prompt, '{"id":"id-2"}')
        publisher.kick()
        sub.wait_for(topics.prompt, 2)
        time.sleep(0.3)
        assert [m.json()["id"] for m in sub.on(topics.prompt)] == ["id-1", "id-2"]
    finally:
        publisher.stop()


def test_late_subscriber_finds_availability_and_state_retained_and_offline_after_stop(
    broker, subscribe, make_publisher
):
    device = unique_device()
    publisher = start_publisher(make_publisher, broker.url, device)
    state = state_payload(
        posture=Posture.SITTING, since=1.0e9, sitting_spell_s=600, battery=80, ts=1.0e9 + 600
    )
    publisher.publish(publisher.topics.state, json.dumps(state), retain=True)
    time.sleep(0.3)
    late = subscribe(broker.port, [publisher.topics.availability, publisher.topics.state])
    assert late.wait_for(publisher.topics.availability)[0].payload == b"online"
    got = late.wait_for(publisher.topics.state)[0]
    assert got.retain and got.json()["posture"] == "sitting" and got.json()["battery"] == 80
    publisher.stop()
    assert late.wait_for(publisher.topics.availability, 2)[-1].payload == b"offline"


def test_valid_commands_reach_the_daemon_and_malformed_ones_get_a_clear_error(
    broker, subscribe, make_publisher
):
    device = unique_device()
    received = []
    publisher = start_publisher(make_publisher, broker.url, device, on_command=received.append)
    errors = subscribe(broker.port, [publisher.topics.error])
    prompt_id = str(uuid.uuid4())
    try:
        for name, payload in (
            ("snooze", b""),
            ("snooze", b'{"minutes": 20}'),
            ("ack", json.dumps({"id": prompt_id}).encode()),
            ("dnd", b'{"minutes": 60}'),
            ("dnd", b"off"),
        ):
            publish_raw(broker.port, publisher.topics.cmd(name), payload)
        bad = (
            ("snooze", b'{"minutes": -5}', "minutes must be"),
            ("snooze", b"{not json", "not valid JSON"),
            ("ack", b'{"id": "hello"}', "not a prompt id"),
            ("dnd", b'{"until": "tomorrow"}', "ISO-8601"),
            ("dnd", b"\xff\xfe", "UTF-8"),
            ("reboot", b"now", "unknown command"),
        )
        for name, payload, _ in bad:
            publish_raw(broker.port, publisher.topics.cmd(name), payload)
        messages = errors.wait_for(publisher.topics.error, len(bad))
        deadline = time.monotonic() + 5
        while len(received) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received == [
            SnoozeCommand(),
            SnoozeCommand(20.0),
            AckCommand(prompt_id),
            DndCommand(minutes=60.0),
            DndCommand(),
        ]
        for message, (name, _, needle) in zip(messages, bad, strict=True):
            assert message.json()["topic"].endswith(f"cmd/{name}") and needle in message.json()["error"]
    finally:
        publisher.stop()


def test_a_retained_command_is_ignored(broker, subscribe, make_publisher):
    device = unique_device()
    topics = topics_for(MqttSettings(), device)
    errors = subscribe(broker.port, [topics.error])
    publish_raw(broker.port, topics.cmd("snooze"), b"PRESS", retain=True)
    received = []
    publisher = start_publisher(make_publisher, broker.url, device, on_command=received.append)
    try:
        assert "retained" in errors.wait_for(topics.error)[0].json()["error"]
        assert received == []
    finally:
        publish_raw(
            broker.port, topics.cmd("snooze"), b"", retain=True
        )  # an empty retained payload clears it
        publisher.stop()


def test_discovery_is_republished_when_home_assistant_comes_online(broker, subscribe, make_publisher):
    device = unique_device()
    publisher = start_publisher(make_publisher, broker.url, device)
    publisher.set_discovery(discovery_messages(publisher.topics, device, sw_version="test"))
    config_topic = discovery_topic(device)
    sub = subscribe(broker.port, [config_topic])
    try:
        sub.wait_for(config_topic, 1)
        publish_raw(broker.port, "homeassistant/status", b"online")
        sub.wait_for(config_topic, 2)
    finally:
        publisher.stop()


def test_mqtt_311_is_an_option(broker, subscribe, store, make_publisher):
    device = unique_device()
    topics = topics_for(MqttSettings(), device)
    sub = subscribe(broker.port, [topics.prompt])
    store.outbox_put("v311", topics.prompt, '{"id":"v311"}')
    publisher = start_publisher(
        make_publisher,
        broker.url,
        device,
        outbox=store,
        settings=MqttSettings(url=broker.url, protocol="3.1.1"),
    )
    try:
        assert sub.wait_for(topics.prompt)[0].json()["id"] == "v311"
        assert publisher.wait_drained(5)
    finally:
        publisher.stop()


def test_one_shot_retained_publish_for_the_weekly_report(broker, subscribe):
    device = unique_device()
    settings = MqttSettings(url=broker.url)
    topic = topics_for(settings, device).report_weekly
    publish_retained(settings, topic, '{"week":"2026-W47"}')
    late = subscribe(broker.port, [topic])
    got = late.wait_for(topic)[0]
    assert got.retain and got.json() == {"week": "2026-W47"}


def test_no_broker_listening_is_a_clear_error(make_publisher):
    from sitless.broker import free_port

    settings = MqttSettings(url=f"mqtt://127.0.0.1:{free_port()}")
    publisher = make_publisher(settings, unique_device())
    publisher.start()
    try:
        with pytest.raises(MqttError, match="connection refused"):
            publisher.wait_connected(1)
    finally:
        publisher.stop()
    with pytest.raises(MqttError, match="connection refused"):
        publish_retained(settings, "x/y", "z")


def test_credentials_in_the_broker_url_are_refused():
    with pytest.raises(ValueError, match="must not contain credentials"):
        MqttSettings(url="mqtt://me:secret@localhost:1883")
