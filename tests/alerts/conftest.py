"""Fixtures: a real Mosquitto on a free loopback port, and an independent MQTT subscriber."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sitless.broker import BrokerError, PrivateBroker, start_private_broker

TEMPLATES = Path(__file__).parent / "mosquitto"


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory):
    """The user's own config, calibration and data must not leak into these tests (nor the reverse);
    subprocesses (`sitless replay`, `sitless run`) inherit this environment."""
    home = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "SITLESS_CONFIG")}
    os.environ.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
    )
    os.environ.pop("SITLESS_CONFIG", None)  # the default file, in the private home, does not exist
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _start(tmp: Path, **kwargs) -> PrivateBroker:
    try:
        return start_private_broker(tmp, **kwargs)
    except BrokerError as error:  # never skip: a missing component is a failure with the fix in it
        pytest.fail(f"these tests need a real Mosquitto: {error}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = _start(tmp_path_factory.mktemp("broker"))
    yield server
    server.stop()


@pytest.fixture
def own_broker(tmp_path):
    """A broker this test may kill and restart."""
    server = _start(tmp_path / "broker")
    yield server
    server.stop()


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() on arrival

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    """An independent MQTT 5 client that records everything on its topics (persistent session)."""

    def __init__(self, url_port: int, topics: list[str], *, persistent: bool = False) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        props = None
        if persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", url_port, keepalive=10, clean_start=not persistent, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise AssertionError("test subscriber could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, bytes(message.payload), bool(message.retain), time.monotonic())
            )

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(topic)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} message(s) on {topic} within {timeout} s, got {len(self.on(topic))}"
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe():
    made: list[Subscriber] = []

    def factory(port: int, topics: list[str], **kwargs) -> Subscriber:
        sub = Subscriber(port, topics, **kwargs)
        made.append(sub)
        return sub

    yield factory
    for sub in made:
        sub.close()


def publish_raw(port: int, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
    """Publish as a third party would (Home Assistant, a phone app, a stray script)."""
    import paho.mqtt.publish as one_shot

    one_shot.single(
        topic, payload, qos=1, retain=retain, hostname="127.0.0.1", port=port, protocol=paho.MQTTv5
    )


@pytest.fixture
def make_publisher():
    """``make_publisher(settings, device, **kwargs)``: an ``MqttPublisher`` on an asyncio loop of its
    own thread, called synchronously from the test (stopped and its loop closed afterwards)."""
    from sitless.alerts.mqtt import MqttPublisher
    from tests.alerts.loop_thread import LoopThread, SyncPublisher

    loop = LoopThread()
    made: list[SyncPublisher] = []

    def factory(settings, device: str, **kwargs) -> SyncPublisher:
        publisher = SyncPublisher(MqttPublisher(settings, device, **kwargs), loop)
        made.append(publisher)
        return publisher

    yield factory
    for publisher in made:
        publisher.stop()
    loop.close()


@pytest.fixture(scope="session")
def workday(tmp_path_factory):
    """An 8-hour office day (Monday 08:00 UTC), its file, and the prompts the rules imply for it."""
    from sitless.analysis.classify import classify
    from sitless.firmware_bridge.recordings import write_recording
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate
    from tests.alerts.helpers import MONDAY_8
    from tests.alerts.oracle import expected_prompts

    recording = simulate(SimulationConfig(hours=8, rate_hz=25, seed=3, start=MONDAY_8))
    path = tmp_path_factory.mktemp("day") / "day.npz"
    write_recording(path, recording.samples)
    postures = classify(recording.samples)
    return {
        "path": path,
        "samples": recording.samples,
        "postures": postures,
        "truth": recording.truth,
        "expected": expected_prompts(postures.start, postures.codes.tolist()),
        "expected_from_truth": expected_prompts(recording.truth.start, recording.truth.codes.tolist()),
    }
