"""Recording files: CSV (``timestamp,x,y,z``) and NPZ (arrays ``t`` and ``xyz``), read and written fast.

CSV timestamps are epoch seconds (float) or ISO-8601 with ``Z`` or an offset (``+01:00``); a naive ISO
time is rejected because it is ambiguous (local time? UTC?) and a wrong guess shifts every posture by
hours. Accelerations are in g.

Reading is strict by default: the first problem raises ``RecordingError`` naming the file and line
("day.csv line 17: z is 'abc', not a number"). With ``on_error="skip"`` bad rows are skipped and each
problem is appended to the ``problems`` list the caller passes, so the CLI can warn: nothing is dropped
silently. Blocks of rows are parsed with numpy's C parser; only a block that fails is re-read line by
line, to find and name the bad line.

Files are written to a temporary file then renamed (no half-written recording under the final name),
with mode 0600 (health data).
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from analysis.samples import SampleChunk

HEADER = "timestamp,x,y,z"
COLUMNS = ("timestamp", "x", "y", "z")
ON_ERROR = ("raise", "skip")


class RecordingError(ValueError):
    """A recording file that cannot be read as it is; ``path`` and ``line`` (None for NPZ) say where."""

    def __init__(self, path: os.PathLike | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path} line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


# ---- timestamps --------------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})?")


class _TimestampParser:
    """Epoch floats or ISO-8601 with a zone; caches the whole-second part (consecutive rows share it)."""

    def __init__(self) -> None:
        self._prefix: tuple | None = None
        self._base = 0.0

    def __call__(self, text: str) -> float:
        text = text.strip()
        match = _ISO.fullmatch(text)
        if match is None:
            if "T" in text or ":" in text:
                raise ValueError(f"timestamp {text!r} is not ISO-8601 like 2026-11-16T08:00:00.020Z")
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"timestamp {text!r} is neither epoch seconds nor ISO-8601 like 2026-11-16T08:00:00Z"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"timestamp is {text!r}, not a finite number")
            return value
        year, month, day, hour, minute, second, frac, zone = match.groups()
        if zone is None:
            raise ValueError(
                f"timestamp {text!r} has no time zone (ambiguous); add Z for UTC or an offset like +01:00"
            )
        prefix = (year, month, day, hour, minute, second, zone)
        if prefix != self._prefix:
            if zone in ("Z", "z"):
                tz = UTC
            else:
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
            try:
                moment = datetime(
                    int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
                )
            except ValueError as error:
                raise ValueError(f"timestamp {text!r} is not a valid date/time: {error}") from None
            self._base = moment.timestamp()
            self._prefix = prefix
        return self._base + (float(frac) if frac else 0.0)


def _fast_iso_times(text: str) -> np.ndarray | None:
    """Vectorised ISO-8601 column parse; None if any row lacks a zone or is unusual (slow path decides)."""
    stamps = np.loadtxt(io.StringIO(text), delimiter=",", dtype="U40", usecols=0, comments=None, ndmin=1)
    utc = np.char.endswith(stamps, "Z")
    offsets = np.zeros(len(stamps), dtype=np.int64)
    if utc.all():
        bare = np.char.rstrip(stamps, "Z")
    else:
        bare_list = []
        for i, stamp in enumerate(stamps.tolist()):
            if stamp.endswith("Z"):
                bare_list.append(stamp[:-1])
                continue
            zone = stamp[-6:]
            if (
                len(zone) != 6
                or zone[0] not in "+-"
                or zone[3] != ":"
                or not (zone[1:3] + zone[4:]).isdigit()
            ):
                return None
            offsets[i] = (-1 if zone[0] == "-" else 1) * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
            bare_list.append(stamp[:-6])
        bare = np.array(bare_list)
    if np.char.find(bare, "T").min() != 10 or (np.char.str_len(bare) < 19).any():
        return None
    micros = bare.astype("datetime64[us]").astype(np.int64)
    return micros / 1e6 - offsets


def parse_timestamp(text: str) -> float:
    """Epoch seconds from an epoch string or ISO-8601 with zone; ValueError says what was wrong."""
    return _TimestampParser()(text)


# ---- reading -----------------------------------------------------------------------------------


class _CsvBlockReader:
    def __init__(self, path: Path, on_error: str, problems: list[RecordingError] | None) -> None:
        self.path = path
        self.on_error = on_error
        self.problems = problems
        self.last_t = -math.inf
        self.last_line = 0
        self.parse_time = _TimestampParser()
        self.iso: bool | None = None

    def problem(self, line: int, reason: str) -> None:
        error = RecordingError(self.path, line, reason)
        if self.on_error == "raise":
            raise error
        if self.problems is not None:
            self.problems.append(error)

    def fast(self, lines: list[bytes]) -> SampleChunk | None:
        """Vectorised parse of epoch rows; None when anything is off (the slow path then names the line)."""
        if self.iso is None:
            first = lines[0].split(b",", 1)[0]
            self.iso = b"T" in first or b":" in first or b"-" in first[1:]
        try:
            text = b"".join(lines).decode("ascii")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if text.count(",") != 3 * len(lines):
                    return None
                if self.iso:
                    t = _fast_iso_times(text)
                    axes = np.loadtxt(
                        io.StringIO(text),
                        delimiter=",",
                        dtype=np.float64,
                        comments=None,
                        ndmin=2,
                        usecols=(1, 2, 3),
                    )
                    table = np.column_stack([np.zeros(len(axes)), axes])
                else:
                    table = np.loadtxt(
                        io.StringIO(text), delimiter=",", dtype=np.float64, comments=None, ndmin=2
                    )
                    t = table[:, 0]
        except (ValueError, UnicodeDecodeError):
            return None
        if (
            t is None
            or table.shape != (len(lines), 4)
            or len(t) != len(lines)
            or not np.isfinite(table).all()
        ):
            return None
        if t[0] < self.last_t or (len(t) > 1 and (np.diff(t) < 0).any()):
            return None
        self.last_t = float(t[-1])
        return SampleChunk(t, table[:, 1:].astype(np.float32))

    def slow(self, lines: list[bytes], first_line: int, at_eof: bool) -> SampleChunk:
        ts: list[float] = []
        rows: list[tuple[float, float, float]] = []
        last_index = len(lines) - 1
        for i, raw in enumerate(lines):
            line_no = first_line + i
            truncated = at_eof and i == last_index and not raw.endswith(b"\n")
            try:
                t, xyz = self._parse_line(raw)
            except ValueError as error:
                reason = str(error)
                if truncated:
                    reason = f"truncated last line (the file ends mid-row?): {reason}"
                self.problem(line_no, reason)
                continue
            if t is None:
                continue  # an empty line
            if t < self.last_t:
                self.problem(
                    line_no,
                    f"timestamp {t:.6f} goes backwards (the previous row, line {self.last_line}, was "
                    f"{self.last_t:.6f}); recordings must be in time order",
                )
                continue
            self.last_t, self.last_line = t, line_no
            ts.append(t)
            rows.append(xyz)
        if not ts:
            return SampleChunk.empty()
        return SampleChunk(np.array(ts), np.array(rows, dtype=np.float32).reshape(-1, 3))

    def _parse_line(self, raw: bytes) -> tuple[float | None, tuple[float, float, float]]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
        line = line.rstrip("\r\n")
        if not line:
            return None, (0.0, 0.0, 0.0)
        fields = line.split(",")
        if len(fields) != 4:
            raise ValueError(f"expected 4 columns (timestamp,x,y,z), found {len(fields)}: {line[:80]!r}")
        t = self.parse_time(fields[0])
        values = []
        for name, text in zip(COLUMNS[1:], fields[1:], strict=True):
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name} is {text.strip()!r}, not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{name} is {text.strip()!r}, not a finite number")
            values.append(value)
        return t, (values[0], values[1], values[2])


def _check_header(path: Path, first: bytes) -> None:
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    if not first:
        raise RecordingError(path, 1, f"empty file; expected the header {HEADER!r}")
    if text.replace(" ", "").lower() != HEADER:
        raise RecordingError(path, 1, f"header is {text[:80]!r}; expected exactly {HEADER!r}")


def _iter_csv(
    path: Path, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    reader = _CsvBlockReader(path, on_error, problems)
    try:
        handle = path.open("rb")
    except OSError as error:
        raise RecordingError(path, None, f"cannot read: {error.strerror}") from None
    with handle:
        _check_header(path, handle.readline())
        line_no = 1
        while True:
            lines = list(itertools.islice(handle, chunk_samples))
            if not lines:
                return
            first_line = line_no + 1
            line_no += len(lines)
            at_eof = not lines[-1].endswith(b"\n")
            chunk = reader.fast(lines)
            if chunk is None:
                chunk = reader.slow(lines, first_line, at_eof)
            if len(chunk):
                yield chunk


def _npz_problem(path: Path, reason: str) -> RecordingError:
    return RecordingError(path, None, reason)


def _valid_samples(path: Path, t: np.ndarray, xyz: np.ndarray, first: int, last_t: float, on_error, problems):
    """Drop (or raise on) non-finite samples and samples going back in time; returns (chunk, last_t)."""
    t = t.astype(np.float64)
    bad = ~np.isfinite(t) | ~np.isfinite(xyz).all(axis=1)
    running_max = np.maximum.accumulate(np.concatenate(([last_t], np.where(bad, -np.inf, t))))
    bad |= t < running_max[:-1]
    for index in np.flatnonzero(bad)[: (1 if on_error == "raise" else None)]:
        finite = np.isfinite(t[index]) and np.isfinite(xyz[index]).all()
        what = f"time {t[index]:.6f} goes backwards" if finite else "is not finite"
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


def _iter_npz(path: Path, chunk_samples: int, on_error: str, problems) -> Iterator[SampleChunk]:
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


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise RecordingError(
            path, None, f"unknown recording format {suffix or '(no suffix)'!r}; use .csv or .npz"
        )
    return suffix[1:]


def iter_recording(
    path: os.PathLike | str,
    chunk_samples: int = 1 << 16,
    *,
    on_error: str = "raise",
    problems: list[RecordingError] | None = None,
) -> Iterator[SampleChunk]:
    """Chunks of at most ``chunk_samples`` samples, in file order (bounded memory for CSV)."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    path = Path(path)
    kind = _kind(path)
    if not path.exists():
        raise RecordingError(path, None, "no such file")
    if kind == "csv":
        yield from _iter_csv(path, max(1, int(chunk_samples)), on_error, problems)
    else:
        yield from _iter_npz(path, max(1, int(chunk_samples)), on_error, problems)


