"""Write synthetic Axivity .cwa files (tests and benchmarks only): any rate, range and sample layout.

The writer follows the same published block format as the reader (``cwa.h``), but from the other side:
it packs samples into blocks, stores each block's first-sample time as whole seconds plus the 1/65536-s
fraction (with the firmware's backwards-compatible anchor shift) and sets the checksum so that the 16-bit
word sum of the block is zero. Real files (tests/data/devices) check the reader against actfast; these
check the combinations no fixture has (every rate code, every range, 16-bit AX3, long files).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk

RANGE_BITS = {16: 0, 8: 1, 4: 2, 2: 3}


def rate_code(rate_hz: float, range_g: int) -> int:
    code = int(round(15 - np.log2(3200.0 / rate_hz)))
    return RANGE_BITS[range_g] << 6 | code


def header(rate_hz: float = 100.0, range_g: int = 8, *, ax6: bool = False, annotation: str = "") -> bytes:
    block = bytearray(1024)
    block[0:2] = b"MD"
    block[2:4] = (1020).to_bytes(2, "little")
    block[4] = 0x64 if ax6 else 0x00
    block[5:7] = (4321).to_bytes(2, "little")
    block[7:11] = (77).to_bytes(4, "little")
    block[11:13] = b"\xff\xff"
    block[35] = 0x02 if ax6 else 0xFF
    block[36] = rate_code(rate_hz, range_g)
    block[41] = 54 if ax6 else 45
    text = annotation.encode()
    block[64 : 64 + len(text)] = text
    block[64 + len(text) : 512] = b"\xff" * (448 - len(text))
    return bytes(block)


def _packed_words(counts: np.ndarray) -> np.ndarray:
    """n x 3 int counts of 1/256 g -> n uint32 packed 10-bit words (smallest exponent that fits)."""
    exponent = np.zeros(len(counts), np.int64)
    for shift in (1, 2, 3):
        exponent = np.where((np.abs(counts >> exponent[:, None]) > 511).any(axis=1), shift, exponent)
    reduced = np.clip(counts >> exponent[:, None], -512, 511) & 0x3FF
    return (reduced[:, 0] | reduced[:, 1] << 10 | reduced[:, 2] << 20 | exponent << 30).astype(np.uint32)


def _packed_time(seconds: np.ndarray) -> np.ndarray:
    moments = seconds.astype("datetime64[s]")
    year = moments.astype("datetime64[Y]").astype(np.int64) + 1970
    month = moments.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (moments.astype("datetime64[D]") - moments.astype("datetime64[M]")).astype(np.int64) + 1
    of_day = (moments - moments.astype("datetime64[D]")).astype(np.int64)
    hour, minute, second = of_day // 3600, of_day // 60 % 60, of_day % 60
    return ((year - 2000) << 26 | month << 22 | day << 17 | hour << 12 | minute << 6 | second).astype(np.uint32)


def blocks(
    samples: SampleChunk, rate_hz: float, range_g: int = 8, *, layout: str = "packed", first_sequence: int = 0
) -> np.ndarray:
    """The data blocks (n x 512 uint8) of ``samples``: ``layout`` is packed, 16bit (AX3) or ax6."""
    per_block = {"packed": 120, "16bit": 80, "ax6": 40}[layout]
    n_blocks = len(samples) // per_block
    xyz = samples.xyz[: n_blocks * per_block]
    first_t = samples.t[: n_blocks * per_block : per_block]
    out = np.zeros((n_blocks, 512), np.uint8)
    words = out.view("<u2")
    out[:, 0:2] = np.frombuffer(b"AX", np.uint8)
    words[:, 1] = 508
    whole = np.floor(first_t)
    fractional = (np.round((first_t - whole) * 65536).astype(np.int64) >> 1) << 1
    carry = fractional >= 65536
    whole, fractional = whole + carry, np.where(carry, 0, fractional)
    words[:, 2] = (0x8000 | fractional >> 1).astype(np.uint16)
    sequence = np.arange(first_sequence, first_sequence + n_blocks, dtype=np.uint32)
    words[:, 5], words[:, 6] = sequence & 0xFFFF, sequence >> 16
    stamp = _packed_time(whole)
    words[:, 7], words[:, 8] = stamp & 0xFFFF, stamp >> 16
    scale_code = {16: 3, 8: 4, 4: 5, 2: 6}[range_g] if layout != "packed" and layout != "16bit" else 0
    words[:, 9] = scale_code << 13 | 300
    words[:, 10] = 260
    out[:, 23] = 190
    out[:, 24] = rate_code(rate_hz, range_g)
    out[:, 25] = {"packed": 0x30, "16bit": 0x32, "ax6": 0x62}[layout]
    # The anchor is sample 0 at first_t; the firmware stores it shifted back by the fraction's samples.
    frequency = int(3200 / (1 << (15 - (int(out[0, 24]) & 0x0F)))) if n_blocks else 1
    words[:, 13] = (-((fractional * frequency) >> 16)).astype(np.int16).view(np.uint16)
    words[:, 14] = per_block
    if layout == "packed":
        counts = np.round(xyz.astype(np.float64) * 256).astype(np.int64)
        out[:, 30:510] = _packed_words(counts).reshape(n_blocks, per_block).view(np.uint8).reshape(n_blocks, 480)
    else:
        scale = 256 if layout == "16bit" else 1 << (8 + scale_code)
        counts = np.clip(np.round(xyz.astype(np.float64) * scale), -32768, 32767).astype("<i2")
        if layout == "ax6":
            gyro = np.full_like(counts, 1234)  # a gyroscope reading the reader must ignore
            counts = np.concatenate([gyro, counts], axis=1)
        out[:, 30:510] = counts.reshape(n_blocks, -1).view(np.uint8)
    words[:, 255] = 0
    words[:, 255] = (-words.sum(axis=1, dtype=np.uint16).astype(np.int64)) & 0xFFFF
    return out


def write_cwa(
    path: Path,
    chunks: Iterable[SampleChunk],
    rate_hz: float = 100.0,
    range_g: int = 8,
    *,
    layout: str = "packed",
    annotation: str = "",
) -> int:
    """Write the samples (streamed, chunk by chunk) as a .cwa; returns the number of blocks."""
    per_block = {"packed": 120, "16bit": 80, "ax6": 40}[layout]
    written = 0
    pending = SampleChunk.empty()
    with open(path, "wb") as handle:
        handle.write(header(rate_hz, range_g, ax6=layout == "ax6", annotation=annotation))
        for chunk in chunks:
            pending = SampleChunk.concat([pending, chunk])
            usable = len(pending) // per_block * per_block
            if usable:
                handle.write(blocks(pending.slice(0, usable), rate_hz, range_g, layout=layout,
                                    first_sequence=written).tobytes())
                written += usable // per_block
                pending = pending.slice(usable, len(pending))
    return written
