"""Writing health data to files: private (0600), whole or not at all, and never clobbering what is not a file.

Every output sitless writes (recordings, posture files, reports, calibration) goes through
``private_output``. A regular file is written to a temporary file beside it and renamed into place, so
a crash or Ctrl-C never leaves half a recording under the user's name. A symlink is followed (the link
stays, its target is written); a device or FIFO (``--out /dev/stdout``, a named pipe) is written
directly, because renaming over it would replace the device with a file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class OutputError(OSError):
    """An output that cannot be written; the message names the path the user gave."""


@contextlib.contextmanager
def private_output(path: os.PathLike | str) -> Iterator[BinaryIO]:
    """A binary handle whose content lands at ``path`` (mode 0600) only when the block completes."""
    given = Path(path)
    try:
        mode = os.stat(given).st_mode  # follows symlinks, /dev/stdout -> /proc/self/fd/1 included
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputError(error.errno, error.strerror, str(given)) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(21, "it is a directory", str(given))
    if mode is not None and not stat.S_ISREG(mode):
        with open(given, "wb") as handle:  # a device or FIFO: write through, never replace
            yield handle
        return
    target = Path(os.path.realpath(given))  # a symlink stays; the file it points to is written
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise OutputError(error.errno, error.strerror, str(given)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def same_file(first: os.PathLike | str, second: os.PathLike | str) -> bool:
    """Do two paths name one existing file (through links, ``./`` and the like)?"""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)


def make_private_dirs(directory: os.PathLike | str) -> list[Path]:
    """Create ``directory`` and any missing parents as 0700; return the folders created.

    Only folders sitless creates are made private: an existing one (``~/.local``, a shared project
    folder the user chose) is left as it is. ``Path.mkdir(parents=True)`` would give the parents
    ``0777 & ~umask`` (0777 under ``umask 000``), hence one by one.
    """
    target = Path(directory)
    missing: list[Path] = []
    for folder in (target, *target.parents):
        if os.path.isdir(folder):
            break
        missing.append(folder)
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
            continue
        os.chmod(folder, 0o700)  # a umask such as 0o077 is fine, but one like 0o700 would leave 0000
        created.append(folder)
    return created
