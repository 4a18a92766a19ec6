"""The store keeps health data private, survives crashes and replays, and upgrades old files in place."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.config import Config
from sitless.store import Store, StoreError, StoreSettings
from sitless.store_schema import LATEST_VERSION, MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]


def codes(*runs: tuple[Posture, int]) -> np.ndarray:
    return np.concatenate([np.full(n, p, np.int8) for p, n in runs])


def test_new_store_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "private" / "data" / "sitless.db"
    store = Store.open(path)
    store.add_postures(PostureSeconds(1000, codes((Posture.SITTING, 10))))
    for name in ("sitless.db", "sitless.db-wal", "sitless.db-shm"):
        mode = stat.S_IMODE(os.stat(path.parent / name).st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION


def test_an_existing_store_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "sitless.db"
    Store.open(path).close()
    path.chmod(0o644)
    Store.open(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_invalid_posture_code_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        with pytest.raises(ValueError, match="posture code 9"):
            store.add_postures(PostureSeconds(0, np.array([2, 2, 9], np.int8)))
        assert store.last_posture_second() is None and len(store.spells_between(0, 100)) == 0


def test_postures_become_spells_that_continue_across_calls_and_per_minute_seconds(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.add_postures(PostureSeconds(600, codes((Posture.SITTING, 90), (Posture.STANDING, 30))))
        store.add_postures(
            PostureSeconds(720, codes((Posture.STANDING, 30), (Posture.UNKNOWN, 10), (Posture.SITTING, 5)))
        )
        spells = store.spells_between(0, 10_000).tolist()
        assert spells == [
            [600, 690, Posture.SITTING],
            [690, 750, Posture.STANDING],
            [760, 765, Posture.SITTING],
        ]
        minutes, table = store.minutes_between(0, 10_000)
        assert minutes.tolist() == [600, 660, 720]
        assert table[:, Posture.SITTING].tolist() == [60, 30, 5]
        assert table[:, Posture.STANDING].tolist() == [0, 30, 30]
        assert store.last_posture_second() == 764


def test_replaying_the_same_seconds_after_a_crash_changes_nothing(tmp_path: Path) -> None:
    day = PostureSeconds(3600, codes((Posture.SITTING, 1800), (Posture.WALKING, 120), (Posture.SITTING, 900)))
    with Store.open(tmp_path / "s.db") as store:
        store.add_postures(day)
        before = (store.spells_between(0, 10**6).tolist(), store.minutes_between(0, 10**6)[1].tolist())
        store.add_postures(day)  # the whole thing again
        store.add_postures(PostureSeconds(3600 + 1000, day.codes[1000:2000]))  # an overlapping part
        after = (store.spells_between(0, 10**6).tolist(), store.minutes_between(0, 10**6)[1].tolist())
    assert after == before


def test_spells_straddling_the_query_start_are_found(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.add_postures(PostureSeconds(0, codes((Posture.NONWEAR, 5 * 86400), (Posture.SITTING, 60))))
        assert store.spells_between(86400, 86400 + 10).tolist() == [[0, 5 * 86400, Posture.NONWEAR]]


def test_outbox_state_and_prompts_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.outbox_put("m1", "sitless/d/prompt", '{"id": "m1"}')
        store.outbox_put("m2", "sitless/d/state", "{}", qos=0, retain=True)
        store.outbox_put("m1", "sitless/d/prompt", "duplicate")  # same id: stored once
        store.save_state("spell", {"posture": "sitting", "since": 1234.5})
        store.add_prompt("p1", 5000.0, 1800.0, 1, "couch stretch")
        store.set_prompt_outcome("p1", 75.0)
    with Store.open(path) as store:
        pending = store.outbox_pending()
        assert [(m.message_id, m.payload, m.qos, m.retain) for m in pending] == [
            ("m1", '{"id": "m1"}', 1, False),
            ("m2", "{}", 0, True),
        ]
        store.outbox_done("m1")
        assert [m.message_id for m in store.outbox_pending()] == ["m2"]
        assert store.load_state("spell") == {"posture": "sitting", "since": 1234.5}
        assert store.load_state("missing") is None
        (prompt,) = store.prompts_between(0, 10_000)
        assert prompt.exercise == "couch stretch" and prompt.stood_after_s == 75.0 and prompt.heeded


def test_outbox_done_from_another_thread_while_postures_are_written(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        for i in range(200):
            store.outbox_put(f"m{i}", "t", "p")
        errors: list[BaseException] = []

        def acknowledge() -> None:
            try:
                for i in range(200):
                    store.outbox_done(f"m{i}")
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        worker = threading.Thread(target=acknowledge)
        worker.start()
        for minute in range(200):
            store.add_postures(PostureSeconds(minute * 60, np.full(60, Posture.SITTING, np.int8)))
        worker.join()
        assert errors == []
        assert store.outbox_pending() == []
        assert store.spells_between(0, 10**6).tolist() == [[0, 12000, Posture.SITTING]]


def test_an_older_schema_is_migrated_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("INSERT INTO sensors(name, last_second) VALUES ('default', 99)")
        db.execute("INSERT INTO spells(sensor, start, end, posture) VALUES (1, 0, 100, 2)")
        db.execute("PRAGMA user_version=1")
    with Store.open(path) as store:
        assert store.schema_version() == LATEST_VERSION
        assert store.spells_between(0, 1000).tolist() == [[0, 100, Posture.SITTING]]
        assert store.last_posture_second() == 99
        chunk = SampleChunk(np.arange(5, dtype=np.float64) + 10.0, np.ones((5, 3), np.float32))
        store.add_raw(chunk)  # the raw table came with version 2
        back = store.raw_between(0, 100)
        assert back.t.tolist() == chunk.t.tolist() and back.xyz.tolist() == chunk.xyz.tolist()
        assert store.prune_raw(older_than=100.0) == 5


def test_two_processes_creating_the_store_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "sitless.db"
    script = f"from sitless.store import Store; Store.open({str(path)!r}).close()"
    children = [
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [child.communicate(timeout=60)[1].decode() for child in children]
    assert [child.returncode for child in children] == [0] * 4, errors
    with Store.open(path) as store:
        assert store.schema_version() == LATEST_VERSION


def test_a_store_from_a_newer_sitless_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "sitless.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")
    with pytest.raises(
        StoreError, match=r"sitless.db: schema version 7 is newer than this sitless \(\d+\); upgrade"
    ):
        Store.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not sqlite" * 100)
    with pytest.raises(StoreError, match="notes.txt"):
        Store.open(path)


def test_store_settings_come_from_the_config_table(tmp_path: Path) -> None:
    config = Config(tables={"store": {"path": str(tmp_path / "x.db"), "keep_raw_days": 3}})
    settings = config.section("store", StoreSettings)
    assert settings.resolved_path() == tmp_path / "x.db" and settings.keep_raw_days == 3
    assert StoreSettings().resolved_path().name == "sitless.db"


@pytest.mark.fault
def test_kill_9_after_a_write_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        from sitless.analysis.postures import PostureSeconds
        from sitless.store import Store
        store = Store.open({str(path)!r})
        store.add_postures(PostureSeconds(0, np.full(3600, 2, np.int8)))
        store.add_prompt("p1", 100.0, 1800.0, 1, "leg swings")
        store.outbox_put("m1", "t", "payload")
        store.save_state("spell", {{"since": 5}})
        print("written", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    with Store.open(path) as store:
        assert store.spells_between(0, 10**6).tolist() == [[0, 3600, Posture.SITTING]]
        assert [p.prompt_id for p in store.prompts_between(0, 10**6)] == ["p1"]
        assert [m.message_id for m in store.outbox_pending()] == ["m1"]
        assert store.load_state("spell") == {"since": 5}
