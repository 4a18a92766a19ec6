"""The live BLE session, end to end through the real Bleak BlueZ backend against a simulated BlueZ.

Each test scripts the fake peripheral (see ``fake_bluez``) and watches what a user would see: the samples
that come out of ``BleSource.chunks()``, the events, and how quickly the session recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

import numpy as np
import pytest

from sitless.firmware_bridge.ble import BleSessionError, scan
from tests.ble_session.fake_bluez import Peripheral
from tests.ble_session.helpers import Session, fast_settings, polar_refusing_start, until, xyz_mg
from tests.ble_session.peripherals import (
    MICROBIT_DATA,
    MICROBIT_PERIOD,
    PMD_DATA,
    microbit,
    microbit_packets,
    quantised_g,
)

pytestmark = pytest.mark.ble
ADDRESS = "C0:FF:EE:00:00:01"
microbit_g = quantised_g(1024)  # what the micro:bit reports for accelerations in milli-g


def test_scan_finds_the_sensor_and_recognises_its_model_and_lists_strangers_as_unknown(bluez):
    bluez.add_device(microbit(ADDRESS))
    bluez.add_device(
        Peripheral("AA:BB:CC:00:00:09", "Someone's headphones", [], battery_percent=None, rssi=-80)
    )

    found = asyncio.run(scan(timeout=0.5))

    assert [s.address for s in found] == [ADDRESS, "AA:BB:CC:00:00:09"]  # recognised sensors first
    sensor, stranger = found
    assert sensor.family == "microbit"
    assert "micro:bit" in (sensor.model or "")
    assert sensor.name == "BBC micro:bit [zavit]"
    assert sensor.rssi is not None and -65 < sensor.rssi < -50
    assert stranger.family is None and stranger.model is None


def test_thousands_of_notifications_decode_to_exactly_the_samples_sent(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(1500)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, rate_hz=50))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        delivered = await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows)))
        await until(lambda: len(session.samples) >= len(rows), 10, "all samples")
        await session.stop()
        return session, delivered

    session, delivered = asyncio.run(scenario())

    assert delivered == len(rows)
    samples = session.samples
    np.testing.assert_array_equal(samples.xyz, microbit_g(rows))
    assert np.all(np.diff(samples.t) >= 0)
    assert session.source.stats.malformed == 0
    # connecting wrote the start bytes: the 20 ms period for 50 Hz, little-endian
    assert (MICROBIT_PERIOD, b"\x14\x00") in device.written
    assert session.kinds().count("connected") == 1


def test_battery_level_is_read_at_connect_followed_and_warned_about_when_low(bluez):
    device = bluez.add_device(replace(microbit(ADDRESS), battery_percent=40))

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, low_battery_percent=15))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await until(lambda: session.source.battery_percent == 40, 5, "battery read at connect")
        bluez.call(device.notify, "00002a19-0000-1000-8000-00805f9b34fb", bytes([9]))
        await until(lambda: session.source.battery_percent == 9, 5, "battery notification")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    battery = [e for e in session.events if e.kind == "battery"]
    assert [e.percent for e in battery] == [40, 9]
    assert [e.low for e in battery] == [False, True]
    assert "charge it soon" in battery[-1].message


def test_link_loss_reconnects_and_resumes_within_5_s_of_the_device_reappearing_with_the_gap_marked(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    before, after = xyz_mg(200, seed=1), xyz_mg(200, seed=2)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, watchdog_s=5, rate_hz=500))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(before), interval=0.002))
        await until(lambda: len(session.samples) == len(before), 5, "samples before the link loss")
        chunks_before = len(session.chunks)
        bluez.drop_link(device, stay_away=True)
        await until(lambda: "disconnected" in session.kinds(), 5, "the disconnect to be noticed")
        await asyncio.sleep(1.0)  # out of range for a while: the session keeps trying
        bluez.reappear(device)
        reappeared = time.monotonic()
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(after), interval=0.002))
        await until(lambda: len(session.samples) == len(before) + len(after), 5, "resumed samples")
        resumed = session.arrivals[chunks_before]
        await session.stop()
        return session, resumed - reappeared

    session, recovery_s = asyncio.run(scenario())

    assert recovery_s < 5.0
    samples = session.samples
    np.testing.assert_array_equal(samples.xyz, microbit_g(np.vstack([before, after])))
    # the outage is a timestamp jump, not invented samples, and a gap event says when
    jump = np.argmax(np.diff(samples.t))
    assert jump == len(before) - 1
    assert samples.t[jump + 1] - samples.t[jump] > 0.9
    (gap,) = [e for e in session.events if e.kind == "gap"]
    assert gap.start == samples.t[jump] and gap.end == samples.t[jump + 1]
    assert session.source.stats.reconnects == 1
    assert "reconnecting" in session.kinds()
    assert device.connect_calls >= 2


def test_connect_failing_once_with_in_progress_is_retried_and_succeeds(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    bluez.fail_next_connect(device, "org.bluez.Error.InProgress")
    rows = xyz_mg(50)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows)))
        await until(lambda: len(session.samples) == len(rows), 5, "samples after the retry")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    assert device.connect_calls == 2
    assert session.source.stats.in_progress_retries == 1
    assert session.kinds().count("connected") == 1


def test_bluez_vanishing_is_caught_by_the_watchdog_and_the_session_recovers_when_it_returns(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(40)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, watchdog_s=1.0, rate_hz=500))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows), interval=0.002))
        await until(lambda: len(session.samples) == len(rows), 5, "samples before bluetoothd dies")
        bluez.vanish()  # no signal reaches Bleak: only the missing data tells
        await until(lambda: "watchdog" in session.kinds(), 5, "the watchdog")
        await asyncio.sleep(0.5)
        bluez.restart()
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows), interval=0.002))
        await until(lambda: len(session.samples) == 2 * len(rows), 5, "samples after bluetoothd returns")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    watchdog = next(e for e in session.events if e.kind == "watchdog")
    assert ADDRESS in watchdog.message and "bluetoothctl remove" in watchdog.message
    assert session.source.stats.watchdog_trips >= 1
    assert session.error is None


def test_a_device_sending_garbage_keeps_the_session_alive_and_counts_it(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(300)
    good = microbit_packets(rows)
    garbage = [b"", b"\x01", b"\xff" * 5, b"\x00" * 7, b"\xab" * 600]
    mixed: list[bytes] = []
    for index, packet in enumerate(good):
        mixed.append(packet)
        if index % 10 == 0:
            mixed.append(garbage[(index // 10) % len(garbage)])
    n_garbage = len(mixed) - len(good)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, mixed))
        await until(lambda: len(session.samples) == len(rows), 5, "every good sample")
        await until(lambda: session.source.stats.malformed == n_garbage, 5, "garbage counted")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    np.testing.assert_array_equal(session.samples.xyz, microbit_g(rows))
    malformed = [e for e in session.events if e.kind == "malformed"]
    assert len(malformed) == n_garbage
    assert all(ADDRESS in e.message for e in malformed)
    assert any("oversized" in (e.error or "") for e in malformed)
    assert session.kinds().count("connected") == 1  # never reconnected over garbage


def test_the_chosen_adapter_is_used_for_scanning_and_connecting(bluez_two_adapters):
    bluez = bluez_two_adapters
    device = bluez.add_device(microbit(ADDRESS), adapter="hci1")
    rows = xyz_mg(20)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, adapter="hci1"))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows)))
        await until(lambda: len(session.samples) == len(rows), 5, "samples via hci1")
        await session.stop()
        return session

    asyncio.run(scenario())

    assert bluez.adapters["hci1"].discovery_starts >= 1
    assert bluez.adapters["hci0"].discovery_starts == 0


def test_a_device_sitless_does_not_recognise_stops_the_session_with_advice(bluez):
    bluez.add_device(Peripheral(ADDRESS, "Kettle", [], battery_percent=None))

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS))
        await until(lambda: session.task.done(), 5, "the session to give up")
        with contextlib.suppress(BleSessionError):
            await session.task
        return session

    session = asyncio.run(scenario())

    assert isinstance(session.error, BleSessionError)
    assert "family" in str(session.error) and "sitless sensors" in str(session.error)


def test_a_sensor_back_from_a_long_absence_is_caught_at_once_not_after_the_backoff(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    rows = xyz_mg(30)
    # the connect backoff would be 2 s by the time the sensor returns; scanning must not wait for it
    settings = fast_settings(
        address=ADDRESS, rate_hz=500, backoff_initial_s=0.25, backoff_max_s=30, scan_timeout_s=0.5
    )

    async def scenario():
        session = Session.start(settings)
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        bluez.drop_link(device, stay_away=True)
        await asyncio.sleep(4.2)
        bluez.reappear(device)
        reappeared = time.monotonic()
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows), interval=0.002))
        await until(lambda: len(session.samples) == len(rows), 5, "samples after the absence")
        await session.stop()
        return session, session.arrivals[0] - reappeared

    session, recovery_s = asyncio.run(scenario())

    assert recovery_s < 1.0
    misses = [e for e in session.events if e.kind == "reconnecting" and "not seen" in (e.reason or "")]
    assert len(misses) >= 4 and all(e.delay_s == 0 for e in misses)


def test_a_sensor_refusing_the_start_command_is_reported_and_does_not_crash_the_session(bluez):
    session = polar_refusing_start(bluez, ADDRESS, status=0x05, subscribed=PMD_DATA)  # 0x05: invalid parameter

    rejected = next(e for e in session.events if e.kind == "rejected")
    assert ADDRESS in rejected.message and "rate or range" in rejected.message
    assert session.source.stats.rejected_commands >= 1
    assert session.error is None


def test_packets_lost_without_a_disconnect_show_as_a_gap_event_too(bluez):
    device = bluez.add_device(microbit(ADDRESS))
    first, second = xyz_mg(100, seed=5), xyz_mg(100, seed=6)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, rate_hz=500, watchdog_s=5))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(first), interval=0.002))
        await asyncio.sleep(1.0)  # the sensor keeps sampling; these notifications never arrive
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(second), interval=0.002))
        await until(lambda: len(session.samples) == 200, 5, "both bursts")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    (gap,) = [e for e in session.events if e.kind == "gap"]
    assert 0.8 < gap.end - gap.start < 1.5
    assert session.kinds().count("connected") == 1
    samples = session.samples
    assert samples.t[100] - samples.t[99] > 0.8  # a jump, no invented samples
