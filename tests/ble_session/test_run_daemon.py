"""``sitless run --device ADDR`` end to end, sensor to phone, with no radio.

A simulated thigh (``sitless.firmware_bridge.simulate``: the wearer sits, then stands up) is encoded as Polar H10
PMD frames and streamed by the fake BlueZ; the real daemon runs as a subprocess (real Bleak on the private
system bus, real classifier, policy and store) and publishes to a real Mosquitto, where an independent
subscriber plays the phone. Half-way through the sitting, the link drops and the sensor comes back.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from sitless.analysis.postures import Posture
from tests.alerts.conftest import Received, Subscriber
from tests.alerts.helpers import sitless_command
from tests.ble_session import daemon_fixtures
from tests.ble_session.daemon_fixtures import (
    SPEED,
    PolarH10,
    SensorStream,
    sit_then_stand_stretch,
    wait_until_measuring,
    write_daemon_config,
)

pytestmark = pytest.mark.ble
mosquitto = daemon_fixtures.mosquitto  # fixtures: pytest finds them as attributes of the test module
daemon_env = daemon_fixtures.daemon_env
ADDRESS = "A0:9E:1A:5E:00:01"
SIT_LIMIT_MIN = 0.5


def epoch(message: Received, key: str) -> float:
    return datetime.fromisoformat(message.json()[key]).timestamp()


def wait_for_state(sub: Subscriber, topic: str, accept, timeout: float, what: str) -> Received:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sub.on(topic):
            if accept(message):
                return message
        time.sleep(0.05)
    seen = [(m.json()["posture"], m.json()["ts"]) for m in sub.on(topic)]
    raise AssertionError(f"no state message showing {what} within {timeout:.0f} s; states seen: {seen}")


def start_daemon(
    tmp_path: Path, env: dict[str, str], broker_url: str, device_id: str
) -> tuple[subprocess.Popen, Path, Path]:
    """``sitless run --device`` as a user starts it; returns the process, its store and its log file."""
    config = write_daemon_config(tmp_path, device_id, SIT_LIMIT_MIN)
    db, log_path = tmp_path / "sitless.db", tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen(
            sitless_command("run", "--device", ADDRESS, "--broker", broker_url,
                            "--config", str(config), "--store", str(db)),
            env=env, stdout=log_file, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    return daemon, db, log_path


def stop(daemon: subprocess.Popen) -> None:
    """SIGTERM, as systemd stops it; killed only if it does not end (the test then fails on the code)."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def test_run_device_takes_a_thigh_from_ble_to_phone_prompts_while_sitting_and_survives_a_link_loss(
    bluez, mosquitto, daemon_env, tmp_path
):
    device_id = "ble" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device_id}/"
    availability, state, prompt = prefix + "availability", prefix + "state", prefix + "prompt"
    stretch = sit_then_stand_stretch()
    sensor = PolarH10(ADDRESS)
    sensor.device = bluez.add_device(sensor.peripheral)
    sub = Subscriber(mosquitto.port, [availability, state, prompt])
    stream = SensorStream(bluez, sensor, stretch).start()
    daemon, db, log_path = start_daemon(tmp_path, daemon_env, mosquitto.url, device_id)
    try:
        assert sub.wait_for(availability, timeout=15)[-1].payload == b"online"
        wait_until_measuring(stream, timeout=20)
        stand_up = stream.data_time(stretch.stand_up_offset_s)

        wait_for_state(sub, state, lambda m: m.json()["posture"] == "sitting", timeout=10, what="sitting")

        # The wearer has been sitting since before the stretch began: the prompt is due once the daemon
        # has seen SIT_LIMIT_MIN of it, well before the stand-up.
        first_prompt = sub.wait_for(prompt, timeout=SIT_LIMIT_MIN * 60 / SPEED + 10)[0].json()
        prompt_ts = datetime.fromisoformat(first_prompt["ts"]).timestamp()
        assert prompt_ts < stand_up, "the prompt came after the simulated wearer had stood up"
        assert first_prompt["sitting_min"] >= SIT_LIMIT_MIN and first_prompt["level"] == 1
        assert first_prompt["exercise"]["name"]

        # Link loss while sitting (supervision timeout; the sensor is away for a moment, then back).
        drop_data_time = stream.data_time(stream.offset_now())
        bluez.drop_link(sensor.device, stay_away=True)
        time.sleep(1.0)
        assert daemon.poll() is None, "the daemon exited when the sensor went away"
        bluez.reappear(sensor.device)

        standing = wait_for_state(
            sub,
            state,
            lambda m: m.json()["posture"] == "standing" and epoch(m, "ts") > drop_data_time,
            timeout=max(0.0, stream.wall_until(stretch.stand_up_offset_s)) + 15,
            what="standing after the link came back",
        )
        assert epoch(standing, "ts") >= stand_up
        # Still standing a minute later (the state is refreshed every minute of data while it holds).
        wait_for_state(
            sub,
            state,
            lambda m: m.json()["posture"] == "standing" and epoch(m, "ts") >= stand_up + 60,
            timeout=max(0.0, stream.wall_until(stretch.stand_up_offset_s + 62)) + 10,
            what="standing a minute after the stand-up",
        )
        assert daemon.poll() is None, "the daemon exited"
    finally:
        stop(daemon)
        sub.close()
    log = log_path.read_text()
    assert daemon.returncode == 0, log
    assert stream.error is None, repr(stream.error)

    # The phone's view: online first, offline last; states follow the sensor data (sit, then stand).
    said = [m.payload for m in sub.on(availability)]
    assert said[0] == b"online" and said[-1] == b"offline", said
    postures = [m.json()["posture"] for m in sub.on(state)]
    truth_first, truth_last = stretch.postures[0].label, stretch.postures[-1].label
    assert postures[0] == truth_first and postures[-1] == truth_last, postures
    assert set(postures) <= {"sitting", "walking", "standing"}, postures
    late = Subscriber(mosquitto.port, [state])
    try:
        retained = late.wait_for(state, timeout=5)[0]
    finally:
        late.close()
    assert retained.retain and retained.json()["posture"] == truth_last

    # The store (read-only) holds the sensor's postures: the sitting spell, then the stand after the gap.
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as store:
        sessions = store.execute("SELECT model, started, ended FROM sessions").fetchall()
        batteries = store.execute("SELECT percent FROM battery").fetchall()
        spells = store.execute(
            "SELECT s.posture, s.start, s.end FROM spells s JOIN sensors n ON n.id = s.sensor "
            "WHERE n.name = ? ORDER BY s.start",
            (ADDRESS,),
        ).fetchall()
        prompts = dict(store.execute("SELECT prompt_id, ts FROM prompts").fetchall())
    assert spells, f"no postures stored for {ADDRESS}"
    seconds = Counter()
    for posture, start, end in spells:
        seconds[Posture(posture)] += end - start
    assert seconds.get(Posture.SITTING, 0) >= SIT_LIMIT_MIN * 60
    assert seconds.get(Posture.STANDING, 0) >= 30
    assert max(end for _, _, end in spells) > drop_data_time + 30  # postures kept coming after the loss
    assert set(prompts) == {m.json()["id"] for m in sub.on(prompt)}  # what the phone got is on record
    assert round(prompts[first_prompt["id"]]) == round(prompt_ts)
    assert "lost the link" in log and log.count(f"connected to {sensor.peripheral.name}") >= 2, log
    assert sensor.starts >= 2, "the daemon did not restart the measurement after reconnecting"
    assert "packets lost" not in log, log  # an unbroken stream within a connection shows no false gap
    assert [model for model, _, _ in sessions] == [sensor.peripheral.name], sessions
    assert all(ended is not None for _, _, ended in sessions), "the session was not closed on SIGTERM"
    assert batteries and {percent for (percent,) in batteries} == {sensor.peripheral.battery_percent}
    assert sub.on(state)[-1].json()["battery"] == sensor.peripheral.battery_percent
    assert sensor.stops >= 1, f"SIGTERM left the sensor measuring (no stop command); log:\n{log}"


