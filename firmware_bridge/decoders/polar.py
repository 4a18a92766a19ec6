"""Polar H10 and Verity Sense accelerometer over PMD: the live, sans-I/O decoder.

Subscribe to the control point first (it answers by indication), then the data characteristic; write
``start_commands``. Timestamps come from the sensor (ns since 2000-01-01, of each frame's LAST sample).
Polar's clock is set by Polar's apps; an H10 that was never synced starts from a default date after every
power-down. So the device clock is used as-is when it agrees with the host within ``max_clock_skew_s``;
otherwise a fixed offset (host arrival - device time, taken at the first frame) maps it to Unix time, which
keeps the sensor's precise spacing without trusting its calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, ProtocolError, SensorDecoder
from sitless.firmware_bridge.decoders.events import CommandRefused, StreamStopped
from sitless.firmware_bridge.decoders.polar_pmd import (
    MEASUREMENT_ACC,
    PmdControlPointResponse,
    PmdFrameReader,
    PmdMeasurementStopped,
    acc_samples_mg,
    build_start_command,
    build_stop_command,
    parse_control_point,
    parse_pmd_settings,
    sample_timestamps_ns,
    to_unix_seconds,
)

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: What a user can do about each refusal (status names from polar-ble-sdk's PmdControlPointResponseCode).
REFUSAL_ADVICE = {
    "ERROR_INVALID_MTU": (
        "the Bluetooth link's packet size (ATT MTU) is too small for this stream. BlueZ negotiates the MTU "
        "by itself, so the limit is the computer's adapter or an old BlueZ: use BlueZ 5.55 or newer and an "
        "adapter with Bluetooth 4.2 or newer (`btmon` shows the MTU exchange), or ask for a lower rate_hz"
    ),
    "ERROR_INVALID_SAMPLE_RATE": "set rate_hz to one the model offers (`sitless sensors` lists them)",
    "ERROR_INVALID_RANGE": "set range_g to one the model offers (`sitless sensors`)",
    "ERROR_INVALID_RESOLUTION": "the model does not stream 16-bit acceleration: report it with the firmware version",
    "ERROR_ALREADY_IN_STATE": "another app (Polar Flow, Polar Beat) is streaming from it: close that app",
    "ERROR_DEVICE_IN_CHARGER": "take the sensor off its charger",
    "ERROR_INVALID_STATE": "switch the sensor off and on again",
}


class PolarDecoder(SensorDecoder):
    """Shared PMD logic; use ``PolarH10Decoder`` or ``PolarVeritySenseDecoder``.

    Options: ``range_g`` (snapped to the model's ranges), ``factor`` (used until the sensor reports its
    own in the start response), ``max_clock_skew_s`` (see module docstring).
    """

    family: ClassVar[str] = "polar"
    display_name: ClassVar[str] = "Polar (PMD)"
    service_uuid: ClassVar[str] = PMD_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (PMD_CONTROL_POINT, PMD_DATA)
    supported_ranges_g: ClassVar[tuple[int, ...]] = (8,)
    send_channels: ClassVar[bool] = False

    def __init__(
        self,
        rate_hz: float | None = None,
        *,
        range_g: int = 8,
        factor: float = 1.0,
        max_clock_skew_s: float = 300.0,
    ) -> None:
        super().__init__(rate_hz)
        self.range_g = min(self.supported_ranges_g, key=lambda r: (abs(r - range_g), -r))
        self.factor = float(factor)
        self.resolution_bits = 16
        self.max_clock_skew_s = max_clock_skew_s
        self.clock_offset_s: float | None = None  # None until the first frame
        self.last_control: PmdControlPointResponse | PmdMeasurementStopped | None = None
        self.stopped_by_sensor = False
        self._frames = PmdFrameReader()
        self._last_frame_ns = 0

    @classmethod
    def recognises(
        cls, name: str | None, service_uuids: Sequence[str], manufacturer_data: Mapping[int, bytes]
    ) -> bool:
        # Polar adverts carry the heart-rate service, not PMD: the name is what tells the models apart.
        return bool(name) and name.lower().startswith(tuple(p.lower() for p in cls.name_prefixes))

    def start_settings(self) -> dict[str, int]:
        settings = {
            "sample_rate": int(self.rate_hz),
            "resolution": self.resolution_bits,
            "range": self.range_g,
        }
        if self.send_channels:
            settings["channels"] = 3
        return settings

    def start_commands(self) -> list[Command]:
        return [Command(PMD_CONTROL_POINT, build_start_command(self.start_settings()))]

    def stop_commands(self) -> list[Command]:
        return [Command(PMD_CONTROL_POINT, build_stop_command(MEASUREMENT_ACC))]

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic == PMD_CONTROL_POINT:
            self._control(data)
            return SampleChunk.empty()
        if characteristic != PMD_DATA:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        frame = self._frames.read(data)
        if frame.measurement_type != MEASUREMENT_ACC:
            return SampleChunk.empty()  # another stream (ECG, PPG...) someone else started
        mg = acc_samples_mg(frame, factor=self.factor, resolution_bits=self.resolution_bits)
        n = len(mg)
        period_ns = 1e9 / self.rate_hz
        previous = self._last_frame_ns
        lost: int | None = None
        if previous and frame.timestamp_ns > previous:
            missing = (frame.timestamp_ns - previous) / period_ns - n
            if missing >= max(0.5 * n, 2):  # frames lost: place samples at the nominal rate, mark the gap
                lost = max(1, round(missing / n))
                self.stats.lost_packets += lost
                previous = 0
        ts_ns = sample_timestamps_ns(previous, frame.timestamp_ns, n, self.rate_hz)
        self._last_frame_ns = frame.timestamp_ns
        t = to_unix_seconds(np.asarray(ts_ns, dtype=np.float64))
        if self.clock_offset_s is None:
            skew = arrival_time - float(t[-1])
            self.clock_offset_s = skew if abs(skew) > self.max_clock_skew_s else 0.0
        t = t + self.clock_offset_s
        if previous == 0 and self.stats.samples:
            self._note_gap(self._last_emitted_t, float(t[0]), lost)
        return self._emit(t, mg / 1000.0, data)

    def _control(self, data: bytes) -> None:
        message = parse_control_point(data)
        self.last_control = message
        if isinstance(message, PmdMeasurementStopped):
            self.stopped_by_sensor = MEASUREMENT_ACC in message.measurement_types
            if self.stopped_by_sensor:
                self._report(
                    StreamStopped(
                        "the sensor stopped the acceleration measurement (another app took it over, it went "
                        "on its charger, or its battery is low)"
                    )
                )
            return
        if not message.ok:
            advice = REFUSAL_ADVICE.get(message.status_name)
            self._report(
                CommandRefused(
                    f"{message.op_name} for measurement {message.measurement_type} refused: "
                    f"{message.status_name}",
                    status=message.status_name,
                    advice=advice,
                )
            )
            return
        if message.op_code == 2 and message.measurement_type == MEASUREMENT_ACC:
            self.stopped_by_sensor = False
            self._last_frame_ns = 0
            try:  # the start response may carry the conversion factor; the start succeeded either way
                factors = parse_pmd_settings(message.parameters).get("factor")
            except ProtocolError:
                factors = None
            if factors:
                self.factor = float(factors[0])


class PolarH10Decoder(PolarDecoder):
    family: ClassVar[str] = "polar_h10"
    display_name: ClassVar[str] = "Polar H10 (PMD accelerometer)"
    name_prefixes: ClassVar[tuple[str, ...]] = ("Polar H10",)
    supported_rates_hz: ClassVar[tuple[float, ...]] = (25.0, 50.0, 100.0, 200.0)
    supported_ranges_g: ClassVar[tuple[int, ...]] = (2, 4, 8)


class PolarVeritySenseDecoder(PolarDecoder):
    family: ClassVar[str] = "polar_verity"
    display_name: ClassVar[str] = "Polar Verity Sense (PMD accelerometer)"
    name_prefixes: ClassVar[tuple[str, ...]] = ("Polar Sense",)
    supported_rates_hz: ClassVar[tuple[float, ...]] = (52.0,)  # 26-416 Hz only in SDK mode (no optical HR)
    supported_ranges_g: ClassVar[tuple[int, ...]] = (8,)
    send_channels: ClassVar[bool] = True
