"""The store's file on disk: is it ours, is it whole, who is using it. Checked before a byte is written.

Why each check comes first:
- A path that is not a store (``ln -s notes.txt l.db``, a typo naming a document) must be left exactly
  as it is: sitless reads its first 16 bytes (the SQLite header, https://sqlite.org/fileformat.html
  section 1.3) and refuses anything else, before any chmod or write.
- A 0-byte file is not a new store: it is an interrupted copy or a truncated backup. A new store is
  built under a temporary name and linked into place whole (``os.link`` fails if the name exists, so
  two processes creating it at once keep one), so sitless itself never leaves an empty store behind.
- ``PRAGMA quick_check`` (https://sqlite.org/pragma.html#pragma_quick_check) finds damaged pages at
  open, where a clear refusal is possible, instead of failing on every chunk later.
- Two daemons on one store publish every prompt twice and knock each other off the broker. The lock is
  ``flock`` on ``<store>.lock`` (as ``systemd`` units and ``apt``'s ``/var/lib/dpkg/lock`` do): the
  kernel drops it when the process ends, even by ``kill -9``, so a stale lock never blocks a restart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shlex
import sqlite3
import stat
from pathlib import Path

from sitless.firmware_bridge.private_files import make_private_dirs

log = logging.getLogger("sitless.store")
SQLITE_HEADER = b"SQLite format 3\x00"
#: Tables every sitless store has (schema version 1 on); a SQLite file without them is someone else's.
OUR_TABLES = frozenset({"sensors", "spells", "minutes", "prompts", "outbox", "state"})


class StoreFileError(Exception):
    """The file cannot be used as a store; the message names it, says why, and what to do."""


def inspect(path: Path) -> bool:
    """True if ``path`` holds a SQLite file, False if nothing is there; anything else is refused.

    Nothing is changed: no chmod, no write, no journal file.
    """
    try:
        info = os.stat(path)  # follows a symlink: a link to a store elsewhere is fine
    except FileNotFoundError:
        if os.path.islink(path):
            raise StoreFileError(
                f"{path}: a symlink to {os.readlink(path)}, which does not exist; sitless does not "
                "create files through a dangling link (fix the link or pass another --store)"
            ) from None
        return False
    except OSError as error:
        raise StoreFileError(f"{path}: cannot read: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreFileError(f"{path}: is a directory; the store is a file (e.g. {path / 'sitless.db'})")
    if not stat.S_ISREG(info.st_mode):
        raise StoreFileError(f"{path}: not a regular file; the store must be a file")
    if info.st_size == 0:
        raise StoreFileError(
            f"{path}: an empty file (0 bytes), not a sitless store: an interrupted copy or a truncated "
            "backup? sitless left it untouched; restore the store from your backup, or delete the empty "
            "file to start a new store"
        )
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StoreFileError(f"{path}: cannot read: {error.strerror}") from None
    if header != SQLITE_HEADER:
        raise StoreFileError(
            f"{path}: not a sitless store (not a SQLite database); sitless left it untouched. "
            "Pass the store with --store or [store] path"
        )
    return True


def check_ours(db: sqlite3.Connection, path: Path, latest: int) -> int:
    """The schema version of a SQLite file that is a sitless store; refuses someone else's database.

    A version above ``latest`` is a newer sitless's file (its tables may differ): the caller refuses it
    with "upgrade sitless".
    """
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > latest:
        return version
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if (version == 0 and tables) or (version > 0 and not tables >= OUR_TABLES):
        listed = ", ".join(sorted(tables)[:5]) or "none"
        raise StoreFileError(
            f"{path}: a SQLite database, but not a sitless store (its tables: {listed}); sitless left it "
            "untouched. Pass the store with --store or [store] path"
        )
    return version


def recovery_advice(path: Path) -> str:
    recovered = path.with_name(path.stem + "-recovered" + path.suffix)
    return (
        "sitless will not read or write it. Restore your backup of it, or salvage what SQLite can still "
        f"read: `sqlite3 {shlex.quote(str(path))} .recover | sqlite3 {shlex.quote(str(recovered))}` (the "
        "sqlite3 tool from sqlite.org has .recover; some distributions build it without), then "
        f"use the recovered file (--store {shlex.quote(str(recovered))} or [store] path). Keep the damaged "
        "file until you are sure nothing more can be saved"
    )


#: SQLite result codes that mean the file itself is bad (https://sqlite.org/rescode.html).
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26


def unreadable(error: sqlite3.Error, path: Path) -> StoreFileError:
    """Damage gets the recovery advice; anything else (a full disk, an I/O error) is not called damage."""
    code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreFileError(f"{path}: the store is damaged ({error}). {recovery_advice(path)}")
    return StoreFileError(f"{path}: cannot read the store ({error}){disk_full_hint(path)}")


def disk_full_hint(path: Path) -> str:
    try:
        space = os.statvfs(path.parent)
    except OSError:
        return ""
    if space.f_bavail * space.f_frsize < 256 * 1024:
        return (
            f": the disk holding it is full ({space.f_bavail * space.f_frsize // 1024} kB free); "
            "free some space and start again (nothing stored is lost)"
        )
    return ""


def quick_check(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged store, with what to do about it."""
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as error:
        raise unreadable(error, path) from None
    if problems != ["ok"]:
        lines = [line for p in problems for line in str(p).splitlines() if not line.startswith("***")]
        detail = "; ".join(lines)[:300]
        raise StoreFileError(f"{path}: the store is damaged ({detail}). {recovery_advice(path)}")


