"""Postures on their way to the store, written several seconds at a time in one transaction.

Why: the live classifier completes one second at a time, and one store transaction per second (five
statements and a commit, about 0.3 ms whatever its size) was a fifth of the live daemon's CPU (issue
12). The pipeline writes what it holds whenever it saves the alert policy's state (every
``SAVE_EVERY_S`` data seconds, after a prompt or a command, and at the end), just before that state,
so a saved state never gets ahead of the stored postures it describes: a restart resumes from the
saved state and finds every second before it stored (a replay re-reads the rest; see
``sitless.source_feed``). A live daemon also writes what it holds when the sensor has been silent for
a few seconds. What ``kill -9`` of a live daemon loses is therefore at most the last ``SAVE_EVERY_S``
seconds of postures, besides the 2-3 s the classifier was still confirming (docs/performance.md).
"""

from __future__ import annotations

from sitless.analysis.postures import PostureSeconds
from sitless.store import Store


class PostureBatch:
    """Seconds of postures not yet handed to ``Store.add_postures``, in order and contiguous."""

    def __init__(self, store: Store, sensor_id: str) -> None:
        self.store = store
        self.sensor_id = sensor_id
        self._parts: list[PostureSeconds] = []

    def __len__(self) -> int:
        """Seconds waiting."""
        return sum(len(part) for part in self._parts)

    def add(self, postures: PostureSeconds) -> None:
        if not len(postures):
            return
        if self._parts and postures.start != self._parts[-1].end:
            self.write()  # never joined across a hole: PostureSeconds.concat would invent UNKNOWN seconds
        self._parts.append(postures)

    def write(self) -> None:
        """Store what waits, in one transaction. If the store raises, the seconds stay for the next try
        (a full disk does not raise: the store keeps them itself, ``sitless.store_backlog``)."""
        if not self._parts:
            return
        series = self._parts[0] if len(self._parts) == 1 else PostureSeconds.concat(self._parts)
        self.store.add_postures(series, self.sensor_id)
        self._parts = []
