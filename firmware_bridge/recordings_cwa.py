"""Axivity AX3 / AX6 ``.cwa`` recordings, read natively: vectorised, streaming, in bounded memory.

Written against Axivity's published block format (``cwa.h`` and "AX3 CWA file format" in the Open
Movement repository): a 1024-byte ``MD`` header, then 512-byte ``AX`` data blocks, little-endian.

* Samples: packed 10-bit (format 0: one 32-bit word ``eezzzzzzzzzzyyyyyyyyyyxxxxxxxxxx`` per sample, each
  axis sign-extended and shifted left by the 2-bit exponent, 1/256 g) or 16-bit (format 2: 3 axes, or 6
  axes ``Gx Gy Gz Ax Ay Az`` on the AX6 whose gyroscope sitless ignores), scaled by 1/2^(8+n) g with n
  the top 3 bits of the light word (0 on the AX3).
* Rate and range: the block's rate code, 3200 / 2^(15 - (code & 15)) Hz and 16 >> (code >> 6) g (every
  rate from 6.25 to 3200 Hz, every range). Very old firmware wrote rate code 0 and the rate in Hz in
  ``timestampOffset`` (as Open Movement's own reader assumes).
* Time: each block carries the RTC time of one of its samples (index ``timestampOffset``). Newer firmware
  (top bit of ``deviceFractional``) adds a 1/65536-s fraction, and shifted the index by the fraction's
  whole samples for older readers; the shift is undone as Open Movement's readers do. Between two
  consecutive blocks the samples are spaced by the two anchors (the real rate, which drifts by percents
  from the nominal one: nominal spacing alone would make blocks overlap); at a gap, a skipped block or an
  implausible spacing the nominal rate is used. Device clocks are the local time the recording was set
  up in; the CWA stores no zone, so times are taken as they are (as GGIR, actfast and OMGUI do).
* A block whose 16-bit word sum is not zero fails its checksum: it is skipped, counted and reported as a
  problem naming the file, block number and byte offset, never fatal. Its samples are a gap (no sample is
  invented), as is a block that is not a data block, or the part of a file cut short.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_gzip import open_recording
from sitless.firmware_bridge.recordings_timestamps import RecordingError

log = logging.getLogger(__name__)

HEADER_BYTES = 1024
BLOCK_BYTES = 512
#: Blocks decoded per read: 4096 blocks are 2 MiB of file and at most 491,520 samples (bounded memory).
BLOCKS_PER_READ = 4096
#: OMGUI's metadata keys (url-encoded pairs in the header's annotation) with readable names.
METADATA_NAMES = {
    "_c": "study_centre",
    "_s": "study_code",
    "_i": "investigator",
    "_x": "exercise_code",
    "_so": "volunteer_number",
    "_p": "body_location",
    "_sc": "session_code",
    "_se": "sex",
    "_h": "height",
    "_w": "weight",
    "_ha": "handedness",
    "_n": "notes",
    "_sn": "study_name",
}
_HARDWARE = {0x00: "AX3", 0x17: "AX3", 0xFF: "AX3", 0x64: "AX6"}


@dataclass
class CwaInfo:
    """What the header says: device, rate, range and the study's metadata (body location among them)."""

    device: str
    device_id: int
    session_id: int
    firmware: int
    rate_hz: float
    range_g: int
    gyro_dps: int | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def body_location(self) -> str | None:
        return self.metadata.get("body_location")


def _rate_and_range(code: int) -> tuple[float, int]:
    return 3200.0 / (1 << (15 - (code & 0x0F))), 16 >> (code >> 6)


def read_cwa_info(path: os.PathLike | str) -> CwaInfo:
    """The header of a .cwa file; ``RecordingError`` (naming file and offset) if it is not one."""
    path = Path(path)
    with open_recording(path) as handle:
        header = handle.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        raise RecordingError(path, None, f"byte {len(header)}: file ends inside the 1024-byte CWA header")
    if header[:2] != b"MD":
        raise RecordingError(path, None, f"byte 0: {header[:2]!r} is not a CWA header ('MD')")
    words = np.frombuffer(header, np.uint8)
    upper = int(words[11]) | int(words[12]) << 8
    device_id = (0 if upper == 0xFFFF else upper) << 16 | int(words[5]) | int(words[6]) << 8
    rate_hz, range_g = _rate_and_range(header[36])
    sensor_config = header[35]
    gyro = None if sensor_config in (0x00, 0xFF) else 8000 >> (sensor_config & 0x0F)
    annotation = header[64:512].rstrip(b"\x00\xff ").decode("utf-8", "replace")
    metadata = {}
    for key, value in parse_qsl(annotation, keep_blank_values=True):
        metadata[METADATA_NAMES.get(key, key)] = value
    return CwaInfo(
        device=_HARDWARE.get(header[4], f"unknown hardware 0x{header[4]:02x}"),
        device_id=device_id,
        session_id=int.from_bytes(header[7:11], "little"),
        firmware=header[41],
        rate_hz=rate_hz,
        range_g=range_g,
        gyro_dps=gyro,
        metadata=metadata,
    )


