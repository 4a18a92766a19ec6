"""The SQLite store: postures as spells and per-minute totals, prompts, battery, outbox, daemon state.

Why SQLite in WAL mode: one file, crash-safe commits (``kill -9`` loses nothing committed), and the
report (another process) reads while the daemon writes. Every public write commits before returning.
The file holds health data, so it is created 0600 (inside a 0700 directory) *before* SQLite writes a
byte to it. One connection is shared across threads behind a lock, because paho calls ``outbox_done``
from its network thread while the daemon writes postures from its own.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sitless import store_file
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.analysis.setting_ranges import check_ranges, ranged
from sitless.store_backlog import Backlog, BacklogWrites, PendingWrite
from sitless.store_file import StoreFileError
from sitless.store_queries import HEEDED_WITHIN_S, PromptRecord, StoreQueries
from sitless.store_records import OutboxMessage, RecordWrites
from sitless.store_schema import LATEST_VERSION, MIGRATIONS, MINUTE_COLUMNS, MINUTE_POSTURE_CODES

log = logging.getLogger(__name__)

__all__ = ["HEEDED_WITHIN_S", "OutboxMessage", "PromptRecord", "Store", "StoreError", "StoreSettings"]


class StoreError(Exception):
    """The store cannot be opened or used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class StoreSettings:
    """TOML ``[store]``."""

    path: Path | None = None  # default: sitless.config.default_data_dir() / "sitless.db"
    keep_raw_days: int = ranged(0, 0, 3650, "days")  # 0 = never store raw samples

    def __post_init__(self) -> None:
        check_ranges(self)

    def resolved_path(self) -> Path:
        if self.path is not None:
            return Path(self.path).expanduser()
        from sitless.config import default_data_dir

        return default_data_dir() / "sitless.db"


