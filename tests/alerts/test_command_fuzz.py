"""Fuzz: tens of thousands of generated command payloads through a real Mosquitto into a running daemon.

Issue 13: one small MQTT message (deep JSON, a far-future DND) cut the daemon off or poisoned it. Here
``sitless run --simulate`` gets ``PER_TOPIC`` payloads on each command topic (random bytes, broken and
deep JSON, huge and odd numbers, far-future and past times, retained ones, a few 1 MB ones) from one
client in bulk, and must still be connected, still publish state, apply a last valid command, and log
no traceback.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sitless.broker import start_private_broker
from tests.alerts.conftest import TEMPLATES, publish_raw
from tests.alerts.helpers import epoch, sitless_command, write_config

pytestmark = pytest.mark.fault

PER_TOPIC = 10_000
TOPICS = ("snooze", "ack", "dnd")


def payloads(rng: random.Random, count: int) -> list[tuple[bytes, bool]]:
    """(payload, retain) pairs: every family of hostile input the issue found, and valid ones too."""

    def number() -> object:
        return rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.randint(-(10**6), 10**6),
                10 ** rng.randint(10, 400),
                rng.choice([1e308, -1e308, 5e-324, 0, -0.0, 1e12, 10080, 10081, 1441, 1e9]),
            ]
        )

    def instant() -> object:
        year = rng.choice([1, 1970, 2000, 2026, 2027, 9999, rng.randint(1, 9999)])
        offset = rng.choice(["+00:00", "-12:00", "+14:00", "Z", "", "+99:99"])
        return rng.choice(
            [
                f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00{offset}",
                number(),
                "tomorrow",
                None,
                [],
            ]
        )

    def text(length: int) -> str:
        return "".join(
            chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x10FFFF)])) for _ in range(length)
        )

    def json_value(depth: int = 0) -> object:
        kind = rng.randint(0, 6 if depth < 3 else 3)
        if kind == 0:
            return number()
        if kind == 1:
            return text(rng.randint(0, 20))
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return str(uuid.UUID(int=rng.getrandbits(128)))
        if kind == 4:
            return [json_value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {
            rng.choice(["minutes", "until", "off", "id", text(3)]): json_value(depth + 1)
            for _ in range(rng.randint(0, 3))
        }

    def one() -> bytes:
        family = rng.randint(0, 11)
        if family == 0:
            return rng.randbytes(rng.randint(0, 64))
        if family == 1:
            opener = rng.choice(["[", '{"a":', '{"minutes":', '{"until":['])
            return (opener * rng.randint(100, 5000)).encode()
        if family == 2:
            return json.dumps({"minutes": number()}).encode()
        if family == 3:
            return json.dumps({"until": instant()}).encode()
        if family == 4:
            return json.dumps(number()).encode()
        if family == 5:
            return rng.choice(
                [b"", b"PRESS", b"off", b"OFF", b"snooze", b"NaN", b"Infinity", b"-Infinity", b"null"]
            )
        if family == 6:
            return json.dumps({"off": json_value()}).encode()
        if family == 7:
            return json.dumps({"id": json_value()}).encode()
        if family == 8:
            return json.dumps(json_value(), allow_nan=True).encode()
        if family == 9:
            return text(rng.randint(0, 200)).encode("utf-8", "surrogatepass")
        if family == 10:
            return ("9" * rng.randint(4000, 5000)).encode()  # past CPython's 4300-digit int limit
        body = json.dumps(json_value())
        return body[: rng.randint(0, len(body))].encode()  # truncated JSON

    made = [(one(), rng.random() < 0.05) for _ in range(count - 3)]
    made += [(rng.randbytes(1 << 20), False)] * 3  # 1 MB payloads
    rng.shuffle(made)
    return made


@pytest.fixture
def fuzz_broker(tmp_path):
    server = start_private_broker(tmp_path / "broker", template=TEMPLATES / "fuzz.conf")
    yield server
    server.stop()


def test_ten_thousand_hostile_payloads_per_command_topic_leave_the_daemon_connected(
    fuzz_broker, subscribe, tmp_path
):
    broker = fuzz_broker
    device = "fuzz" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device}/"
    watch = subscribe(broker.port, [prefix + "availability", prefix + "state"])
    config = write_config(tmp_path, device)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen(
            sitless_command("run", "--simulate", "--broker", broker.url, "--config", str(config),
                            "--store", str(tmp_path / "s.db")),
            stdout=subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip
    fuzzer = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzzer-{device}", protocol=paho.MQTTv5)
    try:
        assert watch.wait_for(prefix + "availability", timeout=20)[-1].payload == b"online"
        watch.wait_for(prefix + "state", timeout=20)
        rng = random.Random(13)
        fuzzer.max_queued_messages_set(0)
        fuzzer.connect("127.0.0.1", broker.port)
        fuzzer.loop_start()
        sent = {name: 0 for name in TOPICS}
        started = time.monotonic()
        last = None
        for name in TOPICS:
            for payload, retain in payloads(rng, PER_TOPIC):
                last = fuzzer.publish(
                    prefix + "cmd/" + name, payload, qos=1 if rng.random() < 0.1 else 0, retain=retain
                )
                sent[name] += 1
        for _ in range(200):  # a few hostile topic names too
            fuzzer.publish(prefix + "cmd/" + rng.choice(["", "reboot", "dnd/x", "é" * 100]), b"1", qos=0)
        last.wait_for_publish(60)
        for name in TOPICS:  # clear what was retained, so later tests on this broker start clean
            fuzzer.publish(prefix + "cmd/" + name, b"", qos=1, retain=True).wait_for_publish(10)
        published_s = time.monotonic() - started
        # A last valid command: once it shows in the state, everything before it has been handled.
        publish_raw(broker.port, prefix + "cmd/dnd", b'{"minutes": 33}')
        deadline = time.monotonic() + 60
        applied = None
        while time.monotonic() < deadline and applied is None:
            for message in watch.on(prefix + "state"):
                body = message.json()
                if body["dnd_until"] and abs(epoch(body["dnd_until"]) - epoch(body["ts"]) - 33 * 60) <= 30:
                    applied = body
            time.sleep(0.1)
        handled_s = time.monotonic() - started
        assert applied is not None, "the daemon did not apply a valid command after the fuzz"
        assert daemon.poll() is None, "the daemon died"
        states_before = len(watch.on(prefix + "state"))
        time.sleep(1.5)
        publish_raw(broker.port, prefix + "cmd/snooze", b"1")  # it still reacts, and says so on state
        assert watch.wait_for(prefix + "state", states_before + 1, timeout=15)
        assert [m.payload for m in watch.on(prefix + "availability")] == [b"online"]
        print(
            f"fuzz: {sum(sent.values())} payloads ({sent}) published in {published_s:.1f} s, handled in {handled_s:.1f} s"
        )
    finally:
        fuzzer.loop_stop()
        fuzzer.disconnect()
        daemon.terminate()
        try:
            daemon.wait(20)
        finally:
            daemon.kill()
    log = log_path.read_text()
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 : log.find("Traceback") + 3000]
    assert "rejected command" in log
    assert "lost connection" not in log and "network loop had stopped" not in log
    assert len(log) < 200_000, f"{len(log)} bytes of log for one fuzz run: rejections must be rate-limited"
