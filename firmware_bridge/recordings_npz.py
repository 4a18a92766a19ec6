"""NPZ recordings (arrays ``t`` float64 and ``xyz`` float32 N x 3), read and written as streams.

Reading opens the ``.npy`` members inside the zip and reads rows chunk by chunk (bounded memory, stored or
compressed). Writing stages the arrays in private temporary files (the length is unknown until the end)
and then stores them in the zip, so a week of samples never sits in memory twice.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import struct
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_checks import (
    MAX_SAMPLES_PER_SECOND,
    SamplesPerSecondGuard,
    block_looks_fine,
)
from sitless.firmware_bridge.recordings_timestamps import (
    EARLIEST_T,
    LATEST_T,
    RecordingError,
    handle_problem,
    implausible_time,
)
from sitless.firmware_bridge.units import UnitGuess, recognise_unit

logger = logging.getLogger(__name__)

#: The unit is recognised from at most this many first samples (the first chunk's, when it was 2**18).
UNIT_SAMPLES = 1 << 18


def _npz_problem(path: Path, reason: str) -> RecordingError:
    return RecordingError(path, None, reason)


class _NpzBlockChecker:
    """The checks of every block: a fast pass (``block_looks_fine``), the precise one only when it fails,
    samples per second bounded, and the unit recognised on the first block (``recognise_unit``)."""

    def __init__(
        self, path: Path, on_error: str, problems: list[RecordingError] | None, unit: UnitGuess | None
    ) -> None:
        self.path = path
        self.on_error = on_error
        self.problems = problems
        self.last_t = -math.inf
        self.per_second = SamplesPerSecondGuard()
        self.unit = unit  # None: recognised from the first block
        if unit is not None and unit.message:
            logger.info("%s: %s", path, unit.message)

    def report(self, index: int, what: str) -> None:
        handle_problem(RecordingError(self.path, None, f"sample {index} {what}"), self.on_error, self.problems)

    def check(self, t: np.ndarray, xyz: np.ndarray, first: int) -> SampleChunk:
        if t.dtype != np.float64:
            t = t.astype(np.float64)
        if not block_looks_fine(t, xyz, self.last_t):
            t, xyz = self._precise(t, xyz, first)
        over = self.per_second.excess(t)
        if over is not None:
            self.report(
                first + int(over[0]),
                f"is one of more than {MAX_SAMPLES_PER_SECOND} samples within the second at "
                f"t={np.floor(t[over[0]]):.0f}; no supported sensor samples that fast: are the "
                "timestamps per sample? (the excess samples were dropped)",
            )
            keep = np.ones(len(t), bool)
            keep[over] = False
            t, xyz = t[keep], xyz[keep]
        if len(t):
            self.last_t = float(t[-1])
            if self.unit is None:  # from the first 2**18 samples at most: the same guess whatever the
                self.unit = recognise_unit(xyz[:UNIT_SAMPLES])  # chunk size (2**19 for the command)
                if self.unit.message:
                    logger.warning("%s: %s", self.path, self.unit.message)
            xyz = self.unit.to_g(xyz)  # a factor of at most 1: finite values stay finite
        # Checked here (finite, in time order), so the classifier skips its own test of the same.
        return SampleChunk(t, xyz, checked=True)

    def _precise(self, t: np.ndarray, xyz: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
        """Drop (or raise on) non-finite samples and samples going back in time, naming each."""
        bad = ~np.isfinite(t) | ~np.isfinite(xyz).all(axis=1) | (t < EARLIEST_T) | (t >= LATEST_T)
        running_max = np.maximum.accumulate(np.concatenate(([self.last_t], np.where(bad, -np.inf, t))))
        bad |= t < running_max[:-1]
        for index in np.flatnonzero(bad)[: (1 if self.on_error == "raise" else None)]:
            why = implausible_time(float(t[index])) if np.isfinite(t[index]) else None
            finite = np.isfinite(t[index]) and np.isfinite(xyz[index]).all()
            what = why.replace("timestamp", "time", 1) if why else None
            self.report(
                first + int(index),
                what or (f"time {t[index]:.6f} goes backwards" if finite else "is not finite"),
            )
        keep = ~bad
        return t[keep], xyz[keep]


def _open_npy(archive: zipfile.ZipFile, member: str, path: Path):
    stream = archive.open(member)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        raise _npz_problem(path, f"{member} holds Python objects; expected numbers")
    return stream, shape, fortran, dtype


def _stored_data(archive: zipfile.ZipFile, member: str, path: Path):
    """A plain file positioned at the array data of a stored (not deflated) member, or None.

    What ``np.savez`` writes is stored, so the array's bytes lie at a fixed offset: reading them with
    ``readinto`` into the block's own array skips zipfile's copy and its CRC-32 pass (0.6 s a week of
    50 Hz, half the whole command's budget). The CRC guards against bytes changed on disk, which the
    file system's own checks and the block checks (timestamps in order, finite values) stand in for.
    """
    info = archive.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # deflated, or encrypted
        return None
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    try:
        handle.seek(info.header_offset)
        local = handle.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise _npz_problem(path, f"{member}: bad zip local header")
        name_length, extra_length = struct.unpack("<2H", local[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        # The header was read and checked through zipfile; read it again only to step over it.
        if np.lib.format.read_magic(handle) == (1, 0):
            np.lib.format.read_array_header_1_0(handle)
        else:
            np.lib.format.read_array_header_2_0(handle)
        return handle
    except BaseException:
        handle.close()
        raise


def _read_block(stream, array: np.ndarray, path: Path, member: str) -> np.ndarray:
    """Fill ``array`` (fresh or reused) with the next block, in native byte order."""
    dtype = array.dtype
    view = memoryview(array).cast("B")
    got = stream.readinto(view) if hasattr(stream, "readinto") else 0
    while got < len(view):
        more = stream.readinto(view[got:])
        if not more:
            raise _npz_problem(path, f"{member} is truncated (the file was cut short?)")
        got += more
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def iter_npz(
    path: Path,
    chunk_samples: int,
    on_error: str,
    problems,
    reuse_buffers: bool | int = False,
    unit: UnitGuess | None = None,
) -> Iterator[SampleChunk]:
    """Stream the ``t`` and ``xyz`` arrays of an NPZ chunk by chunk (bounded memory, also compressed).

    ``reuse_buffers``: read every block into the same two arrays, so a chunk is only valid until the next
    one is asked for (for a consumer that copies what it keeps, like the classifier). Fresh arrays for
    each block cost the kernel's page faults on every one: 0.35 s of the 1.2-s budget for a week. A
    number N instead of True: N pairs of arrays used in turn, so a chunk stays valid until N more are
    asked for (a reader running ahead of its consumer on another thread holds some of them).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise _npz_problem(path, f"not a readable NPZ file: {error}") from None
    with archive, contextlib.ExitStack() as closing:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        missing = [name for name in ("t", "xyz") if name not in members]
        if missing:
            have = ", ".join(members) or "none"
            raise _npz_problem(path, f"missing array(s) {', '.join(missing)} (the file has: {have})")
        try:
            t_stream, t_shape, t_fortran, t_dtype = _open_npy(archive, members["t"], path)
            x_stream, x_shape, x_fortran, x_dtype = _open_npy(archive, members["xyz"], path)
            closing.enter_context(t_stream)
            closing.enter_context(x_stream)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise _npz_problem(path, f"not a readable NPZ file: {error}") from None
        if len(t_shape) != 1:
            raise _npz_problem(path, f"t must be a 1-D array, got shape {t_shape}")
        if t_dtype.kind not in "fiu" or (t_dtype.kind == "f" and t_dtype.itemsize != 8):
            raise _npz_problem(path, f"t must be float64 epoch seconds, got {t_dtype}")
        if len(x_shape) != 2 or x_shape[1:] != (3,):
            raise _npz_problem(path, f"xyz must have shape (N, 3), got {x_shape}")
        if x_dtype.kind != "f":
            raise _npz_problem(path, f"xyz must be float32 (g), got {x_dtype}")
        if t_shape[0] != x_shape[0]:
            raise _npz_problem(path, f"t has {t_shape[0]} samples but xyz has {x_shape[0]}")
        try:
            if x_fortran:  # column-major rows cannot be streamed: rare, load it whole
                with np.load(path, allow_pickle=False) as data:
                    xyz_all = data["xyz"]
            else:
                stored = _stored_data(archive, members["xyz"], path)
                if stored is not None:
                    x_stream = closing.enter_context(stored)
            stored = None if t_fortran else _stored_data(archive, members["t"], path)
            if stored is not None:
                t_stream = closing.enter_context(stored)
            checker = _NpzBlockChecker(path, on_error, problems, unit)
            count, offset = t_shape[0], 0
            size = min(chunk_samples, count)
            turns = int(reuse_buffers)  # 0: fresh arrays for every block
            t_buffers = [np.empty(size, t_dtype) for _ in range(turns)]
            xyz_buffers = [np.empty((size, 3), x_dtype) for _ in range(0 if x_fortran else turns)]
            while offset < count:
                turn = offset // chunk_samples % turns if turns else 0
                size = min(chunk_samples, count - offset)
                t_block = t_buffers[turn][:size] if t_buffers else np.empty(size, t_dtype)
                t = _read_block(t_stream, t_block, path, "t")
                if x_fortran:
                    xyz = xyz_all[offset : offset + size]
                else:
                    xyz_block = xyz_buffers[turn][:size] if xyz_buffers else np.empty((size, 3), x_dtype)
                    xyz = _read_block(x_stream, xyz_block, path, "xyz")
                chunk = checker.check(t, xyz, offset)
                offset += size
                if len(chunk):
                    yield chunk
        except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
            if isinstance(error, RecordingError):
                raise
            raise _npz_problem(path, f"not a readable NPZ file: {error}") from None


def write_npz(handle, chunks: Iterable[SampleChunk], scratch_dir: Path) -> None:
    """Stream chunks into an NPZ (what ``np.savez`` writes) with bounded memory.

    The arrays are staged in two private temporary files (the length is unknown until the end), then
    copied into the zip as ``t.npy`` and ``xyz.npy``.
    """
    import tempfile  # here: reading (what `sitless classify` does) never needs it

    with tempfile.TemporaryFile(dir=scratch_dir) as t_raw, tempfile.TemporaryFile(dir=scratch_dir) as xyz_raw:
        count = 0
        for chunk in chunks:
            t_raw.write(chunk.t.astype("<f8", copy=False).tobytes())
            xyz_raw.write(chunk.xyz.astype("<f4", copy=False).tobytes())
            count += len(chunk)
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, raw, descr, shape in (
                ("t", t_raw, "<f8", (count,)),
                ("xyz", xyz_raw, "<f4", (count, 3)),
            ):
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    header = {"descr": descr, "fortran_order": False, "shape": shape}
                    np.lib.format.write_array_header_1_0(member, header)
                    raw.seek(0)
                    shutil.copyfileobj(raw, member, 1 << 20)
