"""Polar PMD delta compression: a reference sample, then blocks of bit-packed deltas.

Layout (polar-ble-sdk ``documentation/``, corrected by its own tests, see ``../shared/vectors/README.md``):
``channels`` reference values of ``resolution`` bits (little-endian, rounded up to whole bytes), then
blocks of ``[delta_bits u8][sample_count u8][sample_count * channels * delta_bits bits]``. The bit stream
is read least-significant bit first; each delta is sign-extended from ``delta_bits`` and added to the
previous sample. With 32-bit channels the sums wrap at 32 bits (the SDK adds in a 32-bit int), and
float channels are bit patterns, so their reference is read unsigned.
"""

from __future__ import annotations

import numpy as np

from sitless.firmware_bridge.decoders.base import ProtocolError

FAMILY = "polar"


def parse_reference_sample(
    data: bytes, channels: int, resolution_bits: int, *, signed: bool = True
) -> list[int]:
    """The first (reference) sample of a delta frame: ``channels`` little-endian integers."""
    if channels <= 0 or not 1 <= resolution_bits <= 32:
        raise ProtocolError(FAMILY, f"bad delta layout: {channels} channels x {resolution_bits} bits")
    width = (resolution_bits + 7) // 8
    if len(data) < channels * width:
        raise ProtocolError(
            FAMILY, f"delta frame shorter than its reference sample ({len(data)} bytes)", data
        )
    ref = []
    for i in range(channels):
        value = int.from_bytes(data[i * width : (i + 1) * width], "little", signed=False)
        if signed and value >= 1 << (width * 8 - 1):
            value -= 1 << (width * 8)
        ref.append(value)
    return ref


def _unpack_deltas(block: bytes, count: int, channels: int, bits: int) -> np.ndarray:
    """(count, channels) signed deltas read LSB-first from ``block``."""
    if bits == 0:
        return np.zeros((count, channels), dtype=np.int64)
    stream = np.unpackbits(np.frombuffer(block, dtype=np.uint8), bitorder="little")
    fields = stream[: count * channels * bits].reshape(count * channels, bits).astype(np.int64)
    values = fields @ (np.int64(1) << np.arange(bits, dtype=np.int64))
    values = np.where(values >= (np.int64(1) << (bits - 1)), values - (np.int64(1) << bits), values)
    return values.reshape(count, channels)


def decode_delta_frames(
    data: bytes, channels: int, resolution_bits: int, *, signed: bool = True, allow_empty: bool = False
) -> np.ndarray:
    """All samples of a delta-compressed frame content, as an (N, channels) int64 array.

    ``signed=False`` is the SDK's FLOAT_IEEE754 encoding: reference read unsigned and the result returned
    as unsigned 32-bit patterns (view them as float32 to get the values).
    """
    ref = parse_reference_sample(data, channels, resolution_bits, signed=signed)
    offset = channels * ((resolution_bits + 7) // 8)
    if offset >= len(data) and not allow_empty:
        raise ProtocolError(FAMILY, "delta frame has a reference sample but no delta block", data)
    blocks: list[np.ndarray] = [np.asarray([ref], dtype=np.int64)]
    while offset < len(data):
        if offset + 2 > len(data):
            raise ProtocolError(FAMILY, f"delta block header truncated at byte {offset}", data)
        bits, count = data[offset], data[offset + 1]
        offset += 2
        if bits > 32:
            raise ProtocolError(FAMILY, f"delta width {bits} bits at byte {offset - 2} exceeds 32", data)
        length = (count * channels * bits + 7) // 8
        if offset + length > len(data):
            raise ProtocolError(
                FAMILY,
                f"delta block of {count} samples x {bits} bits needs {length} bytes, "
                f"{len(data) - offset} left",
                data,
            )
        if count:
            blocks.append(_unpack_deltas(data[offset : offset + length], count, channels, bits))
        offset += length
    samples = np.cumsum(np.concatenate(blocks), axis=0)
    if resolution_bits == 32:
        samples &= 0xFFFFFFFF
        if signed:
            samples = np.where(samples >= 1 << 31, samples - (1 << 32), samples)
    return samples
