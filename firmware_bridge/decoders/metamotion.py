"""MbientLab MetaMotionS / MetaMotionRL / R / C (MetaWear firmware): the accelerometer module (id 0x03).

Commands (write ``326a9001``): configure ``03 03 <acc_conf> <acc_range>``, enable data ``03 04 01`` (or
packed data, below), enable interrupt ``03 02 01 00``, power on ``03 01 01``; stop in reverse
(``03 01 00``, ``03 02 00 01``, ``03 04 00``). Notifications (``326a9006``): ``03 04`` + int16 LE x,y,z, or
packed mode (three such samples in one notification, used above 100 Hz) on register 0x05 for the BMI270
and 0x1c for the BMI160 (``accelerometer_bosch_register.h``: BMI270 PACKED_ACC_DATA = 0x05, BMI160
PACKED_ACC_DATA = 0x1c; the BMI160 has packed data only from module revision 1, ``PACKED_ACC_REVISION``).
g = raw / (32768 / range_g). No sensor timestamps: the arrival clock stamps samples. Other registers'
replies and other modules' notifications carry no samples and are skipped.
Source: MetaWear-SDK-Cpp f67699e (``accelerometer_bosch.cpp`` and its tests, ``tests/data/metawear-vectors.json``).

Which chip: the board says so. Reading the accelerometer module's info register (write ``03 80``) makes it
answer ``03 80 <implementation> <revision>``: 1 = BMI160 (MetaMotionRL/R/C), 4 = BMI270 (MetaMotionS),
exactly as the SDK's board initialisation does. The ``chip`` option only overrides that. The chips differ
in what matters: the range byte (BMI270 codes 0-3; BMI160 3/5/8/12, so a BMI270 range byte is invalid on a
BMI160), the acc_conf bits and the packed register.

Temperature: the multi-channel temperature module (id 0x04). Its module info (``04 80``) answers
``04 80 <implementation> <revision> <source per channel...>`` (0 = nRF die, 1 = external thermistor,
2 = BMP280, 3 = on-board thermistor); a read ``04 81 <channel>`` answers ``04 81 <channel> <int16 LE>`` in
1/8 degrees C (SDK ``multichanneltemperature.cpp``, tests ``test_multichanneltemperature.py``:
``04 81 00 fe 00`` = 31.75 C). The board sends temperatures only when asked, so the decoder asks every
``temperature_every_s`` seconds of samples, from the on-board thermistor when there is one, else the die.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.events import CommandRefused, Temperature
from sitless.firmware_bridge.decoders.timing import ArrivalClock

METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
ACC_MODULE = 0x03
REG_POWER, REG_INTERRUPT, REG_CONFIG, REG_DATA = 0x01, 0x02, 0x03, 0x04
READ_MODULE_INFO = 0x80  # READ_REGISTER(0): every MetaWear module answers with implementation, revision
PACKED_REGISTER = {"bmi270": 0x05, "bmi160": 0x1C}
PACKED_MIN_REVISION = {"bmi270": 0, "bmi160": 1}
#: Module info implementation byte -> chip (MBL_MW_MODULE_ACC_TYPE_*; 0 = MMA8452Q, 3 = BMA255 unsupported).
IMPLEMENTATIONS = {1: "bmi160", 4: "bmi270"}
TEMPERATURE_MODULE, REG_TEMPERATURE = 0x04, 0x01
READ_TEMPERATURE = 0x80 | REG_TEMPERATURE
#: Temperature sources (MblMwTemperatureSource) in the order we prefer them: on-board thermistor, nRF die.
PREFERRED_TEMPERATURE_SOURCES = (3, 0)
TEMPERATURE_SOURCE_NAMES = {
    0: "board (nRF chip)",
    1: "external thermistor",
    2: "BMP280",
    3: "board (thermistor)",
}
UNSUPPORTED_IMPLEMENTATIONS = {0: "MMA8452Q (MetaWear R / RG, no longer sold)", 3: "BMA255 (MetaEnvironment)"}
#: ODR code = index + 1 in the SDK's BMI160/BMI270 ODR tables (0.78125 Hz ... 1600 Hz).
ODR_CODES = {
    0.78125: 1, 1.5625: 2, 3.125: 3, 6.25: 4, 12.5: 5, 25.0: 6, 50.0: 7, 100.0: 8,
    200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12,
}  # fmt: skip
STREAMING_RATES_HZ = tuple(rate for rate in ODR_CODES if rate >= 12.5)  # the classifier wants >= 12.5 Hz
RANGE_CODES = {"bmi270": {2: 0, 4: 1, 8: 2, 16: 3}, "bmi160": {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C}}
CHIP_OPTIONS = ("auto", "bmi270", "bmi160")
#: acc_conf bits above the ODR: bwp << 4 | us << 7, by (chip, rate below 12.5 Hz).
FILTER_BITS = {
    ("bmi270", False): 0xA0,
    ("bmi270", True): 0x20,
    ("bmi160", False): 0x20,
    ("bmi160", True): 0x80,
}


def config_command(rate_hz: float, range_g: int, chip: str = "bmi270") -> bytes:
    """``03 03 <acc_conf> <acc_range>`` as the SDK's ``mbl_mw_acc_*_set_odr`` + ``set_range`` build it.

    acc_conf = odr | bwp << 4 | us << 7. BMI270: bwp 2 (normal filter), us 1 (performance mode) except
    below 12.5 Hz (us 0). BMI160: bwp 2, us 0, except below 12.5 Hz (bwp 0, us 1: undersampling).
    """
    below_12_5_hz = float(rate_hz) < 12.5
    acc_conf = ODR_CODES[float(rate_hz)] | FILTER_BITS[chip, below_12_5_hz]
    return bytes([ACC_MODULE, REG_CONFIG, acc_conf, RANGE_CODES[chip][range_g]])


class MetaMotionDecoder(SensorDecoder):
    """Options: ``range_g`` (2, 4, 8, 16), ``chip`` ("auto": read from the board; or "bmi270", "bmi160"
    to override), ``packed`` (None: above 100 Hz, where the board supports it), ``temperature_every_s``
    (how often to read the board's temperature; 0: never)."""

    family: ClassVar[str] = "metamotion"
    display_name: ClassVar[str] = "MbientLab MetaMotionS / RL / R / C"
    service_uuid: ClassVar[str] = METAWEAR_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (METAWEAR_NOTIFY,)
    supported_rates_hz: ClassVar[tuple[float, ...]] = STREAMING_RATES_HZ
    name_prefixes: ClassVar[tuple[str, ...]] = ("MetaWear", "MetaMotion")

    def __init__(
        self,
        rate_hz: float | None = None,
        *,
        range_g: int = 8,
        chip: str = "auto",
        packed: bool | None = None,
        temperature_every_s: float = 60.0,
    ) -> None:
        super().__init__(rate_hz)
        chip = str(chip).strip().lower()
        if chip not in CHIP_OPTIONS:
            raise ValueError(
                f"metamotion: chip must be 'auto' (read from the board), 'bmi270' (MetaMotionS) or "
                f"'bmi160' (MetaMotionRL/R/C), got {chip!r}"
            )
        if range_g not in RANGE_CODES["bmi270"]:
            raise ValueError(f"metamotion: range_g must be 2, 4, 8 or 16, got {range_g!r}")
        self.range_g = range_g
        self.requested_packed = packed
        self.chip_from_board = chip == "auto"
        self.chip: str | None = None if self.chip_from_board else chip
        self.revision: int | None = None
        self.packed = False
        self.lsb_per_g = 32768.0 / range_g
        self.clock = ArrivalClock(self.rate_hz)
        if not temperature_every_s >= 0:
            raise ValueError(
                f"metamotion: temperature_every_s must be 0 or more, got {temperature_every_s!r}"
            )
        self.temperature_every_s = float(temperature_every_s)
        self.temperature_channel: int | None = None  # chosen from the temperature module's info
        self.temperature_source: int | None = None
        self._next_temperature_t: float | None = None
        if self.chip is not None:
            self._choose_packed()

    def _choose_packed(self) -> None:
        assert self.chip is not None
        capable = self.revision is None or self.revision >= PACKED_MIN_REVISION[self.chip]
        wanted = self.rate_hz > 100 if self.requested_packed is None else self.requested_packed
        self.packed = bool(wanted and capable)

    def start_commands(self) -> list[Command]:
        if self.chip is None:  # ask the board first; its answer queues the streaming commands
            return [Command(METAWEAR_COMMAND, bytes([ACC_MODULE, READ_MODULE_INFO]))]
        return self._streaming_commands()

    def _streaming_commands(self) -> list[Command]:
        assert self.chip is not None
        return [
            Command(METAWEAR_COMMAND, config_command(self.rate_hz, self.range_g, self.chip)),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, self._data_register(), 0x01])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_INTERRUPT, 0x01, 0x00])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_POWER, 0x01])),
        ] + self._temperature_commands()

    def _temperature_commands(self) -> list[Command]:
        """Ask the temperature module which sources it has (its answer picks the channel to read)."""
        if not self.temperature_every_s:
            return []
        return [Command(METAWEAR_COMMAND, bytes([TEMPERATURE_MODULE, READ_MODULE_INFO]))]

    def stop_commands(self) -> list[Command]:
        if self.chip is None:
            return []  # never configured: nothing to stop
        return [
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_POWER, 0x00])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, REG_INTERRUPT, 0x00, 0x01])),
            Command(METAWEAR_COMMAND, bytes([ACC_MODULE, self._data_register(), 0x00])),
        ]

    def _data_register(self) -> int:
        assert self.chip is not None
        return PACKED_REGISTER[self.chip] if self.packed else REG_DATA

    def _module_info(self, data: bytes) -> None:
        if not self.chip_from_board or self.chip is not None:
            return  # the setting overrides the board, or a repeated answer: nothing changes
        if len(data) < 4:
            self._report(
                CommandRefused(
                    "the board reports no accelerometer module (module info without implementation)",
                    status="no module",
                    advice="check that this is a MetaMotion board (`sitless scan`)",
                )
            )
            return
        implementation, revision = data[2], data[3]
        chip = IMPLEMENTATIONS.get(implementation)
        if chip is None:
            what = UNSUPPORTED_IMPLEMENTATIONS.get(implementation, f"implementation {implementation}")
            self._report(
                CommandRefused(
                    f"the board's accelerometer is {what}, which sitless does not support",
                    status=f"implementation {implementation}",
                    advice="use a MetaMotionS (BMI270) or MetaMotionRL/R/C (BMI160)",
                )
            )
            return
        self.chip, self.revision = chip, revision
        self._choose_packed()
        self.queue_commands(self._streaming_commands())

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != METAWEAR_NOTIFY:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) < 2:
            raise self._error(f"MetaWear packet of {len(data)} bytes has no module and register", data)
        module, register = data[0], data[1]
        if module == TEMPERATURE_MODULE:
            self._temperature_reply(register, data, arrival_time)
            return SampleChunk.empty()
        if module != ACC_MODULE:
            return SampleChunk.empty()  # another module
        if register == READ_MODULE_INFO:
            self._module_info(data)
            return SampleChunk.empty()
        if register & 0x80 or self.chip is None:
            return SampleChunk.empty()  # another register read reply, or data before we configured it
        if register == REG_DATA:
            expected = 6
        elif register == PACKED_REGISTER[self.chip]:
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
        self._maybe_ask_temperature(float(t[-1]))
        return self._emit(t, raw / self.lsb_per_g, data)

    def _maybe_ask_temperature(self, now: float) -> None:
        if self.temperature_channel is None:
            return
        if self._next_temperature_t is None or now >= self._next_temperature_t:
            self._next_temperature_t = now + self.temperature_every_s
            read = bytes([TEMPERATURE_MODULE, READ_TEMPERATURE, self.temperature_channel])
            self.queue_commands([Command(METAWEAR_COMMAND, read)])

    def _temperature_reply(self, register: int, data: bytes, arrival_time: float) -> None:
        if register == READ_MODULE_INFO:
            sources = list(data[4:])  # after implementation and revision: one source per channel
            for wanted in PREFERRED_TEMPERATURE_SOURCES:
                if wanted in sources:
                    self.temperature_channel = sources.index(wanted)
                    self.temperature_source = wanted
                    return
            return  # no temperature source we can read: no temperatures
        if register != READ_TEMPERATURE:
            return
        if len(data) != 5:
            raise self._error(
                f"temperature reply must be 5 bytes (04 81 channel int16), got {len(data)}", data
            )
        channel, eighths = data[2], int.from_bytes(data[3:5], "little", signed=True)
        where = TEMPERATURE_SOURCE_NAMES.get(
            self.temperature_source if channel == self.temperature_channel else -1, f"channel {channel}"
        )
        self._report(Temperature(np.array([arrival_time]), np.array([eighths / 8.0]), where))