def create_new(path: Path, initialise) -> None:
    """Build a store under a temporary name with ``initialise(connection)`` and link it into place.

    Parent folders that do not exist are created 0700; the file is 0600 from its first byte.
    """
    try:
        make_private_dirs(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
        os.close(fd)
    except OSError as error:
        raise StoreFileError(f"{path}: cannot create the store: {error.strerror}") from None
    try:
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=DELETE")  # one file to link; WAL is switched on later
            initialise(connection)
        finally:
            connection.close()
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            os.link(temporary, path)
    except sqlite3.Error as error:
        raise StoreFileError(f"{path}: cannot create the store: {error}") from None
    except OSError as error:
        raise StoreFileError(f"{path}: cannot create the store: {error.strerror}") from None
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            leftover.unlink(missing_ok=True)


class StoreLock:
    """An exclusive ``flock`` on ``<store>.lock`` holding the owner's PID; see the module docstring."""

    def __init__(self, store_path: Path, purpose: str) -> None:
        self.path = Path(os.path.realpath(store_path) + ".lock")  # two links to one store share a lock
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StoreFileError(f"{self.path}: cannot create the lock file: {error.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = self._holder()
            os.close(self._fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StoreFileError(f"{self.path}: cannot lock: {error.strerror}") from None
            who = f"PID {holder}" if holder else "another process"
            raise StoreFileError(
                f"{store_path}: already in use by another sitless daemon ({who}); two daemons on one "
                f"store would send every prompt twice. Stop that one first (kill {holder or '<pid>'}), "
                "or give this one its own --store and [mqtt] device_id"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {purpose}\n".encode(), 0)

    def _holder(self) -> str:
        try:
            text = os.pread(self._fd, 64, 0).decode(errors="replace")
        except OSError:
            return ""
        first = text.split()[0] if text.split() else ""
        return first if first.isdigit() else ""

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock; the file stays (removing it would race)
            self._fd = -1


def tighten(path: Path) -> None:
    """An existing store that others can read (copied in with a loose umask) is made 0600, with a warning.

    Called only once the file is known to be a sitless store: nothing else of the user's is touched.
    """
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        log.warning("%s: was readable by others (mode %o); set to 0600", path, mode)
        os.chmod(path, 0o600)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (``sqlite3.complete_statement`` knows about comments)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete statement in migration: {pending.strip()[:60]!r}")
    return statements
