"""Nordic Thingy:52 motion service (stock Thingy firmware, Nordic-Thingy52-FW 6ada0a9).

Config ``EF680401``: ``<HHHHB`` = step-counter interval (ms), temperature-compensation interval (ms),
magnetometer-compensation interval (ms), motion processing frequency (Hz, 5-200), wake-on-motion (0/1).
Raw data ``EF680406``: 9 x int16 LE = accelerometer (Q6.10, g = raw / 1024), gyroscope (Q11.5, deg/s),
compass (Q12.4, uT). Source: Nordic Thingy:52 firmware documentation, "Motion service". No sensor
timestamps: the arrival clock stamps samples.

What the firmware does that a central must respect:
- every configuration write is stored to flash (``m_motion_flash``) and restarts motion processing
  (``drv_motion_config`` disables and re-enables the MPU-9250; the release notes warn that much enabling
  and disabling "might reboot Thingy"), so the configuration is read first and written only if the
  frequency differs: a Thingy that reconnects every night does not wear its flash;
- the Thingy advertises its configuration service (``EF680100``), not the motion service, and it can be
  renamed, so it is recognised by that service as well as by the name "Thingy";
- "the first 10 seconds of motion sensor data may be inaccurate due to calibration" (release notes, a
  known issue of every version), so samples from the first ``settle_s`` seconds are dropped and counted;
- firmware older than 2.1.0 reports a wrong battery level: the firmware version (``EF680107``) is read
  and a ``Notice`` says so;
- the accelerometer runs at +-2 g (readings clip beyond that; enough for posture, not for impacts).

Temperature: environment service ``EF680200``, characteristic ``EF680201`` notifies ``int8 integer, uint8
decimal`` (hundredths; ``m_environment.c`` ``temperature_conv_data``: integer = (int8)T, decimal =
(T - integer) * 100), from the sensor inside the case: the board's temperature, between skin and room.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.events import Notice, Temperature
from sitless.firmware_bridge.decoders.timing import ArrivalClock

THINGY_CONFIG_SERVICE = "ef680100-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW_DATA = "ef680406-9b35-4933-9b10-52ffa9740042"
THINGY_TEMPERATURE = "ef680201-9b35-4933-9b10-52ffa9740042"
THINGY_FIRMWARE_VERSION = "ef680107-9b35-4933-9b10-52ffa9740042"  # uint8 major, minor, patch (ble_tcs.c)
#: Release notes (05_release_notes.dox): 2.0.0's battery monitor "did not report actual values", fixed in 2.1.0.
BATTERY_FIXED_IN = (2, 1, 0)
MOTION_CONFIG = struct.Struct("<HHHHB")
SETTLE_S = 10.0  # readings may be inaccurate for the first 10 s after motion processing starts
FULL_SCALE_G = 2.0


def motion_config(
    rate_hz: int, *, step_ms: int = 100, temp_ms: int = 500, magnet_ms: int = 500, wake_on_motion: int = 1
) -> bytes:
    return MOTION_CONFIG.pack(step_ms, temp_ms, magnet_ms, rate_hz, wake_on_motion)


class ThingyDecoder(SensorDecoder):
    """Option: ``settle_s`` (seconds dropped after motion processing starts; default 10, 0 keeps all)."""

    family: ClassVar[str] = "thingy52"
    display_name: ClassVar[str] = "Nordic Thingy:52"
    service_uuid: ClassVar[str] = THINGY_MOTION_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (THINGY_RAW_DATA,)
    optional_notify_uuids: ClassVar[tuple[str, ...]] = (THINGY_TEMPERATURE,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Thingy",)
    full_scale_g: ClassVar[float] = FULL_SCALE_G

    @classmethod
    def snap_rate(cls, rate_hz: float) -> float:
        """Any whole number of Hz from 5 to 200."""
        return float(min(200, max(5, round(super().snap_rate(rate_hz)))))

    @classmethod
    def recognises(
        cls, name: str | None, service_uuids: Sequence[str], manufacturer_data: Mapping[int, bytes]
    ) -> bool:
        # The stock firmware advertises the configuration service; a renamed Thingy shows only that.
        advertised = {u.lower() for u in service_uuids}
        return THINGY_CONFIG_SERVICE in advertised or super().recognises(
            name, service_uuids, manufacturer_data
        )

    def __init__(self, rate_hz: float | None = None, *, settle_s: float = SETTLE_S) -> None:
        super().__init__(rate_hz)
        if not settle_s >= 0:
            raise ValueError(f"thingy52: settle_s must be 0 or more seconds, got {settle_s!r}")
        self.settle_s = float(settle_s)
        self.clock = ArrivalClock(self.rate_hz)
        self.config_written = False
        self.firmware_version: tuple[int, int, int] | None = None
        self.settling_dropped = 0  # samples dropped while motion processing settled
        self._settled_from: float | None = None  # sample time from which readings are kept

    def start_commands(self) -> list[Command]:
        # Read first: the firmware stores every write to flash, so only a real change is written.
        return [
            Command(THINGY_FIRMWARE_VERSION, read=True, optional=True),
            Command(THINGY_MOTION_CONFIG, read=True),
        ]

    def stop_commands(self) -> list[Command]:
        return []  # unsubscribing from the raw data stops it

    def _configuration_read(self, data: bytes) -> None:
        if len(data) != MOTION_CONFIG.size:
            raise self._error(
                f"motion configuration must be {MOTION_CONFIG.size} bytes (<HHHHB), got {len(data)}", data
            )
        step_ms, temp_ms, magnet_ms, frequency_hz, wake_on_motion = MOTION_CONFIG.unpack(data)
        if frequency_hz == int(self.rate_hz):
            return  # already what we want: no write, no flash wear, no restart
        self.queue_commands(
            [
                Command(
                    THINGY_MOTION_CONFIG,
                    motion_config(
                        int(self.rate_hz),
                        step_ms=step_ms,
                        temp_ms=temp_ms,
                        magnet_ms=magnet_ms,
                        wake_on_motion=wake_on_motion,
                    ),
                )
            ]
        )
        self.config_written = True
        self._settled_from = None  # the write restarts motion processing: settle again

    def _firmware_version(self, data: bytes) -> None:
        if len(data) != 3:
            raise self._error(
                f"firmware version must be 3 bytes (major, minor, patch), got {len(data)}", data
            )
        self.firmware_version = (data[0], data[1], data[2])
        if self.firmware_version < BATTERY_FIXED_IN:
            self._report(
                Notice(
                    f"firmware {'.'.join(map(str, self.firmware_version))} reports a wrong battery level "
                    "(fixed in 2.1.0): update it with Nordic's nRF Thingy app"
                )
            )

    def _temperature(self, data: bytes, arrival_time: float) -> None:
        if len(data) != 2:
            raise self._error(f"temperature must be 2 bytes (int8 + hundredths), got {len(data)}", data)
        integer, hundredths = int.from_bytes(data[:1], "little", signed=True), data[1]
        if hundredths > 99:  # the firmware only writes 0-99 (a negative fraction is undefined in its C)
            raise self._error(f"temperature hundredths must be 0-99, got {hundredths}", data)
        celsius = integer + (hundredths if integer >= 0 else -hundredths) / 100.0
        self._report(Temperature(np.array([arrival_time]), np.array([celsius]), "board (inside the case)"))

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic == THINGY_MOTION_CONFIG:
            self._configuration_read(data)
            return SampleChunk.empty()
        if characteristic == THINGY_TEMPERATURE:
            self._temperature(data, arrival_time)
            return SampleChunk.empty()
        if characteristic == THINGY_FIRMWARE_VERSION:
            self._firmware_version(data)
            return SampleChunk.empty()
        if characteristic != THINGY_RAW_DATA:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) != 18:
            raise self._error(f"raw motion data must be 18 bytes (9 x int16), got {len(data)}", data)
        acc = np.frombuffer(data, dtype="<i2", count=3).astype(np.float64).reshape(1, 3) / 1024.0
        t, gap = self.clock.stamp(1, arrival_time)
        if self._settled_from is None:
            self._settled_from = float(t[0]) + self.settle_s
            if self.settle_s:
                self._report(
                    Notice(
                        f"dropping the first {self.settle_s:g} s of motion data while the Thingy calibrates"
                    )
                )
        if t[0] < self._settled_from:
            self.settling_dropped += 1
            return SampleChunk.empty()
        if gap:
            self._note_gap(*gap)
        return self._emit(t, acc, data)
