"""Hostile commands against a real Mosquitto: answered on `error`, the connection kept, retained ignored."""

from __future__ import annotations

import time
import uuid

import pytest

from sitless.alerts.mqtt import MqttSettings, topics_for
from sitless.alerts.payloads import SnoozeCommand
from tests.alerts.conftest import publish_raw

pytestmark = pytest.mark.fault


def unique_device() -> str:
    return "c" + uuid.uuid4().hex[:10]


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def daemon_side(broker, subscribe, make_publisher):
    """A connected publisher whose commands land in ``received``; ``errors`` and ``availability`` listen."""
    made = []

    def factory(on_command=None, protocol: str = "5"):
        device = unique_device()
        topics = topics_for(MqttSettings(), device)
        errors = subscribe(broker.port, [topics.error, topics.availability])
        received: list = []
        publisher = make_publisher(
            MqttSettings(url=broker.url, protocol=protocol, discovery=False),
            device,
            on_command=on_command or received.append,
        )
        publisher.start()
        publisher.wait_connected(10)
        made.append(publisher)
        return publisher, received, errors

    yield factory
    for publisher in made:
        publisher.stop()


def still_online(publisher, sub) -> bool:
    return publisher.connected and all(m.payload == b"online" for m in sub.on(publisher.topics.availability))


def test_deeply_nested_json_is_answered_and_the_connection_kept(broker, daemon_side):
    """Issue 13.1: '[' * 2000 on cmd/dnd raised RecursionError in the paho thread, which died for good."""
    publisher, received, sub = daemon_side()
    for name in ("dnd", "snooze", "ack"):
        publish_raw(broker.port, publisher.topics.cmd(name), "[" * 2000)
    errors = sub.wait_for(publisher.topics.error, 3)
    assert all("nested too deeply" in e.json()["error"] for e in errors)
    publish_raw(broker.port, publisher.topics.cmd("snooze"), b"20")
    assert wait_until(lambda: received == [SnoozeCommand(20.0)])
    assert still_online(publisher, sub)


def test_an_exception_while_handling_a_command_is_answered_and_the_connection_kept(broker, daemon_side):
    def broken(command) -> None:
        raise RuntimeError("a bug in the command handler")

    publisher, _, sub = daemon_side(on_command=broken)
    publish_raw(broker.port, publisher.topics.cmd("snooze"), b"PRESS")
    (error,) = sub.wait_for(publisher.topics.error)
    assert "could not be handled: RuntimeError" in error.json()["error"]
    publish_raw(broker.port, publisher.topics.cmd("snooze"), b"{bad")
    assert "not valid JSON" in sub.wait_for(publisher.topics.error, 2)[-1].json()["error"]
    assert still_online(publisher, sub)


def test_the_watchdog_restarts_a_connection_task_that_died(broker, daemon_side):
    """The connection task is cancelled from outside, standing in for a bug that ends it (every
    exception inside is caught, so nothing else can); ``ensure_running`` notices and restarts it."""
    publisher, received, sub = daemon_side()
    assert not publisher.ensure_running()  # alive: nothing to do
    publisher.loop.call(publisher.publisher._task.cancel)
    assert wait_until(publisher.ensure_running)
    publisher.wait_connected(10)
    publish_raw(broker.port, publisher.topics.cmd("snooze"), b"5")
    assert wait_until(lambda: received == [SnoozeCommand(5.0)])


@pytest.mark.parametrize("protocol", ["5"])
def test_a_retained_command_sent_while_connected_is_ignored_too(broker, daemon_side, protocol):
    """Issue 13.3: the broker clears the retain flag on live delivery; Retain As Published keeps it."""
    publisher, received, sub = daemon_side(protocol=protocol)
    topic = publisher.topics.cmd("snooze")
    try:
        publish_raw(broker.port, topic, b"PRESS", retain=True)
        (error,) = sub.wait_for(publisher.topics.error)
        assert "retained commands are ignored" in error.json()["error"]
        publish_raw(broker.port, topic, b"", retain=True)  # clearing it: ignored, and no error reply
        publish_raw(broker.port, topic, b"7")  # a marker: everything before it has been handled
        assert wait_until(lambda: received == [SnoozeCommand(7.0)])
        assert len(sub.on(publisher.topics.error)) == 1
    finally:
        publish_raw(broker.port, topic, b"", retain=True)


def test_an_empty_retained_payload_met_after_a_reconnect_is_not_a_default_snooze(
    broker, subscribe, make_publisher
):
    device = unique_device()
    topics = topics_for(MqttSettings(), device)
    sub = subscribe(broker.port, [topics.error])
    publish_raw(broker.port, topics.cmd("snooze"), b"PRESS", retain=True)
    publish_raw(broker.port, topics.cmd("snooze"), b"", retain=True)  # deletes it on the broker
    publish_raw(broker.port, topics.cmd("ack"), b"PRESS", retain=True)
    received: list = []
    publisher = make_publisher(
        MqttSettings(url=broker.url, discovery=False), device, on_command=received.append
    )
    publisher.start()
    try:
        publisher.wait_connected(10)
        (error,) = sub.wait_for(topics.error)  # the retained ack, on subscribing
        assert "cmd/ack: retained commands are ignored" in error.json()["error"]
        time.sleep(0.3)
        assert received == []
    finally:
        publish_raw(broker.port, topics.cmd("ack"), b"", retain=True)
        publisher.stop()


def test_a_running_daemon_refuses_far_future_and_past_holds_and_takes_a_four_day_snooze(
    broker, subscribe, tmp_path
):
    """Issue 13.2 and 13.4 end to end: `{"until": "9999-12-31..."}` used to raise on every chunk, and a
    2,000-minute snooze passed the payload check only to be dropped by the policy without a reply."""
    import signal
    import subprocess

    from tests.alerts.helpers import epoch, sitless_command, write_config

    device = "hold" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device}/"
    sub = subscribe(broker.port, [prefix + "state", prefix + "error"])
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen(
            sitless_command("run", "--simulate", "--broker", broker.url, "--config", str(write_config(tmp_path, device)),
                            "--store", str(tmp_path / "s.db")),
            stdout=subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip
    try:
        sub.wait_for(prefix + "state", timeout=20)
        for payload in (b'{"until": "9999-12-31T23:59:59+00:00"}', b'{"until": 1e12}', b'{"until": "2001-01-01T00:00:00Z"}',
                        b'{"off": "yes"}'):  # fmt: skip
            publish_raw(broker.port, prefix + "cmd/dnd", payload)
        errors = [e.json()["error"] for e in sub.wait_for(prefix + "error", 4)]
        assert sum("more than 7 days" in e for e in errors) == 2, errors
        assert any("in the past" in e for e in errors) and any('"off" switches' in e for e in errors), errors
        publish_raw(broker.port, prefix + "cmd/snooze", b'{"minutes": 2000}')
        assert wait_until(lambda: any(m.json()["snoozed_until"] for m in sub.on(prefix + "state")), 15)
        state = next(m.json() for m in sub.on(prefix + "state") if m.json()["snoozed_until"])
        assert abs(epoch(state["snoozed_until"]) - epoch(state["ts"]) - 2000 * 60) < 60
        count = len(sub.on(prefix + "state"))
        publish_raw(broker.port, prefix + "cmd/dnd", b"off")
        assert sub.wait_for(prefix + "state", count + 1, timeout=15)  # still applying, still publishing
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(20)
    finally:
        daemon.kill()
    assert daemon.returncode == 0
    assert "Traceback" not in log_path.read_text()
