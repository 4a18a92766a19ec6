"""The alert policy's settings, events and errors (``sitless.alerts.policy`` re-exports them).

Apart from the state machine so each stays readable; see ``sitless.alerts.policy`` for the rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sitless.alerts.exercises import Exercise
from sitless.alerts.schedule import WorkingHours
from sitless.analysis.setting_ranges import check_ranges, ranged


@dataclass
class AlertSettings:
    """Table ``[alerts]`` of the config file."""

    #: 0.1 min is for tests and demos; 12 h is a whole working day.
    sit_limit_min: float = ranged(30, 0.1, 720, "min")
    break_min_s: float = ranged(60, 0, 3600, "s")
    repeat_every_min: float = ranged(10, 0, 720, "min")  # 0: no repeats
    max_repeats: int = ranged(2, 0, 100)
    working_hours: str = "08:00-18:00"
    working_days: str = "Mon-Fri"
    snooze_min: float = ranged(15, 1, 1440, "min")
    gap_bridge_s: float = ranged(120, 0, 3600, "s")
    #: IANA name such as "Europe/Berlin"; None means the machine's time zone (resolved by the shell,
    #: which passes it to ``AlertPolicy(timezone=...)``; the policy itself never asks the host).
    timezone: str | None = None

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.timezone is not None and not self.timezone.strip():
            raise ValueError(
                'timezone "" names no zone: leave it out for the machine\'s zone, or use an IANA name like "Europe/Berlin"'
            )
        if not self.sit_limit_min > 0:
            raise ValueError(f"sit_limit_min must be > 0 minutes, got {self.sit_limit_min}")
        for name in ("break_min_s", "repeat_every_min", "snooze_min", "gap_bridge_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_repeats < 0:
            raise ValueError(f"max_repeats must be >= 0, got {self.max_repeats}")
        # Parse now so a bad value is reported when the config is loaded, not at the first prompt.
        self.zone()
        self.schedule(UTC)

    def zone(self) -> tzinfo | None:
        """The configured zone; None when the machine's is meant (only the shell may resolve that)."""
        if not self.timezone:
            return None
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown timezone {self.timezone!r} (use an IANA name like "Europe/Berlin")'
            ) from None

    def schedule(self, tz: tzinfo) -> WorkingHours:
        return WorkingHours.parse(self.working_hours, self.working_days, tz)


class PolicyError(Exception):
    """A command or an input the policy cannot accept (the message says why)."""


@dataclass(frozen=True)
class SpellStarted:
    start: int


@dataclass(frozen=True)
class SpellEnded:
    start: int
    end: int
    #: "break" (stood long enough), "nonwear" or "gap" (no data for longer than gap_bridge_s).
    reason: str
    prompts: int

    @property
    def duration_s(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class PromptDue:
    prompt_id: str
    #: The data second that fired it (integer epoch seconds).
    ts: int
    spell_start: int
    #: 1 for the first prompt of a spell, 2 for the first repeat, ...
    level: int
    exercise: Exercise
    #: True for the reminder that follows a snooze.
    after_snooze: bool = False
    #: "meeting" when a busy calendar event held it back; None otherwise.
    waited_for: str | None = None

    @property
    def sitting_s(self) -> int:
        return self.ts - self.spell_start


@dataclass(frozen=True)
class PromptOutcome:
    prompt_id: str
    prompt_ts: int
    #: True: stood within RESPONSE_WINDOW_S; False: did not; None: unknown (sensor off, no data).
    stood: bool | None
    stood_after_s: int | None


Event = SpellStarted | SpellEnded | PromptDue | PromptOutcome


def prompt_uuid(scope: str, ts: int, level: int) -> str:
    """A UUID derived from what the prompt is (device, data second, level), not drawn at random.

    So re-processing the same data (a restart that re-reads the last seconds, ``sitless replay`` of a
    recording twice) gives the same ids: the store keeps one copy and receivers drop the repeat.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sitless:{scope}:{ts}:{level}"))
