"""NPZ recordings (arrays ``t`` float64 and ``xyz`` float32 N x 3), read and written as streams.

Reading opens the ``.npy`` members inside the zip and reads rows chunk by chunk (bounded memory, stored or
compressed). Writing stages the arrays in private temporary files (the length is unknown until the end)
and then stores them in the zip, so a week of samples never sits in memory twice.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_timestamps import (
    EARLIEST_T,
    LATEST_T,
    RecordingError,
    implausible_time,
)


def _npz_problem(path: Path, reason: str) -> RecordingError:
    return RecordingError(path, None, reason)


def _valid_samples(path: Path, t: np.ndarray, xyz: np.ndarray, first: int, last_t: float, on_error, problems):
    """Drop (or raise on) non-finite samples and samples going back in time; returns (chunk, last_t)."""
    t = t.astype(np.float64)
    bad = ~np.isfinite(t) | ~np.isfinite(xyz).all(axis=1) | (t < EARLIEST_T) | (t >= LATEST_T)
    running_max = np.maximum.accumulate(np.concatenate(([last_t], np.where(bad, -np.inf, t))))
    bad |= t < running_max[:-1]
    for index in np.flatnonzero(bad)[: (1 if on_error == "raise" else None)]:
        why = implausible_time(float(t[index])) if np.isfinite(t[index]) else None
        finite = np.isfinite(t[index]) and np.isfinite(xyz[index]).all()
        what = why.replace("timestamp", "time", 1) if why else None
        what = what or (f"time {t[index]:.6f} goes backwards" if finite else "is not finite")
        error = RecordingError(path, None, f"sample {first + index} {what}")
        if on_error == "raise":
            raise error
        if problems is not None:
            problems.append(error)
    keep = ~bad
    if keep.any():
        last_t = max(last_t, float(t[keep][-1]))
    return SampleChunk(t[keep], xyz[keep].astype(np.float32)), last_t


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


def _read_exact(stream, size: int, path: Path, member: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _npz_problem(path, f"{member} is truncated (the file was cut short?)")
    return data


def iter_npz(path: Path, chunk_samples: int, on_error: str, problems) -> Iterator[SampleChunk]:
    """Stream the ``t`` and ``xyz`` arrays of an NPZ chunk by chunk (bounded memory, also compressed)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise _npz_problem(path, f"not a readable NPZ file: {error}") from None
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        missing = [name for name in ("t", "xyz") if name not in members]
        if missing:
            have = ", ".join(members) or "none"
            raise _npz_problem(path, f"missing array(s) {', '.join(missing)} (the file has: {have})")
        try:
            t_stream, t_shape, t_fortran, t_dtype = _open_npy(archive, members["t"], path)
            x_stream, x_shape, x_fortran, x_dtype = _open_npy(archive, members["xyz"], path)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise _npz_problem(path, f"not a readable NPZ file: {error}") from None
        with t_stream, x_stream:
            if len(t_shape) != 1:
                raise _npz_problem(path, f"t must be a 1-D array, got shape {t_shape}")
            if t_dtype != np.float64 and t_dtype.kind not in "iu":
                raise _npz_problem(path, f"t must be float64 epoch seconds, got {t_dtype}")
            if len(x_shape) != 2 or x_shape[1:] != (3,):
                raise _npz_problem(path, f"xyz must have shape (N, 3), got {x_shape}")
            if x_dtype.kind != "f":
                raise _npz_problem(path, f"xyz must be float32 (g), got {x_dtype}")
            if t_shape[0] != x_shape[0]:
                raise _npz_problem(path, f"t has {t_shape[0]} samples but xyz has {x_shape[0]}")
            if x_fortran:  # column-major rows cannot be streamed: rare, load it whole
                with np.load(path, allow_pickle=False) as data:
                    xyz_all = data["xyz"]
            count, last_t, offset = t_shape[0], -math.inf, 0
            try:
                while offset < count:
                    size = min(chunk_samples, count - offset)
                    t = np.frombuffer(
                        _read_exact(t_stream, size * t_dtype.itemsize, path, "t"), dtype=t_dtype
                    )
                    if x_fortran:
                        xyz = xyz_all[offset : offset + size]
                    else:
                        raw = _read_exact(x_stream, size * 3 * x_dtype.itemsize, path, "xyz")
                        xyz = np.frombuffer(raw, dtype=x_dtype).reshape(size, 3)
                    chunk, last_t = _valid_samples(path, t, xyz, offset, last_t, on_error, problems)
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
