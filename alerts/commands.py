"""The commands a person sends (snooze, ack, do-not-disturb) and their one limit.

Plain records shared by the wire format (``sitless.alerts.payloads`` parses them from MQTT) and their
meaning (``AlertPolicy.apply(command, now)``). The limit lives here and is checked in one place, the
policy, because only the policy knows "now": a ``dnd`` until a moment is only too far, or in the past,
relative to the clock it is applied at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

#: The longest snooze or do-not-disturb a command may set: one week (a forgotten DND ends by itself,
#: and a far-future instant such as 9999-12-31 cannot overflow date arithmetic later).
COMMAND_HORIZON_S = 7 * 24 * 3600
MAX_COMMAND_MINUTES = COMMAND_HORIZON_S // 60


@dataclass(frozen=True)
class SnoozeCommand:
    name: ClassVar[str] = "snooze"
    minutes: float | None = None  # None: the configured snooze_min


@dataclass(frozen=True)
class AckCommand:
    name: ClassVar[str] = "ack"
    prompt_id: str | None = None  # None: the current prompt


@dataclass(frozen=True)
class DndCommand:
    """Do not disturb for ``minutes`` or until ``until`` (epoch seconds); neither means switch off.

    ``ON`` (the Home Assistant switch) is do-not-disturb until switched off, for at most
    ``MAX_COMMAND_MINUTES`` so a forgotten switch does not silence sitless for good.
    """

    name: ClassVar[str] = "dnd"
    minutes: float | None = None
    until: float | None = None

    @property
    def off(self) -> bool:
        return self.minutes is None and self.until is None


Command = SnoozeCommand | AckCommand | DndCommand
COMMAND_NAMES = ("snooze", "ack", "dnd")
