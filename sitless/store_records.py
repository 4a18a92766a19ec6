"""The store's small records: the MQTT outbox, prompts and their outcomes, the daemon's saved state.

A mixin of ``sitless.store.Store`` (it uses its lock, connection and ``_write``, so each of these goes
through the same full-disk backlog as the postures: a prompt still goes out, and a state saved while the
disk is full is the one read back).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sitless.store_backlog import Backlog, PendingWrite

log = logging.getLogger("sitless.store")


@dataclass(frozen=True)
class OutboxMessage:
    """A message waiting for the broker's acknowledgement (stored first, so a restart resends it)."""

    message_id: str
    topic: str
    payload: str
    qos: int
    retain: bool
    created: float


class RecordWrites:
    """Outbox, prompts and state; see the module docstring."""

    path: str
    _db: sqlite3.Connection
    _backlog: Backlog
    _lock: Any

    _write: Callable[[PendingWrite], object]  # BacklogWrites': in a transaction, or kept for catch_up

    # ---------------------------------------------------------------- outbox
    def outbox_put(
        self, message_id: str, topic: str, payload: str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Queue a message until the broker acknowledges it; the same id twice is stored once."""
        message = OutboxMessage(message_id, topic, payload, int(qos), bool(retain), time.time())

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO outbox(message_id, topic, payload, qos, retain, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, topic, payload, message.qos, int(message.retain), message.created),
            )

        self._write(PendingWrite(apply, "outbox", len(payload) + 128, key=message_id, payload=message))

    def outbox_pending(self) -> list[OutboxMessage]:
        """Stored messages, then those still waiting for disk space (a prompt goes out on a full disk)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT message_id, topic, payload, qos, retain, created FROM outbox ORDER BY seq"
            ).fetchall()
            waiting = [i.payload for i in self._backlog.items if i.kind == "outbox"]
        stored = [OutboxMessage(m, t, p, int(q), bool(r), float(c)) for m, t, p, q, r, c in rows]
        ids = {m.message_id for m in stored}
        return stored + [m for m in waiting if isinstance(m, OutboxMessage) and m.message_id not in ids]

    def outbox_done(self, message_id: str) -> None:
        with self._lock:
            for item in list(self._backlog.items):  # acknowledged before it was ever stored
                if item.kind == "outbox" and item.key == message_id:
                    self._backlog.items.remove(item)
                    self._backlog.bytes -= item.size
            self._write(
                PendingWrite(
                    lambda db: db.execute("DELETE FROM outbox WHERE message_id=?", (message_id,)), "other", 64
                )
            )

    # ---------------------------------------------------------------- prompts
    def add_prompt(self, prompt_id: str, ts: float, sitting_s: float, level: int, exercise: str) -> None:
        """Record a prompt; the same id twice (a replay) is stored once."""
        row = (prompt_id, float(ts), float(sitting_s), int(level), str(exercise))
        self._write(
            PendingWrite(
                lambda db: db.execute(
                    "INSERT OR IGNORE INTO prompts(prompt_id, ts, sitting_s, level, exercise) VALUES (?, ?, ?, ?, ?)",
                    row,
                ),
                "other",
                256,
            )
        )

    def set_prompt_outcome(self, prompt_id: str, stood_after_s: float | None) -> None:
        """``stood_after_s=None`` means the user did not stand within 5 minutes of the prompt."""

        def apply(db: sqlite3.Connection) -> None:
            changed = db.execute(
                "UPDATE prompts SET outcome_known=1, stood_after_s=? WHERE prompt_id=?",
                (None if stood_after_s is None else float(stood_after_s), prompt_id),
            ).rowcount
            if not changed:
                log.warning("%s: outcome for unknown prompt %r ignored", self.path, prompt_id)

        self._write(PendingWrite(apply, "other", 128))

    # ---------------------------------------------------------------- daemon state
    def save_state(self, key: str, value: dict) -> None:
        text = json.dumps(value, sort_keys=True)
        updated = time.time()

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO state(key, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated=excluded.updated",
                (key, text, updated),
            )

        self._write(PendingWrite(apply, "state", len(text) + 64, key=key, payload=text))

    def load_state(self, key: str) -> dict | None:
        with self._lock:
            waiting = [i.payload for i in self._backlog.items if i.kind == "state" and i.key == key]
            row = (
                (waiting[-1],)
                if waiting
                else self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
            )
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            log.warning("%s: state %r is not valid JSON; ignored", self.path, key)
            return None
        return value if isinstance(value, dict) else None
