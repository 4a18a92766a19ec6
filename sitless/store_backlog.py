"""Writes the disk had no room for: kept in memory, in order, and written when space returns.

Why in the store and not in the pipeline: every writer (postures, prompts, the outbox, the policy's
state) goes through the store, so one queue in one place keeps them in the order they happened, which
is what makes a later catch-up (or a resume after a crash) consistent: a saved policy state never
gets ahead of the postures it describes. SQLite reports a full disk as ``SQLITE_FULL``
(https://sqlite.org/rescode.html#full) and leaves the file as it was before the failed transaction,
so nothing already stored is lost; what is lost, if space never returns before the process ends, is
only what this queue held, and the store says how much.

The queue is bounded (``BACKLOG_LIMIT_BYTES``): a day of postures is 86 kB, so the limit holds weeks
of them; raw samples (``[store] keep_raw_days``) are large and are the first to be dropped.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sitless.analysis.postures import PostureSeconds

log = logging.getLogger(__name__)

SQLITE_FULL = 13
#: Memory the queue may use before it drops its oldest entries (raw samples first).
BACKLOG_LIMIT_BYTES = 32 * 1024 * 1024
#: While the disk is full, a write retries the queue at most this often (seconds).
RETRY_EVERY_S = 2.0


def is_disk_full(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == SQLITE_FULL
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error)


@dataclass
class PendingWrite:
    """One write that did not fit: ``apply(db)`` runs it inside a transaction."""

    apply: Callable[[sqlite3.Connection], object]
    kind: str  # "postures", "raw", "outbox", "outbox_done", "state", "session", "other"
    size: int
    key: str | None = None  # the state key or outbox message id, for reads that must see it
    sensor: str | None = None  # postures: the sensor
    series: PostureSeconds | None = None  # postures: the seconds (merged while they are contiguous)
    payload: object = None  # outbox: the OutboxMessage; state: the dict


class Backlog:
    """The queue of ``PendingWrite``; the store holds its lock around every call."""

    def __init__(self, path: str, limit_bytes: int = BACKLOG_LIMIT_BYTES) -> None:
        self.path = path
        self.limit_bytes = limit_bytes
        self.items: deque[PendingWrite] = deque()
        self.bytes = 0
        self.dropped = 0
        self._told = False
        self._said_back = False
        self._full_since = 0.0
        self._next_try = 0.0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: PendingWrite, error: BaseException | None = None) -> None:
        if not self._told:  # once per process: a nearly full disk flips between full and not
            self._told = True
            self._full_since = time.monotonic()
            log.error(
                "%s: the disk is full (%s). sitless keeps what it cannot write in memory (up to %d MB, "
                "weeks of postures) and writes it as soon as space is freed; nothing already stored is "
                "lost. Free some space on the disk that holds the store.",
                self.path, error or "database or disk is full", self.limit_bytes // (1024 * 1024),
            )  # fmt: skip
        last = self.items[-1] if self.items else None
        if (
            item.kind == "postures"
            and last is not None
            and last.kind == "postures"
            and last.sensor == item.sensor
            and last.series is not None
            and item.series is not None
            and last.series.end == item.series.start
        ):
            self.items.pop()
            self.bytes -= last.size
            merged = PostureSeconds(last.series.start, np.concatenate([last.series.codes, item.series.codes]))
            item = PendingWrite(item.apply, "postures", len(merged.codes), sensor=item.sensor, series=merged)
            item.apply = _rebind_postures(last.apply, merged)
        self.items.append(item)
        self.bytes += item.size
        self._enforce_limit()

    def _enforce_limit(self) -> None:
        while self.bytes > self.limit_bytes and self.items:
            victim = next((i for i in self.items if i.kind == "raw"), self.items[0])
            self.items.remove(victim)
            self.bytes -= victim.size
            self.dropped += 1
            if self.dropped == 1:
                log.error(
                    "%s: the disk is still full and the %d MB kept in memory are used up: the oldest "
                    "unwritten data is being dropped (raw samples first)",
                    self.path, self.limit_bytes // (1024 * 1024),
                )  # fmt: skip

    def due(self) -> bool:
        """Time to try writing the queue again (not on every write while the disk is full)."""
        return time.monotonic() >= self._next_try

    def failed(self) -> None:
        self._next_try = time.monotonic() + RETRY_EVERY_S

    def drained(self, written: int) -> None:
        if not self._said_back:
            self._said_back = True
            log.warning("%s: space is back; %d delayed write(s) are now stored", self.path, written)
        else:
            log.debug("%s: %d delayed write(s) stored", self.path, written)
        self._next_try = 0.0

    def summary(self) -> str:
        seconds = sum(len(i.series.codes) for i in self.items if i.series is not None)
        others = sum(1 for i in self.items if i.series is None)
        parts = [f"{seconds} s of postures"] if seconds else []
        if others:
            parts.append(f"{others} other write(s) (prompts, outbox, state)")
        if self.dropped:
            parts.append(f"{self.dropped} already dropped")
        return ", ".join(parts) or "nothing"


class BacklogWrites:
    """The store's write path (a mixin of ``sitless.store.Store``: it uses its lock, transactions and
    ``_backlog``)."""

    path: str
    _backlog: Backlog
    _lock: Any
    _transaction: Callable[[], Any]

    def _write(self, item: PendingWrite) -> object:
        """Run ``item`` in a transaction; if the disk is full, keep it (in order) for ``catch_up``."""
        with self._lock:
            if self._backlog and not (self._backlog.due() and self.catch_up()):
                self._backlog.add(item)
                return None
            try:
                with self._transaction() as db:
                    return item.apply(db)
            except sqlite3.OperationalError as error:
                if not is_disk_full(error):
                    raise
                self._backlog.add(item, error)
                self._backlog.failed()
                return None

    def catch_up(self) -> bool:
        """Write what the disk had no room for, oldest first; True when nothing waits any more.

        Each round first folds the WAL into the file (``wal_checkpoint(TRUNCATE)`` gives the WAL's
        space back), then writes until the disk is full again; it stops when a round writes nothing.
        """
        with self._lock:
            written = 0
            while self._backlog:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                progress = 0
                while self._backlog.items:
                    item = self._backlog.items[0]
                    try:
                        with self._transaction() as db:
                            item.apply(db)
                    except sqlite3.OperationalError as error:
                        if is_disk_full(error):
                            break
                        log.exception("%s: a delayed write failed and is dropped", self.path)
                    self._backlog.items.popleft()
                    self._backlog.bytes -= item.size
                    progress += 1
                written += progress
                if self._backlog and not progress:
                    self._backlog.failed()
                    return False
            if written:
                self._backlog.drained(written)
            return True

    @property
    def waiting(self) -> str | None:
        """What the disk had no room for yet (e.g. "312 s of postures"), or None."""
        with self._lock:
            return self._backlog.summary() if self._backlog else None


def _rebind_postures(apply: Callable, series: PostureSeconds) -> Callable[[sqlite3.Connection], object]:
    """``apply`` is ``functools.partial(store._store_postures, series=..., sensor_id=...)``: swap the series."""
    return type(apply)(apply.func, **{**apply.keywords, "series": series})  # type: ignore[attr-defined]
