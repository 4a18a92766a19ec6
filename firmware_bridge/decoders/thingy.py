"""Nordic Thingy:52 motion service (stock Thingy firmware).

Config ``EF680401``: ``<HHHHB`` = step-counter interval (ms), temperature-compensation interval (ms),
magnetometer-compensation interval (ms), motion processing frequency (Hz, 5-200), wake-on-motion (0/1).
Raw data ``EF680406``: 9 x int16 LE = accelerometer (Q6.10, g = raw / 1024), gyroscope (Q11.5, deg/s),
compass (Q12.4, uT). Source: Nordic Thingy:52 firmware documentation, "Motion service". No sensor
timestamps: the arrival clock stamps samples.
"""

from __future__ import annotations

import struct
from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.timing import ArrivalClock

THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW_DATA = "ef680406-9b35-4933-9b10-52ffa9740042"


def motion_config(
    rate_hz: int, *, step_ms: int = 100, temp_ms: int = 500, magnet_ms: int = 500, wake_on_motion: int = 1
) -> bytes:
    return struct.pack("<HHHHB", step_ms, temp_ms, magnet_ms, rate_hz, wake_on_motion)


class ThingyDecoder(SensorDecoder):
    family: ClassVar[str] = "thingy52"
    display_name: ClassVar[str] = "Nordic Thingy:52"
    service_uuid: ClassVar[str] = THINGY_MOTION_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (THINGY_RAW_DATA,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Thingy",)

    @classmethod
    def snap_rate(cls, rate_hz: float) -> float:
        """Any whole number of Hz from 5 to 200."""
        return float(min(200, max(5, round(super().snap_rate(rate_hz)))))

    def __init__(self, rate_hz: float | None = None) -> None:
        super().__init__(rate_hz)
        self.clock = ArrivalClock(self.rate_hz)

    def start_commands(self) -> list[Command]:
        return [Command(THINGY_MOTION_CONFIG, motion_config(int(self.rate_hz)))]

    def stop_commands(self) -> list[Command]:
        return []  # unsubscribing from the raw data stops it

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != THINGY_RAW_DATA:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) != 18:
            raise self._error(f"raw motion data must be 18 bytes (9 x int16), got {len(data)}", data)
        acc = np.frombuffer(data, dtype="<i2", count=3).astype(np.float64).reshape(1, 3) / 1024.0
        t, gap = self.clock.stamp(1, arrival_time)
        if gap:
            self._note_gap(*gap)
        return self._emit(t, acc, data)