class Store(StoreQueries, RecordWrites, BacklogWrites):
    """One SQLite file; see ``sitless/store_schema.py`` for the tables."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self.path = path
        self._sensor_ids: dict[str, int] = {}
        self._holder: store_file.StoreLock | None = None
        self._backlog = Backlog(path)
        self._session_ids: dict[int, int] = {}  # stand-in id (full disk) -> stored id
        self._stand_ins = 0

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(
        cls, path: Path | str, *, create: bool = True, migrate: bool = True, lock: str | None = None
    ) -> Store:
        """Open (or create) the store at ``path`` after checking it is a whole sitless store.

        ``create=False, migrate=False`` is a reader's open (``sitless report``): it never creates,
        upgrades or switches the journal of a file. ``lock`` (e.g. "sitless run") takes the store's
        daemon lock, so a second daemon on it refuses to start and names this one's PID.
        """
        if str(path) == ":memory:":
            connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            store = cls(connection, ":memory:")
            store._configure()
            store._migrate()
            return store
        file = Path(path).expanduser()
        try:
            if not store_file.inspect(file):
                if not create:
                    raise StoreFileError(
                        f"no store at {file} (run `sitless run` or `sitless demo` first, or pass --store DB)"
                    )
                store_file.create_new(file, lambda connection: cls(connection, str(file))._migrate())
            holder = store_file.StoreLock(file, lock) if lock else None
        except StoreFileError as error:
            raise StoreError(str(error)) from None
        try:
            connection = sqlite3.connect(file, check_same_thread=False, isolation_level=None, timeout=10.0)
        except sqlite3.Error as error:
            if holder:
                holder.release()
            raise StoreError(f"{file}: cannot open: {error}") from None
        store = cls(connection, str(file))
        store._holder = holder
        try:
            store._check(file, writable=create or migrate)
            if create or migrate:
                store._configure()
            if migrate:
                store._migrate()
            else:
                store._refuse_old_schema()
        except (StoreError, StoreFileError) as error:
            store.close()
            raise StoreError(str(error)) from None
        except sqlite3.DatabaseError as error:
            store.close()
            raise StoreError(str(store_file.unreadable(error, file))) from None
        return store

    def lock_for(self, purpose: str) -> None:
        """Take the store's daemon lock (see ``sitless.store_file.StoreLock``), or raise ``StoreError``
        naming the PID of the process that holds it."""
        if self._holder is None and self.path != ":memory:":
            try:
                self._holder = store_file.StoreLock(Path(self.path), purpose)
            except StoreFileError as error:
                raise StoreError(str(error)) from None

    def _check(self, file: Path, *, writable: bool) -> None:
        self._db.execute("PRAGMA busy_timeout=10000")
        try:
            store_file.check_ours(self._db, file, LATEST_VERSION)
        except sqlite3.DatabaseError as error:
            raise store_file.unreadable(error, file) from None
        store_file.quick_check(self._db, file)
        if writable:
            store_file.tighten(file)

    def _refuse_old_schema(self) -> None:
        version = self.schema_version()
        if version < LATEST_VERSION:
            raise StoreError(
                f"{self.path}: written by an older sitless (schema version {version}, this one uses "
                f"{LATEST_VERSION}); this command only reads, so it leaves the file as it is: "
                "`sitless run` or `sitless replay` upgrade it"
            )
        if version > LATEST_VERSION:
            raise StoreError(
                f"{Path(self.path).name}: schema version {version} is newer than this sitless "
                f"({LATEST_VERSION}); upgrade sitless"
            )

    def _configure(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and self.path != ":memory:":
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=10000")

    def _migrate(self) -> None:
        """Bring the file to ``LATEST_VERSION``, one migration per transaction.

        The version is read inside each write transaction, so two processes opening a new file at the
        same moment (the daemon and ``sitless report``) never run the same migration twice.
        """
        while True:
            with self._transaction() as db:
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                if version > LATEST_VERSION:
                    raise StoreError(
                        f"{Path(self.path).name}: schema version {version} is newer than this sitless "
                        f"({LATEST_VERSION}); upgrade sitless"
                    )
                if version == LATEST_VERSION:
                    return
                for statement in store_file.statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={version + 1}")
            log.info("%s: migrated store schema to version %d", self.path, version + 1)

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._backlog and not self.catch_up():
                log.error(
                    "%s: the disk is still full: %s could not be stored and are lost with this process",
                    self.path, self._backlog.summary(),
                )  # fmt: skip
            self._db.close()
            if self._holder:
                self._holder.release()
                self._holder = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")  # a full disk can fail here too (the WAL grows at commit)
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                self._sensor_ids.clear()  # a sensor row created in this transaction is gone
                raise

    def _sensor(self, db: sqlite3.Connection, name: str, model: str | None = None) -> int:
        if name in self._sensor_ids and model is None:
            return self._sensor_ids[name]
        row = db.execute("SELECT id FROM sensors WHERE name=?", (name,)).fetchone()
        if row is None:
            sensor = db.execute("INSERT INTO sensors(name, model) VALUES (?, ?)", (name, model)).lastrowid
        else:
            sensor = row[0]
            if model is not None:
                db.execute("UPDATE sensors SET model=? WHERE id=?", (model, sensor))
        self._sensor_ids[name] = int(sensor)
        return int(sensor)

    # ---------------------------------------------------------------- postures
    def add_postures(self, series: PostureSeconds, sensor_id: str = "default") -> None:
        """Append postures; seconds at or before the last stored second of this sensor are ignored.

        That makes a replay after a crash harmless. A spell that continues the last stored spell
        (same posture, no gap) is extended rather than split in two.
        """
        if not len(series):
            return
        if series.codes.min() < 0 or series.codes.max() >= len(Posture):
            bad = int(series.codes[(series.codes < 0) | (series.codes >= len(Posture))][0])
            raise ValueError(f"posture code {bad} is not a Posture (0..{len(Posture) - 1})")
        apply = functools.partial(self._store_postures, series=series, sensor_id=sensor_id)
        self._write(PendingWrite(apply, "postures", len(series.codes), sensor=sensor_id, series=series))

    def _store_postures(self, db: sqlite3.Connection, *, series: PostureSeconds, sensor_id: str) -> None:
        sensor = self._sensor(db, sensor_id)
        last = db.execute("SELECT last_second FROM sensors WHERE id=?", (sensor,)).fetchone()[0]
        series = series.from_second(None if last is None else last + 1)
        if not len(series):
            return
        self._insert_spells(db, sensor, series)
        self._add_minutes(db, sensor, series.start, series.codes)
        db.execute("UPDATE sensors SET last_second=? WHERE id=?", (series.end - 1, sensor))

    def _insert_spells(self, db: sqlite3.Connection, sensor: int, series: PostureSeconds) -> None:
        begins, ends, postures = series.runs()
        keep = postures != Posture.UNKNOWN
        rows = [
            (sensor, int(b), int(e), int(p))
            for b, e, p in zip(begins[keep], ends[keep], postures[keep], strict=True)
        ]
        if not rows:
            return
        previous = db.execute(
            "SELECT start, end, posture FROM spells WHERE sensor=? ORDER BY start DESC LIMIT 1", (sensor,)
        ).fetchone()
        if previous is not None and previous[1] == rows[0][1] and previous[2] == rows[0][3]:
            db.execute(
                "UPDATE spells SET end=? WHERE sensor=? AND start=?", (rows[0][2], sensor, previous[0])
            )
            rows = rows[1:]
        db.executemany("INSERT INTO spells(sensor, start, end, posture) VALUES (?, ?, ?, ?)", rows)

    def _add_minutes(self, db: sqlite3.Connection, sensor: int, start: int, codes: np.ndarray) -> None:
        seconds = np.arange(start, start + len(codes), dtype=np.int64)
        minute = seconds // 60
        first = int(minute[0])
        n_minutes = int(minute[-1]) - first + 1
        flat = (minute - first) * len(Posture) + codes.astype(np.int64)
        counts = np.bincount(flat, minlength=n_minutes * len(Posture)).reshape(n_minutes, len(Posture))
        counts = counts[:, list(MINUTE_POSTURE_CODES)]
        used = np.flatnonzero(counts.sum(axis=1))
        cols = ", ".join(MINUTE_COLUMNS)
        marks = ", ".join("?" * len(MINUTE_COLUMNS))
        updates = ", ".join(f"{c}={c}+excluded.{c}" for c in MINUTE_COLUMNS)
        db.executemany(
            f"INSERT INTO minutes(sensor, minute, {cols}) VALUES (?, ?, {marks}) "
            f"ON CONFLICT(sensor, minute) DO UPDATE SET {updates}",
            [(sensor, (first + int(i)) * 60, *map(int, counts[i])) for i in used],
        )

    def last_posture_second(self, sensor_id: str = "default") -> int | None:
        with self._lock:
            row = self._db.execute("SELECT last_second FROM sensors WHERE name=?", (sensor_id,)).fetchone()
            stored = None if row is None or row[0] is None else int(row[0])
            waiting = [i.series.end - 1 for i in self._backlog.items if i.sensor == sensor_id and i.series]
        return max([stored, *waiting], key=lambda v: -1 if v is None else v) if waiting else stored

    # ---------------------------------------------------------------- battery, raw samples
    def add_battery(self, ts: float, percent: int, sensor_id: str = "default") -> None:
        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO battery(sensor, ts, percent) VALUES (?, ?, ?)",
                (self._sensor(db, sensor_id), float(ts), int(percent)),
            )

        self._write(PendingWrite(apply, "other", 64))

    def add_raw(self, chunk: SampleChunk, sensor_id: str = "default") -> None:
        """Keep raw samples (the caller checks ``[store] keep_raw_days``); a replayed chunk is ignored."""
        if not len(chunk):
            return
        t, xyz = chunk.t.astype("<f8").tobytes(), chunk.xyz.astype("<f4").tobytes()

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO raw_chunks(sensor, t0, t1, n, t, xyz) VALUES (?, ?, ?, ?, ?, ?)",
                (self._sensor(db, sensor_id), float(chunk.t[0]), float(chunk.t[-1]), len(chunk), t, xyz),
            )

        self._write(PendingWrite(apply, "raw", len(t) + len(xyz)))

    def prune_raw(self, older_than: float) -> int:
        """Delete raw chunks whose last sample is before ``older_than``; returns the samples deleted."""
        with self._transaction() as db:
            (count,) = db.execute(
                "SELECT COALESCE(SUM(n), 0) FROM raw_chunks WHERE t1 < ?", (older_than,)
            ).fetchone()
            db.execute("DELETE FROM raw_chunks WHERE t1 < ?", (older_than,))
        return int(count)

    # ---------------------------------------------------------------- sessions
    def start_session(self, sensor_id: str, model: str | None, started: float) -> int:
        """The new session's id; on a full disk a negative stand-in that ``end_session`` understands."""
        self._stand_ins += 1
        stand_in = -self._stand_ins  # unique even while several sessions wait for disk space

        def apply(db: sqlite3.Connection) -> int:
            sensor = self._sensor(db, sensor_id, model)
            real = int(
                db.execute(
                    "INSERT INTO sessions(sensor, model, started) VALUES (?, ?, ?)",
                    (sensor, model, float(started)),
                ).lastrowid
            )
            self._session_ids[stand_in] = real
            return real

        real = self._write(PendingWrite(apply, "session", 64))
        return stand_in if real is None else int(real)  # type: ignore[call-overload]

    def end_session(self, session_id: int, ended: float) -> None:
        def apply(db: sqlite3.Connection) -> None:
            real = self._session_ids.get(int(session_id), int(session_id))
            db.execute("UPDATE sessions SET ended=? WHERE id=?", (float(ended), real))

        self._write(PendingWrite(apply, "session", 64))
