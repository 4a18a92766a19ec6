"""MbientLab MetaMotionS / MetaMotionRL (MetaWear firmware): the accelerometer module (id 0x03).

Commands (write ``326a9001``): configure ``03 03 <acc_conf> <acc_range>``, enable data ``03 04 01``,
enable interrupt ``03 02 01 00``, power on ``03 01 01``; stop in reverse (``03 01 00``, ``03 02 00 01``,
``03 04 00``). Notifications (``326a9006``): ``03 04`` + int16 LE x,y,z, or ``03 05`` + three such
samples (packed mode, used above 100 Hz). g = raw / (32768 / range_g). No sensor timestamps: the arrival
clock stamps samples. Register reads (bit 7 of the register byte) and other modules' notifications
carry no samples and are skipped. Source: MetaWear-SDK-Cpp (``accelerometer_bosch``) and its tests.

``chip``: "bmi270" (MetaMotionS; acc_conf = odr | normal filter 0x20 | performance 0x80, range codes
0-3) or "bmi160" (MetaMotionRL/R/C; acc_conf = odr | 0x20, range codes 3/5/8/12).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.timing import ArrivalClock

METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
ACC_MODULE = 0x03
REG_POWER, REG_INTERRUPT, REG_CONFIG, REG_DATA, REG_PACKED = 0x01, 0x02, 0x03, 0x04, 0x05
ODR_CODES = {12.5: 5, 25.0: 6, 50.0: 7, 100.0: 8, 200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12}
RANGE_CODES = {"bmi270": {2: 0, 4: 1, 8: 2, 16: 3}, "bmi160": {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C}}


def config_command(rate_hz: float, range_g: int, chip: str = "bmi270") -> bytes:
    acc_conf = ODR_CODES[float(rate_hz)] | 0x20 | (0x80 if chip == "bmi270" else 0x00)
    return bytes([ACC_MODULE, REG_CONFIG, acc_conf, RANGE_CODES[chip][range_g]])


class MetaMotionDecoder(SensorDecoder):
    """Options: ``range_g`` (2, 4, 8, 16), ``chip`` ("bmi270" or "bmi160"), ``packed`` (None: above 100 Hz)."""

    family: ClassVar[str] = "metamotion"
    display_name: ClassVar[str] = "MbientLab MetaMotionS / RL"
    service_uuid: ClassVar[str] = METAWEAR_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (METAWEAR_NOTIFY,)
    supported_rates_hz: ClassVar[tuple[float, ...]] = tuple(ODR_CODES)
    name_prefixes: ClassVar[tuple[str, ...]] = ("MetaWear", "MetaMotion")

    def __init__(
        self,
        rate_hz: float | None = None,
        *,
        range_g: int = 8,
        chip: str = "bmi270",
        packed: bool | None = None,
    ) -> None:
        super().__init__(rate_hz)
        if chip not in RANGE_CODES:
            raise ValueError(
                f"metamotion: chip must be 'bmi270' (MetaMotionS) or 'bmi160' (RL), got {chip!r}"
            )
        if range_g not in RANGE_CODES[chip]:
            raise ValueError(f"metamotion: range_g must be 2, 4, 8 or 16, got {range_g!r}")
        self.chip, self.range_g = chip, range_g
        self.packed = self.rate_hz > 100 if packed is None else packed
        self.lsb_per_g = 32768.0 / range_g
        self.clock = ArrivalClock(self.rate_hz)

    def start_commands(self) -> list[Command]:
        data_register = REG_PACKED if self.packed else REG_DATA
        return [
            Command(METAWEAR_COMMAND, config_command(self.rate_hz, self.range_g, self.chip)),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, data_register, 0x01])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_INTERRUPT, 0x01, 0x00])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_POWER, 0x01])),
        ]

    def stop_commands(self) -> list[Command]:
        data_register = REG_PACKED if self.packed else REG_DATA
        return [
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_POWER, 0x00])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_INTERRUPT, 0x00, 0x01])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, data_register, 0x00])),
        ]

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != METAWEAR_NOTIFY:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) < 2:
            raise self._error(f"MetaWear packet of {len(data)} bytes has no module and register", data)
        module, register = data[0], data[1]
        if module != ACC_MODULE or register & 0x80:
            return SampleChunk.empty()  # another module, or a register read reply
        if register == REG_DATA:
            expected = 6
        elif register == REG_PACKED:
            expected = 18
        else:
            return SampleChunk.empty()  # an acknowledgement of a configuration write
        if len(data) - 2 != expected:
            raise self._error(
                f"acceleration register 0x{register:02x} needs {expected} data bytes, got {len(data) - 2}",
                data,
            )
        raw = np.frombuffer(data, dtype="<i2", offset=2).astype(np.float64).reshape(-1, 3)
        t, gap = self.clock.stamp(len(raw), arrival_time)
        if gap:
            self._note_gap(*gap)
        return self._emit(t, raw / self.lsb_per_g, data)
