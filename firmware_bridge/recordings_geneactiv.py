"""GENEActiv ``.bin`` recordings, read natively (streaming, vectorised per batch of pages).

Written against Activinsights' "GENEActiv data file format": a text header of ``Key:value`` lines in
sections (``Device Identity``, ``Configuration Info``, ``Subject Info`` with the ``Device Location Code``,
``Calibration Data`` with a gain and an offset per axis, ``Memory Status``), then pages of ten lines:
``Recorded Data``, serial, sequence number, ``Page Time:YYYY-MM-DD hh:mm:ss:mmm``, unassigned, temperature,
battery voltage, device status, ``Measurement Frequency``, and one line of hex: 300 samples of 48 bits
each (12-bit signed x, y, z, 10-bit light, button, reserved), big-endian.

Acceleration in g is ``(raw * 100 - offset) / gain`` per axis, the calibration the device stored. Sample
``i`` of a page is at ``page time + i / frequency``; page times are the device's local clock, taken as
they are (as GGIR and actfast do). A page that cannot be decoded is skipped and reported by page number
and line; its 300 samples are a gap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_cwa import _report
from sitless.firmware_bridge.recordings_gzip import open_recording
from sitless.firmware_bridge.recordings_timestamps import RecordingError

PAGE_LINES = 10
SAMPLES_PER_PAGE = 300
#: Pages decoded per batch: 512 pages are 153,600 samples (bounded memory).
PAGES_PER_BATCH = 512


@dataclass
class GeneactivInfo:
    serial: str
    model: str
    firmware: str
    rate_hz: float
    gain: np.ndarray  # x, y, z
    offset: np.ndarray
    header_lines: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def body_location(self) -> str | None:
        return self.metadata.get("Device Location Code") or None


def read_geneactiv_info(path: Path) -> GeneactivInfo:
    metadata: dict[str, str] = {}
    lines = 0
    with open_recording(path) as handle:
        for raw in handle:
            lines += 1
            line = raw.decode("latin-1").strip()
            if line == "Recorded Data":
                lines -= 1
                break
            key, sep, value = line.partition(":")
            if sep:
                metadata.setdefault(key.strip(), value.strip())
            if lines > 200:
                break
    if "Device Type" not in metadata and "Device Unique Serial Code" not in metadata:
        raise RecordingError(path, None, "line 1: not a GENEActiv .bin file (no 'Device Identity' header)")
    try:
        gain = np.array([float(metadata[f"{axis} gain"]) for axis in "xyz"])
        offset = np.array([float(metadata[f"{axis} offset"]) for axis in "xyz"])
        rate = float(metadata["Measurement Frequency"].split()[0])
    except (KeyError, ValueError, IndexError) as error:
        raise RecordingError(
            path, None, f"header line {lines}: calibration or frequency missing or unreadable ({error})"
        ) from None
    if (gain == 0).any():
        raise RecordingError(path, None, "header: an axis gain is 0 (the calibration data is damaged)")
    return GeneactivInfo(
        serial=metadata.get("Device Unique Serial Code", ""),
        model=f"GENEActiv {metadata.get('Device Model', '')}".strip(),
        firmware=metadata.get("Device Firmware Version", ""),
        rate_hz=rate,
        gain=gain,
        offset=offset,
        header_lines=lines,
        metadata=metadata,
    )


def _page_time(text: str) -> float:
    stamp = text.partition(":")[2].strip()  # 2024-04-30 15:13:30:000
    moment = datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    millis = stamp[20:23]
    return moment.timestamp() + (int(millis) / 1000.0 if millis.isdigit() else 0.0)


def _decode_hex(rows: list[bytes], info: GeneactivInfo) -> np.ndarray:
    """Pages of hex -> pages x 300 x 3 float32 in g (calibrated)."""
    raw = np.frombuffer(bytes.fromhex(b"".join(rows).decode("ascii")), np.uint8)
    six = raw.reshape(len(rows), SAMPLES_PER_PAGE, 6).astype(np.int64)
    word = six[..., 0] << 40 | six[..., 1] << 32 | six[..., 2] << 24 | six[..., 3] << 16 | six[..., 4] << 8
    word |= six[..., 5]
    axes = np.stack([(word >> shift) & 0xFFF for shift in (36, 24, 12)], axis=-1)
    axes = np.where(axes >= 2048, axes - 4096, axes)
    return ((axes * 100.0 - info.offset) / info.gain).astype(np.float32)


def iter_geneactiv(
    path: Path, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    info = read_geneactiv_info(path)
    found: list[RecordingError] = []
    with open_recording(path) as handle:
        for _ in range(info.header_lines):
            handle.readline()
        line_number = info.header_lines
        page_number = 0
        while True:
            lines = list(itertools.islice(handle, PAGE_LINES * PAGES_PER_BATCH))
            if not lines:
                break
            times, rows, rates = [], [], []
            for start in range(0, len(lines), PAGE_LINES):
                page = lines[start : start + PAGE_LINES]
                where = line_number + start + 1
                if not any(line.strip() for line in page):
                    continue  # blank lines after the last page (some exports end with one)
                try:
                    if len(page) < PAGE_LINES:
                        raise ValueError("the file ends inside the page (cut short?)")
                    if page[0].strip() != b"Recorded Data":
                        raise ValueError(f"{page[0][:20]!r} where 'Recorded Data' should be")
                    hex_row = page[9].strip()
                    if len(hex_row) != 12 * SAMPLES_PER_PAGE:
                        raise ValueError(f"{len(hex_row)} hex digits, expected {12 * SAMPLES_PER_PAGE}")
                    bytes.fromhex(hex_row.decode("ascii"))
                    when = _page_time(page[3].decode("latin-1"))
                    rate = float(page[8].decode("latin-1").partition(":")[2].split()[0])
                except (ValueError, IndexError, UnicodeDecodeError) as error:
                    found.append(
                        RecordingError(path, where, f"page {page_number}: {error}: skipped, left as a gap")
                    )
                else:
                    times.append(when)
                    rows.append(hex_row)
                    rates.append(rate)
                page_number += 1
            line_number += len(lines)
            if not rows:
                continue
            xyz = _decode_hex(rows, info).reshape(-1, 3)
            offsets = np.arange(SAMPLES_PER_PAGE) / np.array(rates)[:, None]
            t = (np.array(times)[:, None] + offsets).reshape(-1)
            step = max(1, chunk_samples)
            for start in range(0, len(t), step):
                yield SampleChunk(t[start : start + step], xyz[start : start + step])
    _report(path, found, problems)
