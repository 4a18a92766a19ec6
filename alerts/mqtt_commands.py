"""Incoming ``cmd/<name>`` messages: the retained-command rule, validation, the ``error`` reply.

Kept apart from the connection (``sitless.alerts.mqtt``) so the rules read in one place:

- **Retained commands are ignored, always.** A retained "snooze" would snooze again on every
  reconnect. MQTT 3.1.1 brokers clear the retain flag on live delivery (only a message sent because
  of a new subscription carries it), so over MQTT 5 sitless subscribes with *Retain As Published*
  (MQTT 5.0 section 3.8.3.1): the flag then arrives as the publisher set it on both paths, live and
  after a reconnect. Over MQTT 3.1.1 only the second path can be seen (docs/mqtt.md says so).
- An empty retained payload is how a client deletes a retained message (MQTT 5.0 section 3.3.1.3);
  it is ignored without an ``error`` reply (it is the right thing to do), never a default snooze.
- Everything else is validated by ``parse_command``; a refusal is answered on ``error``.
- A flood of commands must not flood the log: at most ``LOG_BURST`` rejections (and as many accepted
  commands) are logged per ``LOG_WINDOW_S``, then one line says how many more there were (each
  refusal still gets its reply).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sitless.alerts.payloads import Command, CommandPayloadError, parse_command

log = logging.getLogger("sitless.alerts.mqtt")

LOG_BURST = 10
LOG_WINDOW_S = 60.0
#: How much of a hostile topic name goes into a reply or a log line.
TOPIC_QUOTE = 120


@dataclass(frozen=True)
class Refusal:
    """A command answered on ``error``: ``{"topic": ..., "error": ...}``."""

    topic: str
    error: str

    def payload(self) -> dict[str, str]:
        return {"topic": self.topic, "error": self.error}


class LogLimiter:
    """At most ``burst`` lines per ``window_s`` through ``log`` at ``level``; then one line that counts
    the lines not written (so a flood of commands cannot fill the disk with log)."""

    def __init__(
        self, what: str, *, burst: int = LOG_BURST, window_s: float = LOG_WINDOW_S,
        level: int = logging.WARNING, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.what, self.burst, self.window_s, self.level, self._clock = what, burst, window_s, level, clock
        self._window_start = -1e18
        self._logged = 0
        self._suppressed = 0

    def __call__(self, message: str, *args: object) -> None:
        now = self._clock()
        if now - self._window_start >= self.window_s:
            if self._suppressed:
                log.log(self.level, "MQTT: %d more %s in the last %.0f s (not logged one by one)",
                        self._suppressed, self.what, now - self._window_start)  # fmt: skip
            self._window_start, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.burst:
            self._logged += 1
            log.log(self.level, message, *args)
        else:
            self._suppressed += 1


class CommandReceiver:
    """Turns one incoming message into a ``Command``, a ``Refusal``, or nothing (ignored)."""

    def __init__(self, cmd_prefix: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cmd_prefix = cmd_prefix
        self.log_rejected = LogLimiter("command(s) rejected", clock=clock)
        self.log_accepted = LogLimiter("command(s) received", level=logging.INFO, clock=clock)
        self.rejected = 0

    def receive(self, topic: str, payload: bytes, retain: bool) -> Command | Refusal | None:
        """Only for topics under ``cmd_prefix``."""
        name = topic[len(self.cmd_prefix) :]
        quoted = topic[:TOPIC_QUOTE]
        if retain:
            if not payload:
                self.log_accepted(
                    "MQTT: a retained cmd/%s was cleared (empty retained payload); ignored", name[:40]
                )
                return None
            return self.refuse(
                quoted,
                f"cmd/{name[:40]}: retained commands are ignored (publish without retain; clear this one "
                "by publishing an empty retained message)",
            )
        try:
            return parse_command(name, payload)
        except CommandPayloadError as error:
            return self.refuse(quoted, str(error))

    def refuse(self, topic: str, message: str) -> Refusal:
        """Log (rate-limited) and describe the reply for a refused command."""
        self.rejected += 1
        self.log_rejected("MQTT: rejected command: %s", message)
        return Refusal(topic, message)