#: Packed samples: value << exponent, in 1/256 g; as one float factor per exponent (0-3).
_EXPONENT_SCALE = np.array([1.0, 2.0, 4.0, 8.0], np.float32) / np.float32(256.0)


def _packed_times(stamps: np.ndarray) -> np.ndarray:
    """Epoch seconds (float) of packed RTC values ``YYYYYYMM MMDDDDDh hhhhmmmm mmssssss``; NaN if invalid."""
    stamps = stamps.astype(np.int64)
    year = (stamps >> 26 & 0x3F) + 2000
    month = stamps >> 22 & 0x0F
    day = stamps >> 17 & 0x1F
    hour, minute, second = stamps >> 12 & 0x1F, stamps >> 6 & 0x3F, stamps & 0x3F
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60) & (second < 60)
    months = np.where(valid, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = (months.astype("datetime64[D]").astype(np.int64) + np.where(valid, day - 1, 0)).astype(np.float64)
    seconds = days * 86400.0 + hour * 3600 + minute * 60 + second
    return np.where(valid & (stamps != 0), seconds, np.nan)


@dataclass
class _Blocks:
    """The decodable data blocks of one read, as parallel arrays (one entry per block)."""

    index: np.ndarray  # block number in the file (0 = first data block)
    anchor_t: np.ndarray  # time of the anchor sample
    anchor_at: np.ndarray  # index of the anchor sample in the block
    period: np.ndarray  # nominal seconds per sample
    count: np.ndarray
    xyz: np.ndarray  # all blocks' samples in block order: sum(count) x 3 float32, g


def _decode_blocks(path: Path, raw: np.ndarray, first_block: int, problems: list[RecordingError]) -> _Blocks:
    """Check and decode ``raw`` (n x 512 uint8); bad blocks become problems and are left out."""
    words = raw.view("<u2")
    number = np.arange(first_block, first_block + len(raw))
    is_data = (raw[:, 0] == ord("A")) & (raw[:, 1] == ord("X")) & (words[:, 1] == 508)
    rate_code = raw[:, 24].astype(np.int64)
    checked = words.sum(axis=1, dtype=np.uint16) == 0
    checked |= rate_code == 0  # the oldest firmware wrote no checksum
    packing = (raw[:, 25] & 0x0F).astype(np.int64)
    axes = (raw[:, 25] >> 4).astype(np.int64)
    known_layout = ((packing == 0) & (axes == 3)) | ((packing == 2) & np.isin(axes, (3, 6, 9)))
    stamp = raw[:, 14:18].copy().view("<u4").reshape(-1)
    anchor_t = _packed_times(stamp)
    good = is_data & checked & known_layout & np.isfinite(anchor_t)
    for block in np.flatnonzero(~good):
        if not is_data[block]:
            if not raw[block].any() or (raw[block] == 0xFF).all():
                continue  # erased flash after the recording's end: not a problem
            why = f"is not a data block ({bytes(raw[block, :2])!r})"
        elif not checked[block]:
            why = "failed its checksum"
        elif not known_layout[block]:
            why = f"has an unknown sample layout 0x{raw[block, 25]:02x}"
        else:
            why = "has an invalid timestamp"
        offset = HEADER_BYTES + BLOCK_BYTES * int(number[block])
        problems.append(
            RecordingError(path, None, f"block {number[block]} (byte {offset}) {why}: skipped, left as a gap")
        )
    raw, words, number, rate_code = raw[good], words[good], number[good], rate_code[good]
    packing, axes, anchor_t = packing[good], axes[good], anchor_t[good]
    offset_field = words[:, 13].view(np.int16).astype(np.int64)
    old = rate_code == 0
    frequency = np.where(old, np.maximum(offset_field, 1), 3200.0 / (1 << (15 - (rate_code & 0x0F))))
    anchor_at = np.where(old, 0, offset_field)
    fractional = np.where(words[:, 2] & 0x8000, (words[:, 2] & 0x7FFF).astype(np.int64) << 1, 0)
    # Undo the firmware's backwards-compatible shift of the anchor by the fraction's whole samples.
    anchor_at = anchor_at + ((fractional * frequency.astype(np.int64)) >> 16)
    anchor_t = anchor_t + fractional / 65536.0
    bytes_per_sample = np.where(packing == 0, 4, 2 * axes)
    count = np.minimum(words[:, 14].astype(np.int64), 480 // bytes_per_sample)
    scale = 1.0 / (1 << (8 + (words[:, 9] >> 13).astype(np.int64)))
    xyz = np.empty((int(count.sum()), 3), np.float32)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    layouts = np.unique(raw[:, 25])
    for layout in layouts:
        rows = np.flatnonzero(raw[:, 25] == layout) if len(layouts) > 1 else slice(None)
        payload = raw[rows, 30:510]
        if layout & 0x0F == 0:
            packed = np.ascontiguousarray(payload).view("<i4")  # n x 120 words
            factor = _EXPONENT_SCALE[(packed >> 30) & 3]
            field = np.empty_like(packed)
            decoded = np.empty(packed.shape + (3,), np.float32)
            for axis in range(3):  # sign-extend each 10-bit field: shift it to the top, then back down
                np.left_shift(packed, 22 - 10 * axis, out=field)
                np.right_shift(field, 22, out=field)
                np.multiply(field, factor, out=decoded[:, :, axis], casting="unsafe")
        else:
            n_axes = int(layout >> 4)
            values = np.ascontiguousarray(payload).view("<i2").reshape(payload.shape[0], -1, n_axes)
            accel = values[:, :, 3:6] if n_axes >= 6 else values[:, :, 0:3]
            decoded = accel.astype(np.float32) * scale[rows, None, None].astype(np.float32)
        block_count = count[rows]
        if (block_count == decoded.shape[1]).all() and len(layouts) == 1:
            xyz[:] = decoded.reshape(-1, 3)  # the usual case: full blocks, one layout
            continue
        keep = np.arange(decoded.shape[1]) < block_count[:, None]
        xyz[(start[rows][:, None] + np.arange(decoded.shape[1]))[keep]] = decoded[keep]
    return _Blocks(number, anchor_t, anchor_at, 1.0 / frequency, count, xyz)


def _sample_times(
    blocks: _Blocks, next_anchor: tuple[int, float, int] | None, previous: tuple[int, float, float] | None
) -> np.ndarray:
    """Times of all samples: time is piecewise linear in sample number through the blocks' anchors.

    A run of contiguous blocks whose anchors agree with the nominal rate (within -20 %/+25 %) is one
    segment: its samples are interpolated between anchors (continuous, so blocks never overlap) and
    extrapolated with the end links' spacing. A gap, a skipped block or an implausible jump starts a new
    segment; a lone block is spaced at the nominal rate. ``next_anchor`` is the next read's first block
    (number, anchor time, anchor index), so the last block here is spaced towards it; ``previous`` is the
    last read's last block (number, anchor time, anchor position counted from this read's first sample),
    so the first block here is spaced from it: reads join exactly as if the file were read at once.
    """
    count = blocks.count
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    knot_p = (start + blocks.anchor_at).astype(np.float64)
    knot_t = blocks.anchor_t
    nxt_number = np.append(blocks.index[1:], next_anchor[0] if next_anchor else -1)
    nxt_t = np.append(knot_t[1:], next_anchor[1] if next_anchor else np.nan)
    nxt_p = np.append(knot_p[1:], start[-1] + count[-1] + (next_anchor[2] if next_anchor else 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        spacing = (nxt_t - knot_t) / (nxt_p - knot_p)
    period = blocks.period
    linked = (nxt_number == blocks.index + 1) & (spacing > 0.8 * period) & (spacing < 1.25 * period)
    times = np.empty(int(count.sum()), np.float64)
    breaks = np.flatnonzero(~linked[:-1]) + 1
    joined = False
    if previous is not None and previous[0] + 1 == blocks.index[0]:
        back = (knot_t[0] - previous[1]) / (knot_p[0] - previous[2])
        joined = 0.8 * period[0] < back < 1.25 * period[0]
    for first, last in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [len(count)])), strict=True):
        p = knot_p[first:last]
        t = knot_t[first:last]
        if first == 0 and joined:
            p, t = np.insert(p, 0, previous[2]), np.insert(t, 0, previous[1])
        if linked[last - 1]:  # the lookahead knot of the next read
            p, t = np.append(p, nxt_p[last - 1]), np.append(t, nxt_t[last - 1])
        lo, hi = int(start[first]), int(start[last - 1] + count[last - 1])
        g = np.arange(lo, hi, dtype=np.float64)
        left = (t[1] - t[0]) / (p[1] - p[0]) if len(p) > 1 else period[first]
        right = (t[-1] - t[-2]) / (p[-1] - p[-2]) if len(p) > 1 else period[first]
        segment = np.interp(g, p, t)
        before, after = np.searchsorted(g, p[0]), np.searchsorted(g, p[-1], side="right")
        segment[:before] = t[0] + (g[:before] - p[0]) * left  # g is sorted: only the ends extrapolate
        segment[after:] = t[-1] + (g[after:] - p[-1]) * right
        times[lo:hi] = segment
    return times


def iter_cwa(
    path: Path, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    """Stream a .cwa as ``SampleChunk``s of about ``chunk_samples`` samples; see the module docstring.

    Skipped blocks go to ``problems`` (or, with no list, to the log as one warning); they are never fatal
    whatever ``on_error`` says, because a long recording with one bad block is still a good recording.
    """
    read_cwa_info(path)  # refuses a foreign file with a clear message
    found: list[RecordingError] = []
    blocks_per_read = max(2, min(BLOCKS_PER_READ, chunk_samples // 40 + 1))
    last_t = -np.inf
    went_back = 0
    previous = None
    read_bytes = HEADER_BYTES
    with open_recording(path) as handle:
        handle.read(HEADER_BYTES)
        first = 0
        pending = b""  # the block read ahead last time (one read's lookahead is the next one's first)
        while True:
            # One block more than decoded: its anchor spaces the last block's samples. Reads only go
            # forward, so a gzip-compressed .cwa.gz streams as well as a plain file.
            data = pending + handle.read(blocks_per_read * BLOCK_BYTES + BLOCK_BYTES - len(pending))
            read_bytes += len(data) - len(pending)
            whole = len(data) // BLOCK_BYTES
            if not whole:
                break
            raw = np.frombuffer(data, np.uint8)[: whole * BLOCK_BYTES].reshape(-1, BLOCK_BYTES)
            at_end = len(data) < (blocks_per_read + 1) * BLOCK_BYTES
            take = whole if at_end else whole - 1
            pending = b"" if at_end else data[take * BLOCK_BYTES : whole * BLOCK_BYTES]
            blocks = _decode_blocks(path, raw[:take], first, found)
            lookahead = None
            if take < len(raw):
                ahead = _decode_blocks(path, raw[take:], first + take, [])
                if len(ahead.index):
                    lookahead = (int(ahead.index[0]), float(ahead.anchor_t[0]), int(ahead.anchor_at[0]))
            first += take
            if not len(blocks.index):
                if at_end:
                    break
                continue
            t = _sample_times(blocks, lookahead, previous)
            previous = (
                int(blocks.index[-1]),
                float(blocks.anchor_t[-1]),
                float(blocks.anchor_at[-1] - blocks.count[-1]),
            )
            xyz = blocks.xyz
            if t[0] > last_t and (np.diff(t) > 0).all():
                forward = None
            else:
                forward = t > np.maximum.accumulate(np.concatenate(([last_t], t[:-1])))
            if forward is not None:  # a clock set back mid-recording: never emit time going backwards
                went_back += int((~forward).sum())
                t, xyz = t[forward], xyz[forward]
            if len(t):
                last_t = float(t[-1])
                for start in range(0, len(t), max(1, chunk_samples)):
                    yield SampleChunk(t[start : start + chunk_samples], xyz[start : start + chunk_samples])
            if at_end:
                break
    if (read_bytes - HEADER_BYTES) % BLOCK_BYTES:
        offset = HEADER_BYTES + BLOCK_BYTES * ((read_bytes - HEADER_BYTES) // BLOCK_BYTES)
        found.append(RecordingError(path, None, f"byte {offset}: the file ends inside a block (cut short?)"))
    if went_back:
        found.append(RecordingError(path, None, f"{went_back} samples went back in time: dropped"))
    _report(path, found, problems)


def _report(path: Path, found: list[RecordingError], problems: list[RecordingError] | None) -> None:
    if not found:
        return
    if problems is not None:
        problems.extend(found)
        return
    shown = "; ".join(error.reason for error in found[:3])
    more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
    log.warning("%s: %d problem(s): %s%s", path, len(found), shown, more)
