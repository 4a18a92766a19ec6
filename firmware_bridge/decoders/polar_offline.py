"""Polar offline ACC recordings (Verity Sense ``.REC`` files fetched over PFTP).

Layout (vendor offline-recording test, see ``../shared/vectors/ble-vectors.json``): byte 0 security
(0 = none); bytes 1-16 header (magic, version, free, eswHash: u32 LE each); 17-36 start time (ASCII,
NUL-padded); byte 37 settings length L; L bytes of PMD settings; a security-info length byte (and that
many bytes); then ``[u16 LE size][PMD frame]`` repeated. Frames are ordinary PMD ACC frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sitless.firmware_bridge.decoders.base import ProtocolError
from sitless.firmware_bridge.decoders.polar_pmd import (
    MEASUREMENT_ACC,
    PmdFrameReader,
    acc_samples_mg,
    parse_pmd_settings,
    sample_timestamps_ns,
    to_unix_seconds,
)


@dataclass(frozen=True)
class OfflineAccRecording:
    magic: int
    version: int
    free: int
    esw_hash: int
    start_time: str
    settings: dict[str, list]
    samples_mg: np.ndarray  # (N, 3) milli-g
    timestamps_ns: np.ndarray  # (N,) int64, ns since 2000-01-01

    @property
    def t(self) -> np.ndarray:
        return to_unix_seconds(self.timestamps_ns)

    @property
    def xyz_g(self) -> np.ndarray:
        return self.samples_mg / 1000.0


def decode_offline_acc(data: bytes) -> OfflineAccRecording:
    """Decode a whole offline ACC recording; raises ProtocolError naming the byte offset on bad input."""
    data = bytes(data)
    if len(data) < 38:
        raise ProtocolError("polar", f"offline recording of {len(data)} bytes is shorter than its header")
    if data[0] != 0:
        raise ProtocolError("polar", f"offline recording is encrypted (security {data[0]}); not supported")
    magic, version, free, esw_hash = (int.from_bytes(data[i : i + 4], "little") for i in range(1, 17, 4))
    start_time = data[17:37].split(b"\0", 1)[0].decode("ascii", errors="replace")
    settings_len = data[37]
    offset = 38 + settings_len
    if offset >= len(data):
        raise ProtocolError("polar", "offline recording ends inside its settings")
    settings = parse_pmd_settings(data[38:offset])
    offset += 1 + data[offset]  # security info
    rate = float((settings.get("sample_rate") or [0])[0])
    resolution = int((settings.get("resolution") or [16])[0])
    factor = float((settings.get("factor") or [1.0])[0])
    reader = PmdFrameReader()
    all_mg: list[np.ndarray] = []
    all_ts: list[list[int]] = []
    while offset < len(data):
        if offset + 2 > len(data):
            raise ProtocolError("polar", f"offline recording: frame size truncated at byte {offset}")
        size = int.from_bytes(data[offset : offset + 2], "little")
        offset += 2
        if size == 0 or offset + size > len(data):
            raise ProtocolError(
                "polar", f"offline recording: frame of {size} bytes at byte {offset} overruns the file"
            )
        frame = reader.read(data[offset : offset + size])
        offset += size
        if frame.measurement_type != MEASUREMENT_ACC:
            raise ProtocolError(
                "polar", f"offline recording: measurement type {frame.measurement_type} is not ACC"
            )
        mg = acc_samples_mg(frame, factor=factor, resolution_bits=resolution)
        all_mg.append(mg)
        all_ts.append(sample_timestamps_ns(frame.previous_timestamp_ns, frame.timestamp_ns, len(mg), rate))
    if not all_mg:
        raise ProtocolError("polar", "offline recording holds no frames")
    return OfflineAccRecording(
        magic=magic,
        version=version,
        free=free,
        esw_hash=esw_hash,
        start_time=start_time,
        settings=settings,
        samples_mg=np.concatenate(all_mg),
        timestamps_ns=np.asarray([ts for frame_ts in all_ts for ts in frame_ts], dtype=np.int64),
    )
