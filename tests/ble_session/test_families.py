"""One full path per supported sensor family: advertisement -> recognised -> connect -> start bytes ->
notifications encoded from the vendor spec -> decoded samples equal to what the sensor measured."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from sitless.firmware_bridge.ble import scan
from sitless.firmware_bridge.ble_common import generic_profile
from sitless.firmware_bridge.decoders.registry import FAMILIES
from tests.ble_session.helpers import Session, fast_settings, until, xyz_mg
from tests.ble_session.peripherals import (
    FAMILY_CASES,
    THINGY_MOTION_CONFIG,
    FamilyCase,
    thingy_motion_frequency,
)

pytestmark = pytest.mark.ble
ADDRESS = "C0:FF:EE:00:00:07"


def test_every_family_in_the_registry_has_a_full_path_test():
    assert {case.family for case in FAMILY_CASES} >= set(FAMILIES)


@pytest.mark.parametrize("case", FAMILY_CASES, ids=lambda case: case.family)
def test_a_sensor_streams_end_to_end_recognised_from_its_advertisement(bluez, case: FamilyCase):
    device = bluez.add_device(case.peripheral(ADDRESS))
    n = 360  # test_session sends 1500 notifications through the micro:bit path
    rows = xyz_mg(n, seed=7)
    packets = case.encode(rows, case.rate_hz)

    async def scenario():
        settings = fast_settings(address=ADDRESS, rate_hz=case.rate_hz, **case.settings)
        profile = generic_profile(settings)  # a DIY board is recognised by the profile the user wrote
        (found,) = [s for s in await scan(timeout=0.4, generic=profile) if s.address == ADDRESS]
        # family=None: the session recognises the sensor from its advertisement, as `sitless run` does
        session = Session.start(settings)
        await asyncio.to_thread(bluez.wait_streaming, device, case.data_uuid)
        await until(lambda: "connected" in session.kinds(), 5, "the connected event")
        await asyncio.wrap_future(bluez.send(device, case.data_uuid, packets))
        await until(lambda: len(session.samples) >= n, 10, f"{n} samples")
        await session.stop()
        return found, session

    found, session = asyncio.run(scenario())

    assert found.family == case.family
    assert case.model_words in (found.model or "")
    assert session.source.family == case.family
    for write in case.start_writes:
        assert write in device.written, f"{case.family}: expected start write {write[1].hex()} on {write[0]}"
    samples = session.samples
    if case.family == "thingy52":  # the spec fixes only the 4th field, the motion processing frequency
        config = [data for uuid, data in device.written if uuid == THINGY_MOTION_CONFIG]
        assert [thingy_motion_frequency(data) for data in config] == [50]
    expected = case.expected_g(rows)
    assert len(samples) == n
    np.testing.assert_allclose(samples.xyz, expected, rtol=0, atol=max(case.tolerance_g, 1e-7))
    assert np.all(np.diff(samples.t) >= 0)
    assert session.source.stats.malformed == 0