def read_recording(
    path: os.PathLike | str, *, on_error: str = "raise", problems: list[RecordingError] | None = None
) -> SampleChunk:
    """The whole recording (.csv or .npz by suffix). See the module docstring for ``on_error``."""
    path = Path(path)
    whole_npz = 1 << 62  # one chunk: no concatenation copy of a big array
    chunks = list(
        iter_recording(
            path, whole_npz if _kind(path) == "npz" else 1 << 18, on_error=on_error, problems=problems
        )
    )
    return chunks[0] if len(chunks) == 1 else SampleChunk.concat(chunks)


def read_recording_with_problems(path: os.PathLike | str) -> tuple[SampleChunk, list[RecordingError]]:
    """Lenient read: the good rows, and every problem found (for a CLI warning)."""
    problems: list[RecordingError] = []
    return read_recording(path, on_error="skip", problems=problems), problems


# ---- writing -----------------------------------------------------------------------------------

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_SKIP = ord("#")


def _digits(values: np.ndarray, width: int, pad_leading: bool) -> np.ndarray:
    """(N, width) ASCII digits of non-negative ints; leading zeros become '#' (deleted later) if asked."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for column in range(width - 1, -1, -1):
        out[:, column] = _DIGITS[rest % 10]
        rest //= 10
    if pad_leading:
        for column in range(width - 1):
            out[:, column] = np.where(values < 10 ** (width - 1 - column), _SKIP, out[:, column])
    return out


def _format_axes(xyz: np.ndarray) -> np.ndarray:
    """(N, 3 * 9) bytes ',<sign><d>.<5 decimals>' per axis; values must be within +-9.99999."""
    parts = []
    for axis in range(3):
        v = xyz[:, axis].astype(np.float64)
        q = np.rint(np.abs(v) * 1e5).astype(np.int64)
        sign = np.where((v < 0) & (q > 0), ord("-"), _SKIP).astype(np.uint8)
        parts += [
            np.full((len(v), 1), ord(","), np.uint8),
            sign[:, None],
            _digits(q // 100000, 1, False),
            np.full((len(v), 1), ord("."), np.uint8),
            _digits(q % 100000, 5, False),
        ]
    return np.hstack(parts)


def format_csv_rows(chunk: SampleChunk, iso: bool = False) -> bytes:
    """CSV rows (no header) for a chunk: epoch seconds with 6 decimals, or ISO-8601 UTC with ms."""
    if not len(chunk):
        return b""
    t, xyz = chunk.t, chunk.xyz
    fast = np.isfinite(t).all() and t.min() >= 0 and t.max() < 1e10 and (np.abs(xyz) < 9.999995).all()
    if not fast:
        stamp = (
            (
                lambda v: (
                    datetime.fromtimestamp(v, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                )
            )
            if iso
            else (lambda v: f"{v:.6f}")
        )
        return "".join(
            f"{stamp(float(a))},{b:.6f},{c:.6f},{d:.6f}\n"
            for a, (b, c, d) in zip(t, xyz.tolist(), strict=True)
        ).encode()
    if iso:
        millis = np.rint(t * 1e3).astype(np.int64).astype("datetime64[ms]")
        text = np.char.add(np.datetime_as_string(millis, unit="ms"), "Z").astype("S24")
        stamp = text.view(np.uint8).reshape(len(t), 24)
    else:
        micros = np.rint(t * 1e6).astype(np.int64)
        stamp = np.hstack(
            [
                _digits(micros // 1_000_000, 10, True),
                np.full((len(t), 1), ord("."), np.uint8),
                _digits(micros % 1_000_000, 6, False),
            ]
        )
    table = np.hstack([stamp, _format_axes(xyz), np.full((len(t), 1), ord("\n"), np.uint8)])
    return table.tobytes().translate(None, b"#")


def _open_private(path: Path):
    """A temporary file next to ``path`` with mode 0600 (renamed into place when complete)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return temporary, os.fdopen(fd, "wb")


def _write_npz(handle, chunks: Iterable[SampleChunk], scratch_dir: Path) -> None:
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


def write_recording(
    path: os.PathLike | str, samples: SampleChunk | Iterable[SampleChunk], *, iso: bool = False
) -> None:
    """Write ``samples`` (one chunk or an iterable, streamed for CSV) to a .csv or .npz file."""
    path = Path(path)
    kind = _kind(path)
    chunks: Iterable[SampleChunk] = [samples] if isinstance(samples, SampleChunk) else samples
    temporary, handle = _open_private(path)
    try:
        with handle:
            if kind == "csv":
                handle.write((HEADER + "\n").encode())
                for chunk in chunks:
                    for piece in chunk.split(1 << 18):
                        handle.write(format_csv_rows(piece, iso=iso))
            else:
                _write_npz(handle, chunks, path.parent)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
