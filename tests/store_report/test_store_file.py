"""The store's file is checked before anything is written: it must be ours, whole, and not in use.

Each test reproduces an item of issue 13 (5: two daemons, 7: damaged pages and empty files, 8: symlinks,
foreign files, a read-only report, private parent folders) against real files and real processes.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.store import Store, StoreError
from sitless.store_schema import LATEST_VERSION, MIGRATIONS
from tests.alerts.helpers import sitless, sitless_command


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def filled_store(path: Path, hours: int = 12) -> None:
    """A store with some hours of alternating postures (a few hundred pages)."""
    rng = np.random.default_rng(5)
    codes = np.repeat(rng.choice([Posture.SITTING, Posture.STANDING, Posture.WALKING], hours * 60), 60)
    with Store.open(path) as store:
        store.add_postures(PostureSeconds(1_700_000_000, codes.astype(np.int8)))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def wait_for_lock_holder(store: Path, pid: int, timeout: float = 30.0) -> None:
    lock = Path(f"{store}.lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().split()[:1] == [str(pid)]:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} never took the store lock {lock}")


# ------------------------------------------------------------------ item 5: one daemon per store
@pytest.mark.fault
def test_a_second_daemon_on_the_same_store_refuses_and_names_the_first_ones_pid(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    env = {k: v for k, v in os.environ.items() if k != "SITLESS_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    daemon = lambda: subprocess.Popen(  # noqa: E731
        sitless_command("run", "--simulate", "--store", str(db)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    first = daemon()
    try:
        wait_for_lock_holder(db, first.pid)
        second = sitless("run", "--simulate", "--store", str(db), timeout=60, env=env)
        assert second.returncode == 2, second.stderr
        assert f"PID {first.pid}" in second.stderr and "Traceback" not in second.stderr
        assert first.poll() is None, "the first daemon must keep running"
        first.send_signal(signal.SIGKILL)  # the kernel drops the lock with the process, even on kill -9
        first.wait(10)
        third = daemon()
        try:
            wait_for_lock_holder(db, third.pid)  # a restart after kill -9 is not blocked by a stale lock
            assert third.poll() is None
        finally:
            third.kill()
    finally:
        first.kill()
        first.wait(10)


def test_two_names_for_one_store_share_its_lock(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    (tmp_path / "link.db").symlink_to(db)
    with Store.open(db, lock="test") as store:
        assert store.last_posture_second() is None
        with pytest.raises(
            StoreError, match=f"already in use by another sitless daemon \\(PID {os.getpid()}\\)"
        ):
            Store.open(tmp_path / "link.db", lock="second")
    with Store.open(tmp_path / "link.db", lock="after close"):
        pass


# ------------------------------------------------------------------ item 7: damaged and empty stores
@pytest.mark.fault
def test_a_store_with_damaged_pages_is_refused_on_open_with_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    filled_store(db)
    page = 4096
    assert db.stat().st_size > 12 * page
    with db.open("r+b") as handle:  # random bytes over pages 5-10, as in the issue
        handle.seek(4 * page)
        handle.write(np.random.default_rng(1).bytes(6 * page))
    before = digest(db)
    with pytest.raises(StoreError, match=r"the store is damaged .*\.recover") as caught:
        Store.open(db)
    assert "sqlite3" in str(caught.value) and "backup" in str(caught.value)
    report = sitless("report", "--store", str(db), timeout=60)
    assert report.returncode == 2 and "damaged" in report.stderr and "Traceback" not in report.stderr
    assert digest(db) == before, "a damaged store must not be written to"

    recovered = tmp_path / "s-recovered.db"
    assert f"sqlite3 {db} .recover | sqlite3 {recovered}" in " ".join(str(caught.value).split())


@pytest.mark.fault
def test_an_empty_file_is_not_taken_as_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.touch(mode=0o644)
    with pytest.raises(StoreError, match=r"an empty file \(0 bytes\), not a sitless store"):
        Store.open(db)
    assert db.stat().st_size == 0 and mode_of(db) == 0o644


def test_a_new_store_appears_whole_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store.open(db) as store:
        assert store.schema_version() == LATEST_VERSION
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("s.db-")) == ["s.db"]


# ------------------------------------------------------------------ item 8: not ours, read-only, folders
@pytest.mark.fault
@pytest.mark.parametrize(("content", "command"), [(b"my notes\n", "report"), (b"", "replay")])
def test_a_symlink_to_a_file_that_is_no_store_is_left_untouched(
    tmp_path: Path, content: bytes, command: str
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(content)
    notes.chmod(0o644)
    (tmp_path / "l.db").symlink_to("notes.txt")
    (tmp_path / "day.csv").touch()
    args = ("replay", str(tmp_path / "day.csv")) if command == "replay" else ("report",)
    result = sitless(*args, "--store", str(tmp_path / "l.db"), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "not a sitless store" in result.stderr
    with pytest.raises(StoreError, match="not a sitless store"):
        Store.open(tmp_path / "l.db")
    assert notes.read_bytes() == content and mode_of(notes) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv", "l.db", "notes.txt"]


@pytest.mark.fault
def test_someone_elses_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE contacts(name TEXT)")
    other.chmod(0o644)
    before = digest(other)
    with pytest.raises(StoreError, match=r"not a sitless store \(its tables: contacts\)"):
        Store.open(other)
    assert digest(other) == before and mode_of(other) == 0o644


def test_report_never_creates_or_upgrades_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = sitless("report", "--store", str(missing), timeout=60)
    assert result.returncode == 2 and "no store at" in result.stderr
    assert not missing.exists()
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("PRAGMA user_version=1")
    before = digest(old)
    result = sitless("report", "--store", str(old), timeout=60)
    assert result.returncode == 2 and "older sitless" in result.stderr, result.stderr
    assert digest(old) == before
    with pytest.raises(StoreError, match="no store at"):
        Store.open(missing, create=False, migrate=False)


def test_folders_sitless_creates_are_private_and_existing_ones_are_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    script = "import os; os.umask(0); from sitless.store import StoreSettings, Store; Store.open(StoreSettings().resolved_path()).close()"
    subprocess.run([sitless_command()[0], "-c", script], env=env, check=True, timeout=60)
    assert mode_of(home) == 0o755
    for folder in (home / ".local", home / ".local" / "share", home / ".local" / "share" / "sitless"):
        assert mode_of(folder) == 0o700, f"{folder} is {oct(mode_of(folder))}"
    assert mode_of(home / ".local" / "share" / "sitless" / "sitless.db") == 0o600
