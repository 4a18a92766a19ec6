"""The alert policy's saved state: what a restarted daemon needs to continue a sitting spell.

Kept apart from the rules (``policy.py``) because it is a storage format: plain JSON types, a version,
and the checks a state read back from the store must pass before the rules trust it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sitless.alerts.commands import COMMAND_HORIZON_S
from sitless.alerts.policy_types import PolicyError
from sitless.analysis.postures import Posture

#: Bumped when a field changes meaning; a state of another version is refused, not guessed at.
STATE_VERSION = 1


@dataclass
class PolicyState:
    """Every field the rules read or write; all JSON-able."""

    data_end: int | None = None  # first second after everything received (UNKNOWN included)
    known_end: int | None = None  # first second after the last second with real data
    posture: int = int(Posture.UNKNOWN)
    posture_since: int | None = None
    spell_start: int | None = None
    upright_start: int | None = None
    spell_prompts: int = 0
    last_prompt_ts: int | None = None
    last_prompt_id: str | None = None
    spell_prompt_ids: list[str] = field(default_factory=list)
    acked: bool = False
    snooze_reminder: bool = False
    snoozed_until: float | None = None
    dnd_until: float | None = None
    pending: list[list[Any]] = field(default_factory=list)  # [prompt_id, prompt_ts]
    last_exercise: str | None = None

    def export(self) -> dict[str, Any]:
        """The state as a new dict of plain JSON types (lists copied, so later changes don't leak)."""
        return {
            "version": STATE_VERSION,
            **self.__dict__,
            "spell_prompt_ids": list(self.spell_prompt_ids),
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> PolicyState:
        """The state saved by ``export``; ``PolicyError`` names what is not understood."""
        if state.get("version") != STATE_VERSION:
            raise PolicyError(
                f"saved alert state has version {state.get('version')!r}, expected {STATE_VERSION}"
            )
        fields = {k: v for k, v in state.items() if k != "version"}
        try:
            return cls(**fields)
        except TypeError as error:
            raise PolicyError(f"saved alert state is not understood: {error}") from None

    def drop_unbounded_holds(self) -> list[str]:
        """A hold saved by an older version (or a hand-edited store) may lie years ahead; it would hold
        every prompt and break date arithmetic, so it is dropped, measured from the data end. Returns
        what was dropped, for the log."""
        notes = []
        for name in ("snoozed_until", "dnd_until"):
            value = getattr(self, name)
            if value is None:
                continue
            reference = self.data_end if self.data_end is not None else value
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value - reference > COMMAND_HORIZON_S
            ):
                setattr(self, name, None)
                notes.append(f"saved {name} {value!r} is beyond the one-week limit: dropped")
        return notes
