"""Movesense over the GATT SensorData Protocol (GSP v1), the sensor's open BLE protocol.

Commands (write ``34800001``): ``[cmd][ref][payload]``: HELLO ``00 ref``, SUBSCRIBE ``01 ref`` + ASCII
resource path (e.g. ``/Meas/Acc/26``), UNSUBSCRIBE ``02 ref``. Notifications (``34800002``):
``[type][ref]...``; type 1 is a command response (HELLO answers text; a failed SUBSCRIBE answers a
u16 LE HTTP-like status; a successful one answers nothing), type 2 is data: for ``/Meas/Acc`` a u32 LE
device timestamp in ms (of the first sample) then N x 3 float32 LE in m/s^2. A notification too long
for the link is split: type 2 carries the first part, type 3 (DATA_PART2) the rest.
Device ms map to Unix time with an offset fixed at the first packet; the u32 wraps every 49.7 days.
Source: Movesense GSP specification (movesense.com/docs/esw/gatt_sensordata_protocol) and the vendor's
``gatt_sensordata_app`` sample; the sensor needs firmware that includes GSP.

Temperature: a second subscription, ``/Meas/Temp`` (Movesense API ``meas/temp.yaml``: the device's
internal temperature, notified when it changes, at most once a second), whose data is the
``TemperatureValue`` record: u32 LE ``Timestamp`` (device ms) and float32 LE ``Measurement`` in kelvin.
A firmware without it answers the subscription with an error status: that is a ``Notice``, not a refusal
of the stream.
"""

from __future__ import annotations

import struct
from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, SensorDecoder
from sitless.firmware_bridge.decoders.events import CommandRefused, Notice, Temperature

GSP_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_WRITE = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_NOTIFY = "34800002-7185-4d5d-b431-630e7050e8f0"
HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
RESPONSE, DATA, DATA_PART2 = 1, 2, 3
STANDARD_GRAVITY = 9.80665
ZERO_CELSIUS_K = 273.15
TEMPERATURE_PATH = "/Meas/Temp"
WRAP_MS = 1 << 32
#: The firmware splits only packets that fill the link; a shorter ragged one is simply malformed.
MIN_SPLIT_PACKET = 100


def gsp_hello(reference: int) -> bytes:
    return bytes([HELLO, reference & 0xFF])


def gsp_subscribe(reference: int, path: str) -> bytes:
    return bytes([SUBSCRIBE, reference & 0xFF]) + path.encode("ascii")


def gsp_unsubscribe(reference: int) -> bytes:
    return bytes([UNSUBSCRIBE, reference & 0xFF])


