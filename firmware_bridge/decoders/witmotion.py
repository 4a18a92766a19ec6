"""WitMotion BWT901BLECL / WT901BLE(5.0): cheap 9-axis modules that stream on connect.

Each notification holds one or more 20-byte packets ``55 61`` + 9 int16 LE (acc, gyro, angle); acc in g
is raw / 32768 * 16 (WT901BLECL manual; the vendor's Python SDK ``device_model.py`` agrees). ``55 71``
packets are register-read replies and carry no samples. No sensor timestamps: the arrival clock
(``timing.ArrivalClock``) stamps the samples. Rate: ``FF AA 03 <code> 00`` after the unlock
``FF AA 69 88 B5``; the module keeps it until power-off (``save_rate=True`` also writes ``FF AA 00 00 00``
to keep it in flash).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import Command, ProtocolError, SensorDecoder
from sitless.firmware_bridge.decoders.timing import ArrivalClock

WIT_SERVICE = "0000ffe5-0000-1000-8000-00805f9a34fb"
WIT_NOTIFY = "0000ffe4-0000-1000-8000-00805f9a34fb"
WIT_WRITE = "0000ffe9-0000-1000-8000-00805f9a34fb"

PACKET_LEN = 20
RATE_CODES = {10.0: 0x06, 20.0: 0x07, 50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}
UNLOCK = bytes.fromhex("ffaa6988b5")
SAVE = bytes.fromhex("ffaa000000")


def rate_command(rate_hz: float) -> bytes:
    return bytes([0xFF, 0xAA, 0x03, RATE_CODES[float(rate_hz)], 0x00])


def read_register_command(register: int) -> bytes:
    return bytes([0xFF, 0xAA, 0x27, register & 0xFF, 0x00])


def parse_combined_packets(data: bytes) -> np.ndarray:
    """(N, 9) raw int16 of every ``55 61`` packet in a notification (``55 71`` replies are skipped)."""
    if not data or len(data) % PACKET_LEN:
        raise ProtocolError(
            "witmotion", f"{len(data)} bytes is not a whole number of {PACKET_LEN}-byte packets", data
        )
    rows = []
    for offset in range(0, len(data), PACKET_LEN):
        head = data[offset : offset + 2]
        if head == b"\x55\x71":
            continue
        if head != b"\x55\x61":
            raise ProtocolError("witmotion", f"unknown packet header {head.hex()} at byte {offset}", data)
        rows.append(np.frombuffer(data, dtype="<i2", count=9, offset=offset + 2))
    return np.array(rows, dtype=np.int64).reshape(-1, 9)


class WitMotionDecoder(SensorDecoder):
    """Options: ``save_rate`` (write the rate to flash as well; off by default to spare the flash)."""

    family: ClassVar[str] = "witmotion"
    display_name: ClassVar[str] = "WitMotion BWT901BLECL / WT901BLE"
    service_uuid: ClassVar[str] = WIT_SERVICE
    notify_uuids: ClassVar[tuple[str, ...]] = (WIT_NOTIFY,)
    supported_rates_hz: ClassVar[tuple[float, ...]] = tuple(RATE_CODES)
    name_prefixes: ClassVar[tuple[str, ...]] = ("WT901", "BWT901", "WT9011")

    def __init__(self, rate_hz: float | None = None, *, save_rate: bool = False) -> None:
        super().__init__(rate_hz)
        self.save_rate = save_rate
        self.clock = ArrivalClock(self.rate_hz)
        self.last_gyro_dps: np.ndarray | None = None
        self.last_angle_deg: np.ndarray | None = None

    def start_commands(self) -> list[Command]:
        commands = [
            Command(WIT_WRITE, UNLOCK, response=False),
            Command(WIT_WRITE, rate_command(self.rate_hz), response=False),
        ]
        if self.save_rate:
            commands.append(Command(WIT_WRITE, SAVE, response=False))
        return commands

    def stop_commands(self) -> list[Command]:
        return []  # it streams whenever connected; unsubscribing/disconnecting stops it

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != WIT_NOTIFY:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        raw = parse_combined_packets(data)
        if not len(raw):
            return SampleChunk.empty()
        self.last_gyro_dps = raw[-1, 3:6] / 32768.0 * 2000.0
        self.last_angle_deg = raw[-1, 6:9] / 32768.0 * 180.0
        t, gap = self.clock.stamp(len(raw), arrival_time)
        if gap:
            self._note_gap(*gap)
        return self._emit(t, raw[:, 0:3] / 32768.0 * 16.0, data)
