"""Sensors as their firmware really behaves, through the real Bleak BlueZ backend (see test_session).

Duplicate characteristics (Bleak raises on a UUID lookup that matches two), a micro:bit that picks a
slower period than asked and writes it back, a MetaMotion that says which chip it has, a Polar refusing
the stream for the link's MTU.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.ble_session.fake_bluez import BATTERY_LEVEL, BATTERY_SERVICE, Char, Service
from tests.ble_session.helpers import Session, fast_settings, polar_refusing_start, until, xyz_mg
from tests.ble_session.peripherals import (
    METAWEAR_COMMAND,
    METAWEAR_NOTIFY,
    MICROBIT_DATA,
    MICROBIT_PERIOD,
    PMD_CONTROL,
    metamotion,
    metamotion_packets,
    microbit,
    microbit_packets,
)

pytestmark = pytest.mark.ble
ADDRESS = "C0:FF:EE:00:00:0A"


def _stream(bluez, device, data_uuid, packets, settings, wait_for, interval=0.002):
    async def scenario():
        session = Session.start(settings)
        await asyncio.to_thread(bluez.wait_streaming, device, data_uuid)
        await until(lambda: "connected" in session.kinds(), 5, "the connected event")
        await asyncio.wrap_future(bluez.send(device, data_uuid, packets, interval=interval))
        await until(lambda: wait_for(session), 10, "the samples")
        await session.stop()
        return session

    return asyncio.run(scenario())


def test_a_sensor_with_duplicate_characteristics_connects_and_streams(bluez):
    """Two battery services and a second copy of the data characteristic elsewhere: Bleak's
    ``get_characteristic(uuid)`` raises on both, which used to fail every connect."""
    peripheral = microbit(ADDRESS)
    peripheral.services.append(Service(BATTERY_SERVICE, [Char(BATTERY_LEVEL, ("read",), bytes([55]))]))
    peripheral.services.append(
        Service("0000fe59-0000-1000-8000-00805f9b34fb", [Char(MICROBIT_DATA, ("read",))])
    )
    device = bluez.add_device(peripheral)
    rows = xyz_mg(40)

    session = _stream(
        bluez, device, MICROBIT_DATA, microbit_packets(rows), fast_settings(address=ADDRESS),
        lambda s: len(s.samples) >= len(rows),
    )  # fmt: skip

    assert len(session.samples) == len(rows)
    assert session.source.battery_percent in (80, 55)
    assert session.kinds().count("connected") == 1


def test_a_v1_microbit_that_chose_80_ms_is_stamped_at_the_period_it_wrote_back(bluez):
    peripheral = microbit(ADDRESS)
    # microbit-dal on a V1 board (MMA8653): the smallest supported period >= the request, written back
    peripheral.write_back = lambda uuid, data: (80).to_bytes(2, "little") if uuid == MICROBIT_PERIOD else data
    device = bluez.add_device(peripheral)
    rows = xyz_mg(20)

    session = _stream(
        bluez, device, MICROBIT_DATA, microbit_packets(rows), fast_settings(address=ADDRESS, rate_hz=25),
        lambda s: len(s.samples) >= len(rows), interval=0.08,  # notifications as the board sends them
    )  # fmt: skip

    assert (MICROBIT_PERIOD, (40).to_bytes(2, "little")) in device.written
    assert np.median(np.diff(session.samples.t)) == pytest.approx(0.080, abs=0.005)


def test_a_metamotion_rl_is_configured_for_the_bmi160_it_reports(bluez):
    device = bluez.add_device(metamotion(ADDRESS, module_info="03800101"))  # BMI160, revision 1
    rows = xyz_mg(30)

    session = _stream(
        bluez, device, METAWEAR_NOTIFY, metamotion_packets(rows), fast_settings(address=ADDRESS, rate_hz=50),
        lambda s: len(s.samples) >= len(rows),
    )  # fmt: skip

    writes = [data.hex() for uuid, data in device.written if uuid == METAWEAR_COMMAND]
    assert writes[:2] == ["0380", "03032708"], "module info first, then 50 Hz with the BMI160's +-8 g code"
    assert len(session.samples) == len(rows)


def test_a_polar_refusing_the_stream_for_the_links_mtu_says_what_to_do(bluez):
    session = polar_refusing_start(bluez, ADDRESS, status=0x0A, subscribed=PMD_CONTROL)  # 0x0A: ERROR_INVALID_MTU

    rejected = next(e for e in session.events if e.kind == "rejected")
    assert "ERROR_INVALID_MTU" in rejected.message
    assert "adapter" in rejected.message and "BlueZ" in rejected.message
