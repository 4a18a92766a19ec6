"""Finding the sensor, choosing its decoder and opening one connection to it: the steps of every (re)connect.

Scanning first (rather than handing Bleak a bare address) gives us the advertisement, which says
which family the sensor is, and a ``BLEDevice`` bound to the adapter that actually heard it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError

from sitless.firmware_bridge.ble_common import (
    BleSessionError,
    SensorNotFound,
    SensorSettings,
    SessionStats,
    bluez_args,
    generic_profile,
    recognise_family,
)
from sitless.firmware_bridge.decoders.base import SensorDecoder

log = logging.getLogger("sitless.firmware_bridge.ble")
IN_PROGRESS = "org.bluez.Error.InProgress"


async def find_sensor(
    settings: SensorSettings, registry: ModuleType | Any, generic: Any | None = None
) -> tuple[BLEDevice, AdvertisementData]:
    """Scan until the configured sensor (or, with no address, the first recognised one) advertises."""
    wanted = settings.address.lower() if settings.address else None
    found: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = asyncio.get_running_loop().create_future()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        if found.done():
            return
        if wanted is not None:
            if device.address.lower() == wanted:
                found.set_result((device, adv))
        elif recognise_family(
            registry, adv.local_name or device.name, adv.service_uuids, adv.manufacturer_data, generic
        )[0]:
            found.set_result((device, adv))

    async with BleakScanner(on_advertisement, bluez=bluez_args(settings.adapter)):
        try:
            return await asyncio.wait_for(found, settings.scan_timeout_s)
        except TimeoutError:
            what = settings.address or "no recognised sensor"
            raise SensorNotFound(
                f"{what} not seen within {settings.scan_timeout_s:g} s: is the sensor switched on, "
                "charged and within a few metres? Close any phone app that holds the connection; "
                "`sitless scan` shows what is in range"
            ) from None


async def connect_fresh_client(
    device: BLEDevice, settings: SensorSettings, on_disconnected: Callable[[], None], stats: SessionStats
) -> BleakClient:
    """A fresh BleakClient per attempt; InProgress (stale BlueZ state) gets a short wait and a retry.

    ``on_disconnected`` only signals: the caller's loop reconnects, never Bleak's callback.
    """
    attempts = max(1, settings.in_progress_attempts)
    for attempt in range(1, attempts + 1):
        client = BleakClient(
            device,
            disconnected_callback=lambda _client: on_disconnected(),
            timeout=settings.connect_timeout_s,
            bluez=bluez_args(settings.adapter),
        )
        try:
            await client.connect()
            return client
        except BleakDBusError as error:
            if error.dbus_error != IN_PROGRESS or attempt == attempts:
                raise
            stats.in_progress_retries += 1
            log.warning(
                "BlueZ says a connection to %s is already in progress; waiting %.1f s and retrying "
                "(if this persists, run `bluetoothctl disconnect %s`)",
                device.address,
                settings.in_progress_retry_s,
                device.address,
            )
            await asyncio.sleep(settings.in_progress_retry_s)
    raise AssertionError("unreachable")


def generic_profile_or_fatal(settings: SensorSettings) -> Any | None:
    """The [sensor.generic] profile (None without one); a wrong one is a fatal configuration error."""
    try:
        return generic_profile(settings)
    except ValueError as error:
        raise BleSessionError(str(error), fatal=True) from None


def choose_decoder(
    settings: SensorSettings, registry: ModuleType | Any, device: BLEDevice, adv: AdvertisementData
) -> SensorDecoder:
    """The configured family, else the one the advertisement shows; config mistakes are fatal."""
    profile = generic_profile_or_fatal(settings)
    name = adv.local_name or device.name
    family = settings.family
    if family is None:
        family, _model = recognise_family(registry, name, adv.service_uuids, adv.manufacturer_data, profile)
    if family is None:
        raise BleSessionError(
            f"{device.address} ({name or 'no name'}) is not a sensor sitless recognises: set `family` in "
            "the [sensor] table or pass --family (see `sitless sensors`)",
            fatal=True,
        )
    options = dict(settings.options)
    rate_hz: float | None = settings.rate_hz
    if str(family).lower() == "generic" and profile is not None:
        options["profile"] = profile
        rate_hz = None  # the board's profile says its rate
    try:
        return registry.make_decoder(family, rate_hz=rate_hz, **options)
    except (ValueError, TypeError) as error:
        raise BleSessionError(f"[sensor]: {error}", fatal=True) from None
