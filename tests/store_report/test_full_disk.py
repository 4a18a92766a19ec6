"""A full disk loses nothing already stored, says so once, keeps new data in memory and catches up
(issue 13 item 6).

The disk is real: a 200 KB tmpfs mounted for the test (``mount -t tmpfs -o size=200k``), filled with
a filler file so SQLite's own writes get ENOSPC (``SQLITE_FULL``), as on a laptop's full home folder.
Mounting needs root, which CI and these machines have; the test fails rather than skips without it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sitless import store_backlog
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.store import Store
from tests.alerts.helpers import sitless

START = 1_763_280_000  # Monday 16 November 2026 08:00 UTC


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a 200 KB tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; remove the returned file to give the space back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def office_minutes(rng: np.random.Generator, minutes: int, start: int) -> PostureSeconds:
    """Spells of a few minutes each, as an office day has (not one posture per second)."""
    runs = rng.choice([Posture.SITTING, Posture.STANDING, Posture.WALKING], minutes // 5)
    return PostureSeconds(start, np.repeat(runs, 300).astype(np.int8))


@pytest.mark.fault
def test_a_full_disk_keeps_new_data_in_memory_says_so_once_and_catches_up(
    small_disk: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_backlog, "RETRY_EVERY_S", 0.0)  # retry on every write, not every 2 s
    rng = np.random.default_rng(3)
    parts = [office_minutes(rng, 60, START + 3600 * i) for i in range(4)]
    reference = Store.open(":memory:")
    for part in parts:
        reference.add_postures(part, "thigh")
    db = small_disk / "s.db"
    store = Store.open(db)
    store.add_postures(parts[0], "thigh")
    stored_before = store.spells_between(0, 2**40).tolist()

    filler = fill(small_disk)
    with caplog.at_level(logging.WARNING):
        session = store.start_session("thigh", "test sensor", float(parts[1].start))
        for part in parts[1:3]:
            store.add_postures(part, "thigh")
        store.end_session(session, float(parts[2].end))
        store.save_state("alerts.policy/thigh", {"resume_after": parts[2].end})
        store.outbox_put("p-1", "sitless/x/prompt", '{"id": "p-1"}')
        store.add_prompt("p-1", parts[2].end - 1, 1800.0, 1, "hip flexor stretch")
        waited = store.waiting
    assert caplog.text.count("the disk is full") == 1, caplog.text
    assert "Traceback" not in caplog.text and "free some space" in caplog.text.lower()
    # Whether a write is stored or waits (a checkpoint can free a little WAL space), the daemon sees it
    # all: the resume point, the saved state, the prompt to send.
    assert store.last_posture_second("thigh") == parts[2].end - 1
    assert store.load_state("alerts.policy/thigh") == {"resume_after": parts[2].end}
    assert [m.message_id for m in store.outbox_pending()] == ["p-1"]
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as other:  # nothing stored before is lost
        on_disk = other.execute("SELECT start, end, posture FROM spells ORDER BY start").fetchall()
    assert [list(row) for row in on_disk][: len(stored_before) - 1] == stored_before[:-1]

    filler.unlink()  # space comes back
    with caplog.at_level(logging.WARNING):
        store.add_postures(parts[3], "thigh")
    assert store.waiting is None and "space is back" in caplog.text
    store.close()
    assert waited is not None or "space is back" in caplog.text  # the full disk was met, and survived
    with Store.open(db) as again:
        assert again.spells_between(0, 2**40).tolist() == reference.spells_between(0, 2**40).tolist()
        assert again.minutes_between(0, 2**40)[1].tolist() == reference.minutes_between(0, 2**40)[1].tolist()
        assert again.load_state("alerts.policy/thigh") == {"resume_after": parts[2].end}
        assert [m.message_id for m in again.outbox_pending()] == ["p-1"]
    with sqlite3.connect(db) as check:  # a session begun on the full disk ends where it should
        assert check.execute("SELECT started, ended FROM sessions").fetchall() == [(parts[1].start, parts[2].end)]


@pytest.mark.fault
def test_replay_on_a_full_disk_ends_with_a_clear_message_and_resumes_later(
    small_disk: Path, tmp_path: Path
) -> None:
    from sitless.firmware_bridge.recordings import write_recording
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate

    recording = tmp_path / "day.npz"
    write_recording(
        recording, simulate(SimulationConfig(hours=1, rate_hz=12.5, seed=4, start=float(START))).samples
    )
    db = small_disk / "s.db"
    Store.open(db).close()
    filler = fill(small_disk)
    done = sitless("replay", str(recording), "--store", str(db), timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    (last_line,) = done.stderr.strip().splitlines()[-1:]
    assert "disk" in last_line and "full" in last_line and "free some space" in last_line.lower(), last_line
    filler.unlink()
    with sqlite3.connect(db) as check:  # the store is whole, and holds nothing of the failed replay
        assert check.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert check.execute("SELECT MAX(last_second) FROM sensors").fetchone()[0] is None
    again = sitless("replay", str(recording), "--store", str(db), timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    with sqlite3.connect(db) as check:  # the whole hour (the classifier's last second may be short of it)
        assert check.execute("SELECT MAX(last_second) FROM sensors").fetchone()[0] >= START + 3600 - 3
