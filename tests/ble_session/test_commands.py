"""``sitless scan``, ``sitless sensors`` and ``sitless record`` against the simulated BlueZ.

The commands run exactly as a user runs them (``sitless.cli.main``, or a subprocess where a real
Ctrl-C is needed); the fake BlueZ answers from its own thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sitless.cli import main
from sitless.firmware_bridge.decoders.registry import FAMILIES
from sitless.firmware_bridge.recordings import read_recording
from tests.ble_session.fake_bluez import Peripheral
from tests.ble_session.helpers import xyz_mg
from tests.ble_session.peripherals import MICROBIT_DATA, microbit, microbit_packets, quantised_g

pytestmark = pytest.mark.ble
ADDRESS = "C0:FF:EE:00:00:01"
ROOT = Path(__file__).resolve().parents[2]
microbit_g = quantised_g(1024)  # what the micro:bit reports for accelerations in milli-g


def stream_when_subscribed(bluez, device, packets: list[bytes]) -> threading.Thread:
    """Like a sensor: once the central subscribes, send ``packets`` at 500 Hz."""

    def run() -> None:
        bluez.wait_streaming(device, MICROBIT_DATA, timeout=20)
        bluez.send(device, MICROBIT_DATA, packets, interval=0.002).result(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_scan_lists_the_sensor_with_its_model_and_suggests_the_next_step(bluez, capsys):
    bluez.add_device(microbit(ADDRESS))

    assert main(["scan", "--timeout", "0.5"]) == 0

    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if ADDRESS in row)
    assert "BBC micro:bit [zavit]" in line and "micro:bit" in line.split(ADDRESS)[1]
    assert f"sitless record --device {ADDRESS}" in out


def test_scan_json_is_a_list_scripts_can_use(bluez, capsys):
    bluez.add_device(microbit(ADDRESS))
    bluez.add_device(Peripheral("AA:BB:CC:00:00:09", "Kettle", [], battery_percent=None, rssi=-85))

    assert main(["scan", "--timeout", "0.5", "--json"]) == 0

    found = {item["address"]: item for item in json.loads(capsys.readouterr().out)}
    assert found[ADDRESS]["family"] == "microbit" and found[ADDRESS]["rssi"] < 0
    assert found["AA:BB:CC:00:00:09"]["family"] is None


def test_scan_with_nothing_recognised_points_to_sitless_sensors(bluez, capsys):
    bluez.add_device(Peripheral("AA:BB:CC:00:00:09", "Kettle", [], battery_percent=None))

    assert main(["scan", "--timeout", "0.5"]) == 0

    out = capsys.readouterr().out
    assert "unknown" in out and "sitless sensors" in out


def test_scan_without_bluez_says_what_to_do_and_exits_2_without_a_traceback(no_bluez, capsys):
    assert main(["scan", "--timeout", "0.5"]) == 2

    err = capsys.readouterr().err
    assert "BlueZ is not running" in err and "--simulate" in err
    assert "Traceback" not in err


def test_scan_without_any_system_bus_says_bluez_is_not_running(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-socket'}")

    assert main(["scan", "--timeout", "0.3"]) == 2

    err = capsys.readouterr().err
    assert "BlueZ is not running" in err and "Traceback" not in err


def test_scan_on_a_missing_adapter_names_it(bluez, capsys):
    assert main(["scan", "--timeout", "0.3", "--adapter", "hci7"]) == 2

    assert "hci7" in capsys.readouterr().err


def test_sensors_lists_every_family_with_what_it_needs(capsys):
    assert main(["sensors", "--json"]) == 0

    families = {item["family"]: item for item in json.loads(capsys.readouterr().out)}
    assert set(families) == set(FAMILIES)
    assert "GSP" in families["movesense"]["notes"] or "SensorData" in families["movesense"]["notes"]
    assert families["microbit"]["service_uuid"] == "e95d0753-251d-470a-a062-fa1922dfa9a8"
    assert "[sensor.generic]" in families["generic"]["notes"]
    assert all(item["notes"] for item in families.values())


def test_record_writes_every_sample_received_to_a_private_csv(bluez, tmp_path, capsys):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(400, seed=3)
    sender = stream_when_subscribed(bluez, device, microbit_packets(rows))
    out = tmp_path / "thigh.csv"

    code = main(
        ["record", "--device", ADDRESS, "--out", str(out), "--seconds", "2.5", "--rate", "500", "--json"]
    )

    sender.join(5)
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == len(rows) and summary["family"] == "microbit"
    assert out.read_text().startswith("timestamp,x,y,z\n")
    recording = read_recording(out)
    np.testing.assert_allclose(recording.xyz, microbit_g(rows), atol=1e-5)
    assert (out.stat().st_mode & 0o777) == 0o600


def test_record_without_bluez_exits_2_and_leaves_no_file(no_bluez, tmp_path, capsys):
    out = tmp_path / "thigh.csv"

    assert main(["record", "--device", ADDRESS, "--out", str(out), "--seconds", "1"]) == 2

    assert "BlueZ is not running" in capsys.readouterr().err
    assert not out.exists()


def test_ctrl_c_stops_recording_cleanly_and_keeps_everything_received(bluez, subprocess_env, tmp_path):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(300, seed=4)
    out = tmp_path / "thigh.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "sitless", "record", "--device", ADDRESS, "--out", str(out), "--rate", "500"],
        cwd=ROOT,
        env={**subprocess_env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        bluez.wait_streaming(device, MICROBIT_DATA, timeout=20)
        assert bluez.send(device, MICROBIT_DATA, microbit_packets(rows), interval=0.002).result(30) == len(
            rows
        )
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"wrote {len(rows)} samples" in stdout
    np.testing.assert_allclose(read_recording(out).xyz, microbit_g(rows), atol=1e-5)
