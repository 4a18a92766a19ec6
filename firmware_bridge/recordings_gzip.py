"""Device files as studies store them: plain, or gzip-compressed (UK Biobank ships ``.cwa.gz``).

The native readers only read forwards, so a compressed file streams through ``gzip`` in bounded memory
with no temporary copy; its format is still recognised from the decompressed content.
"""

from __future__ import annotations

import gzip
import os
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: os.PathLike | str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_recording(path: os.PathLike | str) -> BinaryIO:
    """A binary reader of the file's content, decompressing a gzip file on the fly."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")
