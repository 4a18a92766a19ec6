"""Polar Measurement Data (PMD) protocol pieces: frames, settings, control point, timestamps.

Pure functions shared by the live decoder (``polar.py``) and the offline-recording reader
(``polar_offline.py``). Layouts follow polar-ble-sdk ``documentation/`` and, where they disagree, the SDK's
own tests (``../shared/vectors/README.md``): frames carry the 8-byte timestamp of their LAST sample in ns
since 2000-01-01; byte 9 is the frame type with bit 7 meaning delta-compressed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from sitless.firmware_bridge.decoders.base import ProtocolError
from sitless.firmware_bridge.decoders.polar_delta import decode_delta_frames

FAMILY = "polar"
POLAR_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z
MEASUREMENT_ACC = 2

# Setting type -> (name, size in bytes). Type 3 is a 4-byte range (the tests, not the PDF's "unused").
SETTING_TYPES: dict[int, tuple[str, int]] = {
    0: ("sample_rate", 2),
    1: ("resolution", 2),
    2: ("range", 2),
    3: ("range_milliunit", 4),
    4: ("channels", 1),
    5: ("factor", 4),
    6: ("security", 16),
}
SETTING_IDS = {name: type_id for type_id, (name, _) in SETTING_TYPES.items()}

OP_NAMES = {
    1: "GET_MEASUREMENT_SETTINGS",
    2: "REQUEST_MEASUREMENT_START",
    3: "STOP_MEASUREMENT",
    4: "GET_SDK_MODE_SETTINGS",
    5: "GET_MEASUREMENT_STATUS",
    6: "GET_SDK_MODE_STATUS",
    7: "GET_OFFLINE_RECORDING_TRIGGER_STATUS",
    8: "SET_OFFLINE_RECORDING_TRIGGER_MODE",
    9: "SET_OFFLINE_RECORDING_TRIGGER_SETTINGS",
}
STATUS_NAMES = {
    0: "SUCCESS",
    1: "ERROR_INVALID_OP_CODE",
    2: "ERROR_INVALID_MEASUREMENT_TYPE",
    3: "ERROR_NOT_SUPPORTED",
    4: "ERROR_INVALID_LENGTH",
    5: "ERROR_INVALID_PARAMETER",
    6: "ERROR_ALREADY_IN_STATE",
    7: "ERROR_INVALID_RESOLUTION",
    8: "ERROR_INVALID_SAMPLE_RATE",
    9: "ERROR_INVALID_RANGE",
    10: "ERROR_INVALID_MTU",
    11: "ERROR_INVALID_NUMBER_OF_CHANNELS",
    12: "ERROR_INVALID_STATE",
    13: "ERROR_DEVICE_IN_CHARGER",
}
CP_RESPONSE_CODE = 0xF0
CP_ONLINE_MEASUREMENT_STOPPED = 0x01


# Frames ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PmdFrame:
    measurement_type: int
    timestamp_ns: int
    frame_type: int  # without the compression bit
    compressed: bool
    content: bytes
    previous_timestamp_ns: int = 0


def parse_pmd_frame(data: bytes, previous_timestamp_ns: int = 0) -> PmdFrame:
    """Split a PMD data notification into its 10-byte header and content."""
    if len(data) < 10:
        raise ProtocolError(
            FAMILY, f"PMD frame of {len(data)} bytes is shorter than its 10-byte header", data
        )
    timestamp_ns = int.from_bytes(data[1:9], "little")
    if timestamp_ns >= 1 << 63:  # past the year 2292: a corrupted header, and beyond int64 arithmetic
        raise ProtocolError(FAMILY, f"PMD frame timestamp {timestamp_ns} ns is out of range", data)
    return PmdFrame(
        measurement_type=data[0],
        timestamp_ns=timestamp_ns,
        frame_type=data[9] & 0x7F,
        compressed=bool(data[9] & 0x80),
        content=bytes(data[10:]),
        previous_timestamp_ns=previous_timestamp_ns,
    )


@dataclass
class PmdFrameReader:
    """Parses frames and remembers the previous frame timestamp per measurement type (as the SDK does)."""

    previous_ns: dict[int, int] = field(default_factory=dict)

    def read(self, data: bytes) -> PmdFrame:
        head = parse_pmd_frame(data)
        frame = parse_pmd_frame(data, self.previous_ns.get(head.measurement_type, 0))
        self.previous_ns[frame.measurement_type] = frame.timestamp_ns
        return frame


def acc_samples_mg(
    frame: PmdFrame, *, factor: float = 1.0, resolution_bits: int = 16, channels: int = 3
) -> np.ndarray:
    """(N, 3) accelerations in milli-g from an ACC frame, applying ``factor`` as the SDK does."""
    content = frame.content
    if not content:
        raise ProtocolError(FAMILY, "ACC frame without samples")
    if not frame.compressed:
        widths = {0: 1, 1: 2, 2: 3}
        if frame.frame_type not in widths:
            raise ProtocolError(FAMILY, f"unsupported raw ACC frame type {frame.frame_type}", content)
        width = widths[frame.frame_type]
        if len(content) % (3 * width):
            raise ProtocolError(
                FAMILY, f"raw ACC content of {len(content)} bytes is not whole {3 * width}-byte samples"
            )
        raw = np.frombuffer(content, dtype=np.uint8).reshape(-1, width).astype(np.int64)
        values = raw @ (np.int64(1) << (8 * np.arange(width, dtype=np.int64)))
        values = np.where(values >= 1 << (8 * width - 1), values - (1 << (8 * width)), values)
        return values.reshape(-1, 3).astype(np.float64)  # milli-g; the SDK ignores the factor here
    if frame.frame_type not in (0, 1):
        raise ProtocolError(FAMILY, f"unsupported compressed ACC frame type {frame.frame_type}", content)
    raw = decode_delta_frames(content, channels, resolution_bits)
    if channels != 3:
        raise ProtocolError(FAMILY, f"ACC with {channels} channels is not x,y,z")
    if frame.frame_type == 0:  # values are in G / factor: milli-g = trunc(f32(raw) * f32(factor * 1000))
        scaled = raw.astype(np.float32) * np.float32(factor * 1000.0)
        return np.trunc(scaled).astype(np.float64)
    values = raw.astype(np.float64)
    if factor != 1.0:
        values = np.trunc((values.astype(np.float32) * np.float32(factor)).astype(np.float64))
    return values


def sample_timestamps_ns(previous_ns: int, frame_ns: int, count: int, rate_hz: float) -> list[int]:
    """Per-sample timestamps for a frame whose LAST sample is at ``frame_ns`` (SDK semantics).

    With a usable previous frame timestamp the samples are spread evenly after it; otherwise (first
    frame, or the device clock stepped back) they are spaced at the nominal rate before ``frame_ns``.
    Intermediate values round half to even, as the Android SDK's test requires.
    """
    if count <= 0:
        raise ProtocolError(FAMILY, "frame without samples has no timestamps")
    if 0 < previous_ns < frame_ns:
        delta = (frame_ns - previous_ns) / count
        start = previous_ns + delta
    else:
        if rate_hz <= 0:
            raise ProtocolError(FAMILY, "first frame needs the sample rate to place its samples in time")
        delta = 1e9 / rate_hz
        start = frame_ns - delta * (count - 1)
    return [round(start + delta * i) for i in range(count - 1)] + [frame_ns]


def to_unix_seconds(polar_ns: int | np.ndarray) -> np.ndarray:
    return np.asarray(polar_ns, dtype=np.float64) / 1e9 + POLAR_EPOCH_UNIX_S


# Settings and control point --------------------------------------------------------------------------


def parse_pmd_settings(data: bytes) -> dict[str, list]:
    """Setting TLVs ``[type][count][count x value]`` -> ``{"sample_rate": [52], "range": [2, 4, 8], ...}``."""
    settings: dict[str, list] = {}
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ProtocolError(FAMILY, f"settings truncated at byte {offset}", data)
        type_id, count = data[offset], data[offset + 1]
        offset += 2
        if type_id not in SETTING_TYPES:
            raise ProtocolError(FAMILY, f"unknown setting type {type_id} at byte {offset - 2}", data)
        name, size = SETTING_TYPES[type_id]
        if offset + count * size > len(data):
            raise ProtocolError(FAMILY, f"setting {name} needs {count * size} bytes at byte {offset}", data)
        values: list = []
        for _ in range(count):
            chunk = data[offset : offset + size]
            if name == "factor":
                values.append(struct.unpack("<f", chunk)[0])
            elif name == "security":
                values.append(bytes(chunk))
            else:
                values.append(int.from_bytes(chunk, "little"))
            offset += size
        settings[name] = values
    return settings


def build_start_command(
    settings: dict[str, int], *, measurement_type: int = MEASUREMENT_ACC, offline: bool = False
) -> bytes:
    """REQUEST_MEASUREMENT_START: ``02 <type | 0x80 if offline>`` then ``[type][01][LE value]`` per setting."""
    out = bytearray([0x02, (0x80 if offline else 0x00) | measurement_type])
    for name, value in settings.items():
        type_id = SETTING_IDS[name]
        size = SETTING_TYPES[type_id][1]
        out += bytes([type_id, 1]) + int(value).to_bytes(size, "little")
    return bytes(out)


def build_stop_command(measurement_type: int = MEASUREMENT_ACC) -> bytes:
    return bytes([0x03, measurement_type])


@dataclass(frozen=True)
class PmdControlPointResponse:
    response_code: int
    op_code: int
    measurement_type: int
    status: int
    more: bool
    parameters: bytes

    @property
    def op_name(self) -> str:
        return OP_NAMES.get(self.op_code, f"OP_{self.op_code}")

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"ERROR_{self.status}")

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class PmdMeasurementStopped:
    """The sensor closed these streams on its own (``01 <types...>``): e.g. taken off, low battery."""

    measurement_types: tuple[int, ...]


def parse_control_point(data: bytes) -> PmdControlPointResponse | PmdMeasurementStopped:
    if not data:
        raise ProtocolError(FAMILY, "empty control point message")
    if data[0] == CP_ONLINE_MEASUREMENT_STOPPED:
        return PmdMeasurementStopped(tuple(data[1:]))
    if data[0] != CP_RESPONSE_CODE:
        raise ProtocolError(FAMILY, f"unknown control point message 0x{data[0]:02x}", data)
    if len(data) < 4:
        raise ProtocolError(FAMILY, f"control point response of {len(data)} bytes is truncated", data)
    return PmdControlPointResponse(
        response_code=data[0],
        op_code=data[1],
        measurement_type=data[2],
        status=data[3],
        more=len(data) > 4 and data[4] != 0,
        parameters=bytes(data[5:]),
    )