def test_run_device_waits_for_a_sensor_that_is_out_of_range_at_start_then_streams(
    bluez, mosquitto, daemon_env, tmp_path
):
    device_id = "ble" + uuid.uuid4().hex[:6]
    state = f"sitless/{device_id}/state"
    sensor = PolarH10(ADDRESS)
    sensor.device = bluez.add_device(sensor.peripheral)
    bluez.call(lambda: setattr(sensor.device, "in_range", False))  # not advertising: still in the bag
    sub = Subscriber(mosquitto.port, [state])
    stream = SensorStream(bluez, sensor, sit_then_stand_stretch()).start(subscribe_timeout=30)
    daemon, db, log_path = start_daemon(tmp_path, daemon_env, mosquitto.url, device_id)
    try:
        deadline = time.monotonic() + 20
        while "not seen within" not in log_path.read_text() and daemon.poll() is None:
            assert time.monotonic() < deadline, "the daemon never looked for the sensor"
            time.sleep(0.05)
        time.sleep(1.0)  # a few more empty scans (scan_timeout_s = 2)
        assert daemon.poll() is None, f"the daemon exited while the sensor was away:\n{log_path.read_text()}"
        assert stream.device_start is None

        bluez.reappear(sensor.device)
        wait_until_measuring(stream, timeout=10)
        wait_for_state(sub, state, lambda m: m.json()["posture"] == "sitting", timeout=10, what="sitting")
    finally:
        stop(daemon)
        sub.close()
    assert daemon.returncode == 0, log_path.read_text()
    assert sensor.device.connect_calls >= 1 and sensor.stops >= 1
