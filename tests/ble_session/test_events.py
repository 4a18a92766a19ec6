"""The session acting on each decoder event (see decoders/events.py), through the real Bleak BlueZ backend.

A sensor that stops the stream ends it at once (not after the watchdog), a temperature reaches the user,
and a decoder bug is reported as a bug, never counted as a malformed packet.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from sitless.firmware_bridge.decoders import registry as real_registry
from sitless.firmware_bridge.decoders.microbit import MicrobitDecoder
from tests.ble_session.fake_bluez import Char
from tests.ble_session.helpers import Session, fast_settings, until, xyz_mg
from tests.ble_session.peripherals import (
    MICROBIT_DATA,
    PMD_CONTROL,
    PMD_DATA,
    microbit,
    microbit_packets,
    polar_h10,
    polar_raw_packets,
)

pytestmark = pytest.mark.ble
ADDRESS = "C0:FF:EE:00:00:0B"
MICROBIT_TEMPERATURE = "e95d9250-251d-470a-a062-fa1922dfa9a8"
MICROBIT_TEMPERATURE_SERVICE = "e95d6100-251d-470a-a062-fa1922dfa9a8"


def test_polar_measurement_stopped_ends_the_stream_at_once_and_the_session_restarts_it(bluez):
    device = bluez.add_device(polar_h10(ADDRESS))
    rows = xyz_mg(72)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS, rate_hz=50, watchdog_s=10))
        await asyncio.to_thread(bluez.wait_streaming, device, PMD_DATA)
        await asyncio.wrap_future(bluez.send(device, PMD_DATA, polar_raw_packets(rows, 50.0)))
        await until(lambda: len(session.samples) == len(rows), 5, "the first samples")
        sent = time.monotonic()
        # PMD control point: 01 = measurement stopped, types 01 (PPG) and 02 (ACC)
        await asyncio.wrap_future(bluez.send(device, PMD_CONTROL, [bytes.fromhex("010102")]))
        await until(lambda: "stopped" in session.kinds(), 3, "the stopped event")
        stopped_after = time.monotonic() - sent
        await until(lambda: session.kinds().count("connected") == 2, 5, "the restart")
        await session.stop()
        return session, stopped_after

    session, stopped_after = asyncio.run(scenario())

    assert stopped_after < 1.0, "no waiting for the 10-s watchdog"
    stopped = next(e for e in session.events if e.kind == "stopped")
    assert ADDRESS in stopped.message and "restarting" in stopped.message
    assert "watchdog" not in session.kinds()
    starts = [data for uuid, data in device.written if uuid == PMD_CONTROL and data[:1] == b"\x02"]
    assert len(starts) == 2, "the measurement was started again"


def test_a_microbit_temperature_reaches_the_user(bluez):
    peripheral = microbit(ADDRESS)
    peripheral.services.append(
        type(peripheral.services[0])(
            MICROBIT_TEMPERATURE_SERVICE, [Char(MICROBIT_TEMPERATURE, ("read", "notify"))]
        )
    )
    device = bluez.add_device(peripheral)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS))
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_TEMPERATURE)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_TEMPERATURE, [bytes([29])]))
        await until(lambda: "temperature" in session.kinds(), 3, "the temperature event")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    temperature = next(e for e in session.events if e.kind == "temperature")
    assert temperature.celsius == 29.0 and session.source.temperature_c == 29.0
    assert temperature.start is not None
    # ... and waits, timestamped, for the daemon to hand it to the classifier (wear evidence)
    ((taken_t, taken_celsius),) = session.source.temperature_readings
    assert taken_celsius.tolist() == [29.0] and taken_t[0] == temperature.start


class _BuggyMicrobit(MicrobitDecoder):
    """A decoder with a bug: it divides by zero on every third acceleration packet."""

    data_packets = 0

    def _decode(self, characteristic, data, arrival_time):
        if characteristic == MICROBIT_DATA:
            self.data_packets += 1
            if self.data_packets % 3 == 0:
                return 1 / 0
        return super()._decode(characteristic, data, arrival_time)


def test_a_decoder_bug_is_reported_as_a_bug_not_a_malformed_packet_and_the_session_goes_on(bluez, caplog):
    """Fake only the decoder (the bug under test); the radio path is the real Bleak one."""
    device = bluez.add_device(microbit(ADDRESS))
    registry = SimpleNamespace(
        recognise=real_registry.recognise, make_decoder=lambda family, rate_hz=None: _BuggyMicrobit(rate_hz)
    )
    rows = xyz_mg(30)

    async def scenario():
        session = Session.start(fast_settings(address=ADDRESS), registry=registry)
        session.decoder_bugs_expected = True
        await asyncio.to_thread(bluez.wait_streaming, device, MICROBIT_DATA)
        await asyncio.wrap_future(bluez.send(device, MICROBIT_DATA, microbit_packets(rows), interval=0.002))
        await until(lambda: session.source.stats.decoder_errors == 10, 5, "ten buggy packets")
        await session.stop()
        return session

    session = asyncio.run(scenario())

    assert session.source.stats.malformed == 0, "a bug is not a malformed packet"
    assert len(session.samples) == 20
    assert "sitless bug" in next(e for e in session.events if e.kind == "decoder_error").message
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records if r.levelname == "ERROR")