class MovesenseDecoder(SensorDecoder):
    """Options: ``reference`` (the GSP reference byte of our subscription, 1-255), ``temperature``
    (also subscribe to the device temperature, default True)."""

    family: ClassVar[str] = "movesense"
    display_name: ClassVar[str] = "Movesense (GATT SensorData Protocol)"
    service_uuid: ClassVar[str] = GSP_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (GSP_NOTIFY,)
    supported_rates_hz: ClassVar[tuple[float, ...]] = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Movesense",)

    def __init__(
        self, rate_hz: float | None = None, *, reference: int = 99, temperature: bool = True
    ) -> None:
        super().__init__(rate_hz)
        if not 1 <= reference <= 255:
            raise ValueError(f"movesense: reference must be 1-255, got {reference}")
        self.reference = reference
        self.temperature = bool(temperature)
        self.temperature_reference = (reference + 1) % 255 + 1  # never ours, never HELLO's (reference + 1)
        self.path = f"/Meas/Acc/{int(self.rate_hz)}"
        self.hello_text: str | None = None
        self.clock_offset_s: float | None = None
        self._wraps = 0
        self._last_raw_ms: int | None = None
        self._next_ms: float | None = None  # expected device time of the next sample
        self._part1: bytes | None = None

    def hello_command(self) -> Command:
        return Command(GSP_WRITE, gsp_hello((self.reference + 1) & 0xFF or 1))

    def start_commands(self) -> list[Command]:
        commands = [Command(GSP_WRITE, gsp_subscribe(self.reference, self.path))]
        if self.temperature:
            commands.append(Command(GSP_WRITE, gsp_subscribe(self.temperature_reference, TEMPERATURE_PATH)))
        return commands

    def stop_commands(self) -> list[Command]:
        commands = [Command(GSP_WRITE, gsp_unsubscribe(self.reference))]
        if self.temperature:
            commands.append(Command(GSP_WRITE, gsp_unsubscribe(self.temperature_reference)))
        return commands

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != GSP_NOTIFY:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        if len(data) < 2:
            raise self._error(f"GSP packet of {len(data)} bytes has no type and reference", data)
        kind, ref, body = data[0], data[1], data[2:]
        if kind == RESPONSE:
            return self._response(ref, body, data)
        if kind not in (DATA, DATA_PART2):
            raise self._error(f"unknown GSP packet type {kind}", data)
        if self.temperature and ref == self.temperature_reference and kind == DATA:
            self._temperature(body, arrival_time, data)
            return SampleChunk.empty()
        if ref != self.reference:
            return SampleChunk.empty()  # someone else's subscription
        if kind == DATA_PART2:
            if self._part1 is None:
                raise self._error("DATA_PART2 without a first part", data)
            body, self._part1 = self._part1 + body, None
        elif (len(body) - 4) % 12 and len(data) >= MIN_SPLIT_PACKET:
            self._part1 = body  # a full-size packet cut mid-sample: the rest follows as DATA_PART2
            return SampleChunk.empty()
        else:
            self._part1 = None
        if len(body) < 16 or (len(body) - 4) % 12:
            raise self._error(
                f"acceleration data of {len(body)} bytes is not timestamp + x,y,z float32 triples", data
            )
        raw_ms = struct.unpack_from("<I", body)[0]
        with np.errstate(invalid="ignore"):  # NaN/inf are rejected by _emit with a clear message
            ms2 = np.frombuffer(body, dtype="<f4", offset=4).astype(np.float64).reshape(-1, 3)
        return self._samples(raw_ms, ms2 / STANDARD_GRAVITY, arrival_time, data)

    def _response(self, ref: int, body: bytes, data: bytes) -> SampleChunk:
        if ref == self.reference and len(body) == 2:
            status = int.from_bytes(body, "little")
            if status >= 300:
                self._report(
                    CommandRefused(
                        f"SUBSCRIBE {self.path} failed with status {status}",
                        status=str(status),
                        advice=(
                            "the firmware lacks the GATT SensorData Protocol app or this rate "
                            "(404: no such resource); flash gatt_sensordata_app"
                            if status == 404
                            else None
                        ),
                    )
                )
        elif self.temperature and ref == self.temperature_reference and len(body) == 2:
            status = int.from_bytes(body, "little")
            if status >= 300:
                self._report(
                    Notice(f"no temperature from this firmware ({TEMPERATURE_PATH}: status {status})")
                )
        elif ref != self.reference:
            self.hello_text = body.decode("utf-8", errors="replace")
        return SampleChunk.empty()

    def _temperature(self, body: bytes, arrival_time: float, data: bytes) -> None:
        if len(body) != 8:
            raise self._error(f"temperature data must be 8 bytes (u32 ms + float32 K), got {len(body)}", data)
        device_ms, kelvin = struct.unpack("<If", body)
        if not np.isfinite(kelvin) or not 150.0 < kelvin < 400.0:
            raise self._error(f"temperature of {kelvin} K is not a temperature a body sensor reads", data)
        # Device time on the acceleration clock when that is known (ms since the sensor started).
        t = arrival_time if self.clock_offset_s is None else device_ms / 1000.0 + self.clock_offset_s
        self._report(Temperature(np.array([t]), np.array([kelvin - ZERO_CELSIUS_K]), "device (internal)"))

    def _samples(self, raw_ms: int, g: np.ndarray, arrival_time: float, data: bytes) -> SampleChunk:
        if self._last_raw_ms is not None and raw_ms < self._last_raw_ms - WRAP_MS // 2:
            self._wraps += 1  # the u32 millisecond counter wrapped
        self._last_raw_ms = raw_ms
        period_ms = 1000.0 / self.rate_hz
        first_ms = raw_ms + self._wraps * WRAP_MS
        device_ms = first_ms + period_ms * np.arange(len(g))
        if self.clock_offset_s is None:
            self.clock_offset_s = arrival_time - device_ms[-1] / 1000.0
        elif self._next_ms is not None:
            missing = (first_ms - self._next_ms) / period_ms
            if missing >= max(0.5 * len(g), 2):
                lost = max(1, round(missing / len(g)))
                self.stats.lost_packets += lost
                self._note_gap(self._last_emitted_t, first_ms / 1000.0 + self.clock_offset_s, lost)
        self._next_ms = float(device_ms[-1] + period_ms)
        return self._emit(device_ms / 1000.0 + self.clock_offset_s, g, data)
