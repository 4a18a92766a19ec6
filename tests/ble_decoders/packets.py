"""Builders for well-formed packets, used by the timing and fuzz tests."""

from __future__ import annotations

import struct

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.events import Samples
from sitless.firmware_bridge.decoders.polar_pmd import POLAR_EPOCH_UNIX_S


def polar_raw_frame(last_sample_unix: float, samples_mg: np.ndarray) -> bytes:
    """A PMD ACC frame type 1 (int16 milli-g) whose last sample is at ``last_sample_unix``."""
    ns = round((last_sample_unix - POLAR_EPOCH_UNIX_S) * 1e9)
    body = np.asarray(samples_mg, dtype="<i2").tobytes()
    return bytes([0x02]) + ns.to_bytes(8, "little") + bytes([0x01]) + body


def movesense_data(ref: int, device_ms: int, samples_ms2: np.ndarray) -> bytes:
    return (
        bytes([0x02, ref])
        + struct.pack("<I", device_ms % (1 << 32))
        + np.asarray(samples_ms2, "<f4").tobytes()
    )


def witmotion_packet(acc_raw: tuple[int, int, int]) -> bytes:
    return b"\x55\x61" + struct.pack("<9h", *acc_raw, 0, 0, 0, 0, 0, 0)


def samples_of(events: list) -> SampleChunk:
    """The samples among a decoder's events (what most tests look at), as one chunk."""
    chunks = [event.chunk for event in events if isinstance(event, Samples)]
    return SampleChunk.concat(chunks) if chunks else SampleChunk.empty()
