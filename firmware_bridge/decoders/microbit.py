"""BBC micro:bit accelerometer service (the micro:bit Bluetooth profile).

Data ``E95DCA4B``: one sample per notification, 3 x int16 LE (the profile calls them both signed and
unsigned; they are signed). The profile says milli-g, but the service sends the accelerometer driver's
values, and CODAL's LSM303 driver (codal-microbit-v2, ``LSM303Accelerometer::requestUpdate``) makes them
1/1024 g: the 16-bit reading / 32 (10-bit mode) x the range in g, "millig (approx)" in its own comment.
Read as milli-g they come out 2.4 % high. (That is the V2 board's driver; V1 boards' drivers were not
checked here and are assumed to follow the same convention.) Period ``E95DFB24``: u16 LE milliseconds. The profile lists 1/2/5/10/20/80/160/640 ms; the runtime
takes the smallest period its accelerometer supports that is >= the request and writes that period back
to the characteristic (a V1 board's MMA8653 turns 40 ms into 80 ms, 12.5 Hz). So we ask from the
runtime's list (40 ms = 25 Hz), then read the period back and stamp samples at the real rate.
No timestamps: arrival clock.
Temperature service ``E95D6100`` (when the program enables it): ``E95D9250`` notifies a sint8 in degrees
Celsius, from the nRF chip's die sensor (CODAL ``MicroBitThermometer``): the board's temperature, between
skin and room when worn.
Needs a hex with the accelerometer service enabled (MakeCode: add the Bluetooth extension and
"bluetooth accelerometer service"; pairing can be set to "No pairing required").
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.events import Temperature
from sitless.firmware_bridge.decoders.timing import ArrivalClock

MICROBIT_ACC_SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
MICROBIT_ACC_DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
MICROBIT_ACC_PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
MICROBIT_TEMPERATURE = "e95d9250-251d-470a-a062-fa1922dfa9a8"
PERIODS_MS = (2, 5, 10, 20, 40, 100, 1000)
COUNTS_PER_G = 1024.0  # codal-microbit-v2 LSM303Accelerometer: (raw / 32) * range_g, 1024 per g


def period_command(period_ms: int) -> bytes:
    return int(period_ms).to_bytes(2, "little")


class MicrobitDecoder(SensorDecoder):
    family: ClassVar[str] = "microbit"
    display_name: ClassVar[str] = "BBC micro:bit (accelerometer service)"
    service_uuid: ClassVar[str] = MICROBIT_ACC_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (MICROBIT_ACC_DATA,)
    optional_notify_uuids: ClassVar[tuple[str, ...]] = (MICROBIT_TEMPERATURE,)
    supported_rates_hz: ClassVar[tuple[float, ...]] = tuple(1000.0 / p for p in PERIODS_MS)
    name_prefixes: ClassVar[tuple[str, ...]] = ("BBC micro:bit",)

    def __init__(self, rate_hz: float | None = None) -> None:
        super().__init__(rate_hz)
        self.period_ms = round(1000.0 / self.rate_hz)
        self.clock = ArrivalClock(self.rate_hz)
        self.requested_period_ms = self.period_ms

    def start_commands(self) -> list[Command]:
        return [
            Command(MICROBIT_ACC_PERIOD, period_command(self.period_ms)),
            Command(MICROBIT_ACC_PERIOD, read=True),  # the runtime writes back the period it chose
        ]

    def stop_commands(self) -> list[Command]:
        return []  # unsubscribing stops the notifications

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic == MICROBIT_ACC_PERIOD:
            self._period_read_back(data)
            return SampleChunk.empty()
        if characteristic == MICROBIT_TEMPERATURE:
            if len(data) != 1:
                raise self._error(f"temperature must be 1 byte (sint8 degrees C), got {len(data)}", data)
            celsius = int.from_bytes(data, "little", signed=True)
            self._report(Temperature(np.array([arrival_time]), np.array([float(celsius)]), "board (die)"))
            return SampleChunk.empty()
        if characteristic != MICROBIT_ACC_DATA:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) != 6:
            raise self._error(f"accelerometer data must be 6 bytes (3 x int16), got {len(data)}", data)
        counts = np.frombuffer(data, dtype="<i2").astype(np.float64).reshape(1, 3)
        t, gap = self.clock.stamp(1, arrival_time)
        if gap:
            self._note_gap(*gap)
        return self._emit(t, counts / COUNTS_PER_G, data)

    def _period_read_back(self, data: bytes) -> None:
        if len(data) != 2:
            raise self._error(f"accelerometer period must be 2 bytes (u16 ms), got {len(data)}", data)
        period_ms = int.from_bytes(data, "little")
        if period_ms == 0:
            raise self._error("accelerometer period of 0 ms", data)
        if period_ms != self.period_ms:
            self.period_ms = period_ms
            self.rate_hz = 1000.0 / period_ms
            self.clock.period_s = period_ms / 1000.0
