"""The store's read side: what the weekly report (and the daemon's Monday check) query.

A mixin of ``sitless.store.Store`` (kept apart so the write path stays readable); it uses the store's
connection and lock. Only primary-key ranges are used, so a year of data answers in milliseconds.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import numpy as np

from sitless.analysis.metrics import RESPONSE_WINDOW_S
from sitless.analysis.postures import Posture
from sitless.analysis.samples import SampleChunk
from sitless.store_schema import MINUTE_COLUMNS, MINUTE_POSTURE_CODES

#: A prompt counts as heeded when the user stood within the policy's response window.
HEEDED_WITHIN_S = float(RESPONSE_WINDOW_S)


@dataclass(frozen=True)
class PromptRecord:
    prompt_id: str
    ts: float
    sitting_s: float
    level: int
    exercise: str
    outcome_known: bool
    stood_after_s: float | None

    @property
    def heeded(self) -> bool:
        return self.stood_after_s is not None and self.stood_after_s <= HEEDED_WITHIN_S


class StoreQueries:
    """Read-only queries; every method takes the store's lock (one connection shared across threads)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def raw_between(self, t0: float, t1: float, sensor_id: str = "default") -> SampleChunk:
        """Raw samples with ``t0 <= t < t1`` (whole chunks overlapping the range, then trimmed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.t, r.xyz FROM raw_chunks r JOIN sensors s ON s.id = r.sensor "
                "WHERE s.name=? AND r.t1 >= ? AND r.t0 < ? ORDER BY r.t0",
                (sensor_id, t0, t1),
            ).fetchall()
        chunk = SampleChunk.concat(
            SampleChunk(np.frombuffer(t, "<f8"), np.frombuffer(xyz, "<f4").reshape(-1, 3)) for t, xyz in rows
        )
        keep = (chunk.t >= t0) & (chunk.t < t1)
        return SampleChunk(chunk.t[keep], chunk.xyz[keep])

    def prompts_between(self, t0: float, t1: float) -> list[PromptRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT prompt_id, ts, sitting_s, level, exercise, outcome_known, stood_after_s "
                "FROM prompts WHERE ts >= ? AND ts < ? ORDER BY ts",
                (t0, t1),
            ).fetchall()
        return [PromptRecord(p, t, s, lv, e, bool(k), a) for p, t, s, lv, e, k, a in rows]

    def spells_between(self, t0: int, t1: int) -> np.ndarray:
        """Spells of every sensor overlapping ``[t0, t1)`` as an int64 array of rows (start, end, posture).

        Only the primary key is used: spells starting inside the range, plus per sensor the one spell
        that started before it (spells of one sensor never overlap).
        """
        with self._lock:
            sensors = [r[0] for r in self._db.execute("SELECT id FROM sensors")]
            rows: list[tuple[int, int, int]] = []
            for sensor in sensors:
                before = self._db.execute(
                    "SELECT start, end, posture FROM spells WHERE sensor=? AND start < ? ORDER BY start DESC LIMIT 1",
                    (sensor, t0),
                ).fetchone()
                if before is not None and before[1] > t0:
                    rows.append(before)
                rows.extend(
                    self._db.execute(
                        "SELECT start, end, posture FROM spells WHERE sensor=? AND start >= ? AND start < ?",
                        (sensor, t0, t1),
                    ).fetchall()
                )
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def minutes_between(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-minute seconds per posture for ``[t0, t1)`` summed over sensors.

        Returns (minute epoch seconds, int array minutes x 7 indexed by posture code; UNKNOWN is 0).
        """
        cols = ", ".join(MINUTE_COLUMNS)
        rows: list[tuple[int, ...]] = []
        with self._lock:
            for (sensor,) in self._db.execute("SELECT id FROM sensors").fetchall():
                rows.extend(
                    self._db.execute(
                        f"SELECT minute, {cols} FROM minutes WHERE sensor=? AND minute >= ? AND minute < ?",
                        (sensor, t0, t1),
                    ).fetchall()
                )
        data = np.array(rows, dtype=np.int64).reshape(-1, 1 + len(MINUTE_COLUMNS))
        minutes, where = np.unique(data[:, 0], return_inverse=True)
        table = np.zeros((len(minutes), len(Posture)), np.int64)
        sums = np.zeros((len(minutes), len(MINUTE_COLUMNS)), np.int64)
        np.add.at(sums, where.reshape(-1), data[:, 1:])
        table[:, list(MINUTE_POSTURE_CODES)] = sums
        return minutes, table

    def posture_span(self) -> tuple[int, int] | None:
        """First second and end of the last stored spell (any sensor); None for a store without postures."""
        with self._lock:
            first, last = self._db.execute("SELECT MIN(start), MAX(end) FROM spells").fetchone()
        return None if first is None else (int(first), int(last))

    def has_postures_between(self, t0: int, t1: int) -> bool:
        return len(self.spells_between(t0, t1)) > 0

    def sensor_names(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM sensors ORDER BY id")]
