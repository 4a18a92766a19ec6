"""Device-side encoders: what each supported sensor family sends over the air, written from its spec.

These are deliberately independent of ``sitless.firmware_bridge.decoders`` (written from the vendor documents in
``/work/shared/reference/sensors-and-ble.md``), so a full-path test checks the decoder against the spec
rather than against itself. Each ``FamilyCase`` gives the fake peripheral (GATT layout, advertisement,
replies to writes), the start bytes the spec says a central must write, and a packet encoder for
accelerations given in milli-g.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tests.ble_session.fake_bluez import Char, Peripheral, Service

HEART_RATE_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
GSP_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_WRITE = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_NOTIFY = "34800002-7185-4d5d-b431-630e7050e8f0"
WIT_SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
WIT_NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WIT_WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"
MICROBIT_SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
MICROBIT_DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
MICROBIT_PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
POLAR_EPOCH_UNIX_S = 946684800
GRAVITY = 9.80665


@dataclass(frozen=True)
class FamilyCase:
    family: str
    model_words: str  # words the recognised model's display name must contain
    peripheral: Callable[[str], Peripheral]
    data_uuid: str
    rate_hz: float  # what the test asks for
    start_writes: list[tuple[str, bytes]]  # the spec's start bytes for that rate
    samples_per_packet: int
    encode: Callable[[np.ndarray, float], list[bytes]]  # (rows in mg, rate) -> notifications
    expected_g: Callable[[np.ndarray], np.ndarray] = lambda rows_mg: rows_mg / 1000.0  # noqa: E731
    tolerance_g: float = 0.0  # float32 m/s^2 (Movesense) cannot give exact milli-g back
    settings: dict = field(default_factory=dict)  # extra SensorSettings (the generic profile)
    stop_writes: list[tuple[str, bytes]] = field(default_factory=list)  # the spec's stop bytes


# ---- BBC micro:bit: one sample per notification, 3 x int16 LE milli-g; period u16 LE ms ----
def microbit(address: str) -> Peripheral:
    return Peripheral(
        address,
        "BBC micro:bit [zavit]",
        [
            Service(
                MICROBIT_SERVICE,
                [
                    Char(MICROBIT_DATA, ("read", "notify")),
                    Char(MICROBIT_PERIOD, ("read", "write"), b"\x14\x00"),
                ],
            )
        ],
        advertised_uuids=[MICROBIT_SERVICE],
    )


def microbit_packets(rows_mg: np.ndarray, rate_hz: float = 0.0) -> list[bytes]:
    """The runtime sends 1024 counts per g (CODAL's LSM303 driver), not milli-g."""
    raw = np.round(rows_mg.astype(np.float64) / 1000 * 1024).astype(int)
    return [struct.pack("<3h", *row) for row in raw]


# ---- WitMotion: 55 61 + 9 x int16 LE (acc raw/32768*16 g, gyro, angle); streams on connect ----
def witmotion(address: str) -> Peripheral:
    return Peripheral(
        address,
        "WT901BLE68",
        [
            Service(
                WIT_SERVICE,
                [Char(WIT_NOTIFY, ("notify",)), Char(WIT_WRITE, ("write-without-response", "write"))],
            )
        ],
        advertised_uuids=[WIT_SERVICE],
    )


def witmotion_packets(rows_mg: np.ndarray, rate_hz: float = 0.0) -> list[bytes]:
    raw = np.round(rows_mg.astype(np.float64) / 1000 * 32768 / 16).astype(int)
    gyro_angle = (0, 0, 0, 120, -45, 12800)
    return [b"\x55\x61" + struct.pack("<9h", *row, *gyro_angle) for row in raw]


def quantised_g(lsb_per_g: float) -> Callable[[np.ndarray], np.ndarray]:
    """What a sensor with ``lsb_per_g`` resolution reports for accelerations given in milli-g."""
    return lambda rows_mg: np.round(rows_mg.astype(np.float64) / 1000 * lsb_per_g) / lsb_per_g


# ---- MbientLab MetaMotion: 03 03 <odr|0x20|0x80> <range code>, 03 04 01, 03 02 01 00, 03 01 01; data 03 04 + 3 x int16 ----
METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"


def metamotion(address: str, module_info: str = "03800400") -> Peripheral:
    """``module_info``: the accelerometer module's answer to ``03 80`` (BMI270 rev 0: MetaMotionS)."""

    def on_write(uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if uuid.lower() == METAWEAR_COMMAND and data == b"\x03\x80":
            return [(METAWEAR_NOTIFY, bytes.fromhex(module_info))]
        return []

    return Peripheral(
        address,
        "MetaWear",
        [
            Service(
                METAWEAR_SERVICE,
                [
                    Char(METAWEAR_COMMAND, ("write", "write-without-response")),
                    Char(METAWEAR_NOTIFY, ("notify",)),
                ],
            )
        ],
        advertised_uuids=[METAWEAR_SERVICE],
        on_write=on_write,
    )


def metamotion_packets(rows_mg: np.ndarray, rate_hz: float = 0.0) -> list[bytes]:
    raw = np.round(rows_mg.astype(np.float64) / 1000 * 4096).astype(int)  # +-8 g: 4096 LSB/g
    return [b"\x03\x04" + struct.pack("<3h", *row) for row in raw]


# ---- Nordic Thingy:52: config <HHHHB> (4th = motion frequency Hz); raw data 9 x int16, acc Q6.10 ----
THINGY_CONFIG_SERVICE = "ef680100-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
THINGY_MOTION_CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
THINGY_RAW = "ef680406-9b35-4933-9b10-52ffa9740042"


THINGY_FIRMWARE_VERSION = "ef680107-9b35-4933-9b10-52ffa9740042"


def thingy52(address: str) -> Peripheral:
    return Peripheral(
        address,
        "Thingy",
        [
            Service(THINGY_CONFIG_SERVICE, [Char(THINGY_FIRMWARE_VERSION, ("read",), bytes([2, 2, 0]))]),
            Service(
                THINGY_MOTION_SERVICE,
                [
                    Char(THINGY_MOTION_CONFIG, ("read", "write"), struct.pack("<HHHHB", 100, 500, 500, 5, 1)),
                    Char(THINGY_RAW, ("notify",)),
                ],
            ),
        ],
        advertised_uuids=[THINGY_CONFIG_SERVICE],
    )


def thingy_packets(rows_mg: np.ndarray, rate_hz: float = 0.0) -> list[bytes]:
    raw = np.round(rows_mg.astype(np.float64) / 1000 * 1024).astype(int)
    return [struct.pack("<9h", *row, 10, -20, 30, 400, 500, -600) for row in raw]


def thingy_motion_frequency(write: bytes) -> int | None:
    return struct.unpack("<HHHHB", write)[3] if len(write) == 9 else None


# ---- A do-it-yourself board (generic profile): Nordic UART service, "<Hhhh" = counter + x,y,z ----
NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
GENERIC_PROFILE = {
    "service_uuid": NUS_SERVICE,
    "characteristic_uuid": NUS_TX,
    "struct_format": "<Hhhh",
    "xyz_fields": [1, 2, 3],
    "scale": 1 / 4096,
    "rate_hz": 50.0,
    "start_writes": [[NUS_RX, "01"]],
}


def diy_board(address: str) -> Peripheral:
    return Peripheral(
        address,
        "sitless-esp32",
        [Service(NUS_SERVICE, [Char(NUS_RX, ("write",)), Char(NUS_TX, ("notify",))])],
        advertised_uuids=[NUS_SERVICE],
        battery_percent=None,
    )


def diy_packets(rows_mg: np.ndarray, rate_hz: float = 0.0, per_packet: int = 4) -> list[bytes]:
    raw = np.round(rows_mg.astype(np.float64) / 1000 * 4096).astype(int)
    records = [struct.pack("<Hhhh", i & 0xFFFF, *row) for i, row in enumerate(raw)]
    return [b"".join(records[i : i + per_packet]) for i in range(0, len(records), per_packet)]


# ---- Movesense GSP: SUBSCRIBE 01 <ref> "/Meas/Acc/<rate>"; data 02 <ref> u32 ms + N x 3 float32 m/s^2 ----
def movesense(address: str) -> Peripheral:
    return Peripheral(
        address,
        "Movesense 233830000816",
        [Service(GSP_SERVICE, [Char(GSP_WRITE, ("write",)), Char(GSP_NOTIFY, ("notify",))])],
        advertised_uuids=[GSP_SERVICE],
    )


def movesense_packets(
    rows_mg: np.ndarray, rate_hz: float, reference: int = 99, per_packet: int = 8
) -> list[bytes]:
    packets = []
    for start in range(0, len(rows_mg), per_packet):
        block = rows_mg[start : start + per_packet].astype(np.float64) / 1000 * GRAVITY
        timestamp_ms = 12_000 + round(start * 1000 / rate_hz)  # device ms of the FIRST sample
        packets.append(
            bytes([2, reference]) + struct.pack("<I", timestamp_ms) + block.astype("<f4").tobytes()
        )
    return packets


# ---- Polar PMD: control point indicates F0 <op> <type> <status>; data 02 <u64 ns of last sample> <type> ----
def _polar(address: str, name: str) -> Peripheral:
    def on_write(uuid: str, data: bytes) -> list[tuple[str, bytes]]:
        if uuid.lower() == PMD_CONTROL and data[:1] in (b"\x02", b"\x03"):
            return [(PMD_CONTROL, bytes([0xF0, data[0], data[1], 0x00, 0x00]))]  # success
        return []

    return Peripheral(
        address,
        name,
        [
            Service(HEART_RATE_SERVICE, [Char("00002a37-0000-1000-8000-00805f9b34fb", ("notify",))]),
            Service(
                PMD_SERVICE, [Char(PMD_CONTROL, ("read", "write", "indicate")), Char(PMD_DATA, ("notify",))]
            ),
        ],
        advertised_uuids=[HEART_RATE_SERVICE],  # Polar adverts show heart rate, not PMD
        manufacturer_data={0x006B: b"\x33\x1e\x33\x33"},
        on_write=on_write,
    )


def _polar_header(last_sample_unix_s: float, frame_type: int) -> bytes:
    ns = round((last_sample_unix_s - POLAR_EPOCH_UNIX_S) * 1e9)
    return bytes([0x02]) + struct.pack("<Q", ns) + bytes([frame_type])


def polar_raw_packets(rows_mg: np.ndarray, rate_hz: float, per_packet: int = 36) -> list[bytes]:
    """H10: frame type 1 = int16 LE x,y,z in milli-g, uncompressed."""
    start = time.time()  # the sensor's clock, set by Polar's app
    packets = []
    for first in range(0, len(rows_mg), per_packet):
        block = rows_mg[first : first + per_packet]
        last = start + (first + len(block) - 1) / rate_hz
        packets.append(_polar_header(last, 0x01) + block.astype("<i2").tobytes())
    return packets


def _pack_bits_lsb_first(values: np.ndarray, bits: int) -> bytes:
    unsigned = values.astype(np.int64) & ((1 << bits) - 1)
    stream = ((unsigned[:, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(stream, bitorder="little").tobytes()


def polar_delta_packets(rows_mg: np.ndarray, rate_hz: float, per_packet: int = 40) -> list[bytes]:
    """Verity Sense: type 0x81 = delta compressed, 16-bit reference sample then one block of deltas."""
    start = time.time()
    packets = []
    for first in range(0, len(rows_mg), per_packet):
        block = rows_mg[first : first + per_packet].astype(np.int64)
        deltas = np.diff(block, axis=0)
        bits = max(2, int(np.max(np.abs(deltas))).bit_length() + 1) if len(deltas) else 2
        content = block[0].astype("<i2").tobytes()
        content += bytes([bits, len(deltas)]) + _pack_bits_lsb_first(deltas.reshape(-1), bits)
        last = start + (first + len(block) - 1) / rate_hz
        packets.append(_polar_header(last, 0x81) + content)
    return packets


def polar_h10(address: str) -> Peripheral:
    return _polar(address, "Polar H10 A1B2C3D4")


def polar_verity(address: str) -> Peripheral:
    return _polar(address, "Polar Sense B5E6F7A8")


FAMILY_CASES = [
    FamilyCase(
        "microbit", "micro:bit", microbit, MICROBIT_DATA, 50.0,
        [(MICROBIT_PERIOD, (20).to_bytes(2, "little"))], 1, microbit_packets, expected_g=quantised_g(1024),
    ),
    FamilyCase(
        "witmotion", "WitMotion", witmotion, WIT_NOTIFY, 50.0,
        [(WIT_WRITE, bytes.fromhex("ffaa6988b5")), (WIT_WRITE, bytes.fromhex("ffaa030800"))], 1, witmotion_packets,
        expected_g=quantised_g(32768 / 16),
    ),
    FamilyCase(
        "metamotion", "MetaMotion", metamotion, METAWEAR_NOTIFY, 50.0,
        [(METAWEAR_COMMAND, bytes.fromhex(h)) for h in ("0380", "0303a702", "030401", "03020100", "030101")],
        1, metamotion_packets, expected_g=quantised_g(4096),
        stop_writes=[(METAWEAR_COMMAND, bytes.fromhex("030100"))],
    ),
    FamilyCase(
        "thingy52", "Thingy:52", thingy52, THINGY_RAW, 50.0,
        [], 1, thingy_packets, expected_g=quantised_g(1024), settings={"options": {"settle_s": 0}},
    ),
    FamilyCase(
        "generic", "generic", diy_board, NUS_TX, 50.0,
        [(NUS_RX, b"\x01")], 4, diy_packets, expected_g=quantised_g(4096),
        settings={"generic": GENERIC_PROFILE},
    ),
    FamilyCase(
        "movesense", "Movesense", movesense, GSP_NOTIFY, 52.0,
        [(GSP_WRITE, b"\x01\x63/Meas/Acc/52")], 8, movesense_packets, tolerance_g=1e-6,
        stop_writes=[(GSP_WRITE, b"\x02\x63")],
    ),
    FamilyCase(
        "polar_h10", "Polar H10", polar_h10, PMD_DATA, 50.0,
        [(PMD_CONTROL, bytes.fromhex("0202" "00013200" "01011000" "02010800"))], 36, polar_raw_packets,
        stop_writes=[(PMD_CONTROL, b"\x03\x02")],
    ),
    FamilyCase(
        "polar_verity", "Verity", polar_verity, PMD_DATA, 52.0,
        [(PMD_CONTROL, bytes.fromhex("0202" "00013400" "01011000" "02010800" "040103"))], 40, polar_delta_packets,
    ),
]  # fmt: skip
