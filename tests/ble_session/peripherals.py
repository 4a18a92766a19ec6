"""Device-side encoders: what each supported sensor family sends over the air, built from its spec.

Each ``make_*`` returns the fake ``Peripheral`` (GATT layout, advertisement, replies to writes) and the
functions a test uses to encode samples into notification payloads. ``TinyRegistry`` is a stand-in
decoder registry (micro:bit-like: 3 x int16 LE milli-g per notification, stamped on arrival) for the
session-mechanics tests, which are about links and not about any one vendor's bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from analysis.samples import SampleChunk
from firmware_bridge.decoders.base import Command, ProtocolError, SensorDecoder
from tests.ble_session.fake_bluez import Char, Peripheral, Service

TINY_SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
TINY_DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
TINY_PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"


class TinyDecoder(SensorDecoder):
    family: ClassVar[str] = "tiny"
    display_name: ClassVar[str] = "Tiny test sensor"
    service_uuid: ClassVar[str] = TINY_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (TINY_DATA,)

    def start_commands(self) -> list[Command]:
        return [Command(TINY_PERIOD, struct.pack("<H", round(1000 / (self.rate_hz or 50))))]

    def stop_commands(self) -> list[Command]:
        return []

    def receive_data(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if len(data) != 6:
            raise ProtocolError(self.family, f"expected 6 bytes, got {len(data)}", data)
        x, y, z = struct.unpack("<3h", data)
        return SampleChunk(np.array([arrival_time]), np.array([[x, y, z]], np.float32) / 1000)


class TinyRegistry:
    FAMILIES: ClassVar[dict[str, type[SensorDecoder]]] = {"tiny": TinyDecoder}

    @staticmethod
    def recognise(
        name: str | None, service_uuids: Sequence[str], manufacturer_data: Mapping[int, bytes]
    ) -> type[SensorDecoder] | None:
        return TinyDecoder if TinyDecoder.recognises(name, service_uuids, manufacturer_data) else None

    @staticmethod
    def make_decoder(family: str, rate_hz: float | None = None, **options) -> SensorDecoder:
        return TinyRegistry.FAMILIES[family](rate_hz)


def make_tiny(address: str = "C0:FF:EE:00:00:01", name: str = "tiny-thigh", **kwargs) -> Peripheral:
    return Peripheral(
        address,
        name,
        [
            Service(
                TINY_SERVICE,
                [Char(TINY_DATA, ("read", "notify")), Char(TINY_PERIOD, ("read", "write"), b"\x14\x00")],
            )
        ],
        advertised_uuids=[TINY_SERVICE],
        **kwargs,
    )


def tiny_packets(rows: np.ndarray) -> list[bytes]:
    return [struct.pack("<3h", *map(int, row)) for row in rows]
