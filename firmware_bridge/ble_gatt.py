"""Finding characteristics on a connected sensor without tripping over duplicates.

Bleak's ``services.get_characteristic(uuid)`` (and every ``client`` call given a UUID string) raises
``BleakError`` when two characteristics share the UUID, which real devices do (two battery services, a
vendor service repeated for another firmware image). A device like that would fail every connect. So the
session looks characteristics up itself: among those with the UUID it takes the one in the service the
decoder names, with the property the operation needs, and then passes Bleak the characteristic object,
never the string.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic

log = logging.getLogger("sitless.firmware_bridge.ble")
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
NOTIFY = ("notify", "indicate")
READ = ("read",)
WRITE = ("write", "write-without-response")


def characteristics_with_uuid(services: Iterable[Any], uuid: str) -> list[BleakGATTCharacteristic]:
    """Every characteristic whose UUID is ``uuid`` (any case), in the order the device lists them."""
    wanted = str(uuid).lower()
    found = []
    for service in services:
        for characteristic in getattr(service, "characteristics", ()):
            if str(characteristic.uuid).lower() == wanted:
                found.append(characteristic)
    return found


def find_characteristic(
    services: Iterable[Any],
    uuid: str,
    *,
    service_uuid: str | None = None,
    properties: tuple[str, ...] = (),
) -> BleakGATTCharacteristic | None:
    """The characteristic to use for ``uuid``: in ``service_uuid`` if possible, with one of ``properties``.

    With duplicates, the first that is in the named service and has a wanted property wins, then the
    first in the named service, then the first with the property, then simply the first.
    """
    candidates = characteristics_with_uuid(services, uuid)
    if not candidates:
        return None
    if len(candidates) > 1:
        log.debug(
            "%d characteristics share the UUID %s; choosing by service and properties", len(candidates), uuid
        )

    def in_service(characteristic: BleakGATTCharacteristic) -> bool:
        service = getattr(characteristic, "service_uuid", None)
        return service_uuid is not None and str(service).lower() == service_uuid.lower()

    def capable(characteristic: BleakGATTCharacteristic) -> bool:
        return not properties or any(p in characteristic.properties for p in properties)

    for accept in (
        lambda c: in_service(c) and capable(c),
        in_service,
        capable,
        lambda c: True,
    ):
        for characteristic in candidates:
            if accept(characteristic):
                return characteristic
    return None
