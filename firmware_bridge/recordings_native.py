"""Which kind of recording a file is, from its content (not only its name), and the native readers.

Research devices' files are recognised by their first bytes: a CWA starts with its ``MD`` header block,
a GT3X is a zip holding ``log.bin``, an NPZ a zip holding ``t.npy``, a GENEActiv .bin starts with
``Device Identity``, an ActiLife export with ``------------ Data File Created By ActiGraph``. A file named
.csv that is really a CWA is read as a CWA; a file named .cwa that is not one gets a message naming the
file and the offset. Every native format states its unit (g; calibrated counts per g for the GT3X and
GENEActiv), so no unit guess is needed for them.
"""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings_gzip import GZIP_MAGIC
from sitless.firmware_bridge.recordings_timestamps import RecordingError

NATIVE = ("cwa", "gt3x", "geneactiv", "actilife")
#: Suffixes whose files are searched for in a study's folder (``sitless classify DIR``); device files
#: may also be gzip-compressed (``.cwa.gz``, ``.bin.gz``, ``.csv.gz`` for ActiLife exports).
RECORDING_SUFFIXES = (".csv", ".npz", ".cwa", ".gt3x", ".bin")
COMPRESSED_SUFFIXES = (".cwa.gz", ".bin.gz", ".csv.gz")


def looks_like_recording(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(RECORDING_SUFFIXES) or lowered.endswith(COMPRESSED_SUFFIXES)
_NAMES = {
    "cwa": "Axivity CWA",
    "gt3x": "ActiGraph GT3X",
    "geneactiv": "GENEActiv .bin",
    "actilife": "ActiLife raw CSV",
    "csv": "sitless CSV",
    "npz": "sitless NPZ",
}


def sniff_format(path: os.PathLike | str) -> str:
    """One of ``cwa gt3x geneactiv actilife csv npz`` from the content; ``RecordingError`` if none fits."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except FileNotFoundError:
        raise RecordingError(path, None, "no such file") from None
    except OSError as error:
        raise RecordingError(path, None, f"cannot read: {error.strerror}") from None
    suffix = path.suffix.lower()
    compressed = head[:2] == GZIP_MAGIC
    if compressed:  # x.cwa.gz: what counts is the decompressed content (and the name under the .gz)
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(64)
        except (OSError, EOFError) as error:
            raise RecordingError(path, None, f"byte 0: a damaged gzip file ({error})") from None
        suffix = Path(path.stem).suffix.lower()
        kind = _sniff_content(path, head, suffix, inside_gzip=True)
        if kind not in ("cwa", "geneactiv", "actilife"):
            raise RecordingError(
                path, None, f"a gzip-compressed {_NAMES[kind]} file: decompress it first (gunzip -k {path.name})"
            )
        return kind
    return _sniff_content(path, head, suffix, inside_gzip=False)


def _sniff_content(path: Path, head: bytes, suffix: str, *, inside_gzip: bool) -> str:
    if head[:2] == b"MD" and len(head) >= 4 and int.from_bytes(head[2:4], "little") == 1020:
        return "cwa"
    if head.startswith(b"PK\x03\x04"):
        if inside_gzip:
            return "gt3x" if suffix == ".gt3x" else "npz"
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise RecordingError(path, None, f"byte 0: a damaged zip file ({error})") from None
        if names & {"log.bin", "activity.bin"}:
            return "gt3x"
        if names & {"t.npy", "xyz.npy"} or suffix == ".npz":
            return "npz"
        raise RecordingError(path, None, f"a zip file that is neither GT3X nor NPZ (it has {sorted(names)[:5]})")
    if head.startswith(b"Device Identity"):
        return "geneactiv"
    if head.startswith(b"------------ Data File Created By ActiGraph"):
        return "actilife"
    if suffix == ".cwa":
        raise RecordingError(path, None, f"byte 0: {head[:4]!r} is not a CWA header ('MD', length 1020)")
    if suffix == ".gt3x":
        raise RecordingError(path, None, f"byte 0: {head[:4]!r} is not a GT3X file (a zip starts with 'PK')")
    if suffix == ".bin":
        raise RecordingError(path, None, f"byte 0: {head[:16]!r} is not a GENEActiv .bin ('Device Identity')")
    if suffix in (".csv", ".npz"):
        return suffix[1:]
    raise RecordingError(
        path,
        None,
        f"unknown recording format {suffix or '(no suffix)'!r}: sitless reads .csv, .npz, Axivity .cwa, "
        "ActiGraph .gt3x and ActiLife CSV, GENEActiv .bin",
    )


#: Samples per byte of file, roughly, for a progress bar's total (CWA: 120 in a 512-byte block; GENEActiv:
#: 300 in a page of about 3,750 bytes; GT3X: zip-compressed 12-bit records; CSV rows about 40 bytes).
SAMPLES_PER_BYTE = {"cwa": 120 / 512, "geneactiv": 300 / 3750, "gt3x": 1 / 3, "actilife": 1 / 22, "csv": 1 / 40,
                    "npz": 1 / 20}


def iter_native(
    path: Path, kind: str, chunk_samples: int, on_error: str, problems: list[RecordingError] | None
) -> Iterator[SampleChunk]:
    if kind == "cwa":
        from sitless.firmware_bridge.recordings_cwa import iter_cwa as reader
    elif kind == "gt3x":
        from sitless.firmware_bridge.recordings_gt3x import iter_gt3x as reader
    elif kind == "geneactiv":
        from sitless.firmware_bridge.recordings_geneactiv import iter_geneactiv as reader
    else:
        from sitless.firmware_bridge.recordings_actilife import iter_actilife as reader
    try:
        yield from reader(path, chunk_samples, on_error, problems)
    except (OSError, zipfile.BadZipFile, EOFError) as error:  # a file cut short inside a zip, a read error
        raise RecordingError(path, None, f"cannot read the {_NAMES[kind]} file: {error}") from None


@dataclass
class DeviceInfo:
    """What a file says about the device and the wearer (for ``sitless convert`` and the cohort table)."""

    format: str
    device: str
    serial: str
    rate_hz: float | None
    body_location: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def device_info(path: os.PathLike | str) -> DeviceInfo:
    path = Path(path)
    kind = sniff_format(path)
    if kind == "cwa":
        from sitless.firmware_bridge.recordings_cwa import read_cwa_info

        cwa = read_cwa_info(path)
        return DeviceInfo(_NAMES[kind], cwa.device, str(cwa.device_id), cwa.rate_hz, cwa.body_location)
    if kind == "gt3x":
        from sitless.firmware_bridge.recordings_gt3x import read_gt3x_info

        gt3x = read_gt3x_info(path)
        return DeviceInfo(_NAMES[kind], gt3x.device, gt3x.serial, gt3x.rate_hz, gt3x.body_location)
    if kind == "geneactiv":
        from sitless.firmware_bridge.recordings_geneactiv import read_geneactiv_info

        gene = read_geneactiv_info(path)
        return DeviceInfo(_NAMES[kind], gene.model, gene.serial, gene.rate_hz, gene.body_location)
    if kind == "actilife":
        from sitless.firmware_bridge.recordings_actilife import read_actilife_header

        header = read_actilife_header(path)
        return DeviceInfo(_NAMES[kind], header["device"], header["serial"], header["rate_hz"], None)
    return DeviceInfo(_NAMES[kind], "", "", None, None)
