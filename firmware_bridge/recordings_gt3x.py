"""ActiGraph ``.gt3x`` recordings (wGT3X-BT, GT9X: a zip of ``info.txt`` and ``log.bin``), read natively.

Written against ActiGraph's published GT3X file format (actigraph/GT3X-File-Format):

* ``info.txt``: ``Key: value`` lines; the sample rate, the acceleration scale (counts per g, the device's
  calibration: 256 on the wGT3X-BT; when the line is missing, 341 for the GT3X+ family) and the body
  location (``Limb``). Times in ``log.bin`` are the device's local clock; ``TimeZone`` says its offset,
  kept as metadata. Times are taken as they are, as for the other devices (and as actfast and GGIR do).
* ``log.bin``: records ``0x1E, type, uint32 time (s), uint16 size, payload, checksum``, little-endian. An
  ACTIVITY record (0x00) is one second of samples packed as 12-bit big-endian signed values in the order
  Y, X, Z; ACTIVITY2 (0x1A, the GT9X) holds X, Y, Z as signed 16-bit. The checksum is the one's complement
  of the XOR of the record's bytes; a record that fails it is skipped and reported, its second a gap.
* Idle sleep mode: the device stops writing samples while it lies still (and writes an empty ACTIVITY
  record); those seconds are gaps, never filled with "still" samples as some tools do: sitless's
  non-wear logic needs to know there was no data.
* The pre-2014 NEO/CLE layout (``activity.bin``) is refused with a clear message.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_cwa import _report
from sitless.firmware_bridge.recordings_timestamps import RecordingError

log = logging.getLogger(__name__)

ACTIVITY, ACTIVITY2, PARAMETERS = 0x00, 0x1A, 0x15
#: log.bin bytes parsed per pass (bounded memory whatever the recording's length).
READ_BYTES = 8 << 20
#: Counts per g for models whose info.txt has no "Acceleration Scale" line: the +-6 g GT3X+ family (serials
#: NEO, CLE, MRA) has 341; the +-8 g wGT3X-BT, wActiSleep and GT9X (MOS, TAS) have 256.
DEFAULT_SCALE = {"NEO": 341.0, "CLE": 341.0, "MRA": 341.0}


@dataclass
class Gt3xInfo:
    serial: str
    device: str
    firmware: str
    rate_hz: float
    scale: float
    time_zone: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def body_location(self) -> str | None:
        return self.metadata.get("Limb")


def _archive(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise RecordingError(path, None, f"byte 0: not a readable GT3X (zip) file: {error}") from None


def read_gt3x_info(path: Path) -> Gt3xInfo:
    with _archive(path) as archive:
        names = set(archive.namelist())
        if "log.bin" not in names:
            if "activity.bin" in names:
                raise RecordingError(
                    path,
                    None,
                    "an old NEO/CLE GT3X (activity.bin) is not supported; export it with "
                    "ActiLife as a raw CSV, which sitless reads",
                )
            raise RecordingError(path, None, f"no log.bin in the GT3X archive (it has: {', '.join(names)})")
        if "info.txt" not in names:
            raise RecordingError(path, None, "no info.txt in the GT3X archive")
        text = archive.read("info.txt").decode("utf-8", "replace")
    metadata = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            metadata[key.strip()] = value.strip()
    serial = metadata.get("Serial Number", "")
    try:
        rate = float(metadata["Sample Rate"])
    except (KeyError, ValueError):
        raise RecordingError(path, None, "info.txt has no usable 'Sample Rate' line") from None
    try:
        scale = float(metadata["Acceleration Scale"].replace(",", "."))
    except (KeyError, ValueError):
        scale = DEFAULT_SCALE.get(serial[:3], 256.0)
    return Gt3xInfo(
        serial=serial,
        device=metadata.get("Device Type", "ActiGraph"),
        firmware=metadata.get("Firmware", ""),
        rate_hz=rate,
        scale=scale,
        time_zone=metadata.get("TimeZone"),
        metadata=metadata,
    )


def _unpack_12bit(payload: np.ndarray) -> np.ndarray:
    """n x B bytes of big-endian 12-bit signed values -> n x (B*8//12) int16."""
    n, width = payload.shape
    pad = (-width) % 3
    if pad:
        payload = np.concatenate([payload, np.zeros((n, pad), np.uint8)], axis=1)
    triples = payload.reshape(n, -1, 3).astype(np.int16)
    first = triples[:, :, 0] << 4 | triples[:, :, 1] >> 4
    second = (triples[:, :, 1] & 0x0F) << 8 | triples[:, :, 2]
    values = np.stack([first, second], axis=-1).reshape(n, -1)[:, : width * 8 // 12]
    return np.where(values >= 2048, values - 4096, values).astype(np.int16)


def _decode_seconds(kind: int, payloads: np.ndarray, scale: float) -> np.ndarray:
    """Same-size ACTIVITY / ACTIVITY2 payloads -> n x samples x 3 float32 (g, X Y Z)."""
    if kind == ACTIVITY:
        values = _unpack_12bit(payloads)
        values = values[:, : values.shape[1] // 3 * 3].reshape(len(payloads), -1, 3)[:, :, [1, 0, 2]]
    else:
        width = payloads.shape[1] // 6 * 6
        values = payloads[:, :width].copy().view("<i2").reshape(len(payloads), -1, 3)
    return values.astype(np.float32) / np.float32(scale)


def iter_gt3x(
    path: Path, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    """Stream the samples of a .gt3x; bad records are reported (``problems`` or the log), never fatal."""
    info = read_gt3x_info(path)
    found: list[RecordingError] = []
    with _archive(path) as archive, archive.open("log.bin") as stream:
        carry = b""
        consumed = 0  # log.bin bytes before ``carry``
        while True:
            more = stream.read(READ_BYTES)
            data = carry + more
            if not data:
                break
            records, used, stop = _scan_records(path, data, consumed, found)
            yield from _samples(path, records, data, consumed, info, chunk_samples, found)
            carry, consumed = data[used:], consumed + used
            if stop:
                break
            if not more:
                found.append(
                    RecordingError(path, None, f"log.bin byte {consumed}: the last record is cut short")
                )
                break
    _report(path, found, problems)


def _scan_records(path: Path, data: bytes, base: int, found: list[RecordingError]):
    """Walk the records of ``data`` (sequential: sizes vary): (activity records as (kind, start, size)
    lists, bytes used, stop). Only header bytes are touched here; checksums are checked in bulk."""
    kinds, starts, sizes = [], [], []
    position, end = 0, len(data)
    while position + 8 <= end:
        if data[position] != 0x1E:
            found.append(
                RecordingError(
                    path,
                    None,
                    f"log.bin byte {base + position}: 0x{data[position]:02x} where a record "
                    "should start (0x1e); the rest of the file is not read",
                )
            )
            return (kinds, starts, sizes), position, True
        size = data[position + 6] | data[position + 7] << 8
        stop = position + 9 + size
        if stop > end:
            break
        kind = data[position + 1]
        if kind in (ACTIVITY, ACTIVITY2) and size > 1:  # size 1: idle sleep, no samples
            kinds.append(kind)
            starts.append(position)
            sizes.append(size)
        position = stop
    return (kinds, starts, sizes), position, False


def _samples(
    path: Path, records, data: bytes, base: int, info: Gt3xInfo, chunk_samples: int, found: list[RecordingError]
) -> Iterator[SampleChunk]:
    """Check and decode the activity records, grouped by (kind, size) so each group is one array."""
    kinds, starts, sizes = (np.array(column, np.int64) for column in records)
    if not len(kinds):
        return
    buffer = np.frombuffer(data, np.uint8)
    period = 1.0 / info.rate_hz
    per_record = np.where(kinds == ACTIVITY, sizes * 8 // 36, sizes // 6)
    good = np.ones(len(kinds), bool)
    groups = []
    for kind, size in set(zip(kinds.tolist(), sizes.tolist(), strict=True)):
        rows = np.flatnonzero((kinds == kind) & (sizes == size))
        whole = buffer[starts[rows, None] + np.arange(size + 9)]  # header, payload, checksum
        checksum = np.bitwise_xor.reduce(whole[:, :-1], axis=1)
        ok = (~checksum & 0xFF) == whole[:, -1]
        for row in rows[~ok]:
            good[row] = False
            found.append(
                RecordingError(
                    path, None, f"log.bin byte {base + starts[row]}: record failed its checksum: skipped, left as a gap"
                )
            )
        groups.append((kind, rows[ok], whole[ok]))
    per_record = np.where(good, per_record, 0)
    offset = np.concatenate(([0], np.cumsum(per_record)[:-1]))
    total = int(per_record.sum())
    t = np.empty(total, np.float64)
    xyz = np.empty((total, 3), np.float32)
    for kind, rows, whole in groups:
        if not len(rows):
            continue
        when = whole[:, 2:6].copy().view("<u4").reshape(-1).astype(np.float64)
        decoded = _decode_seconds(kind, whole[:, 8:-1], info.scale)
        positions = (offset[rows, None] + np.arange(decoded.shape[1])).reshape(-1)
        t[positions] = (when[:, None] + np.arange(decoded.shape[1]) * period).reshape(-1)
        xyz[positions] = decoded.reshape(-1, 3)
    step = max(1, chunk_samples)
    for start in range(0, total, step):
        yield SampleChunk(t[start : start + step], xyz[start : start + step])
