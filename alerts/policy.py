"""When to prompt: a pure state machine over per-second postures, with the data time as its clock.

Sans-I/O in the style of h11: ``AlertPolicy.receive(postures)`` takes newly final posture seconds and
returns events (``PromptDue``, ``PromptOutcome``, ``SpellStarted``, ``SpellEnded``); it never reads the
wall clock, sends nothing and stores nothing. So the same object runs live, replays a recording at any
speed with identical results, and is tested with hand-made posture series. Its whole state is a
JSON-able dict (``export_state``/``AlertPolicy(settings, state=...)``) so a restarted daemon continues
the sitting spell where the killed one left it.

Rules (defaults from the evidence in the posture-and-metrics reference: prompt after 30 min of
continuous sitting; a break counts after >= 1 min upright):

- Sitting or lying extends a sedentary spell. An upright run shorter than ``break_min_s`` does not end it
  (fetching a coffee is not a break); a run that reaches it ends the spell at the moment it began.
- A data gap of up to ``gap_bridge_s`` is bridged (filled with the posture before it: a BLE hiccup is
  not a break); non-wear or a longer gap ends the spell where the data stopped.
- The spell's length is the time since it began, short stands and bridged gaps included.
- A prompt fires at the first sedentary second at which the spell has reached ``sit_limit_min``, inside
  working hours, not snoozed, not in do-not-disturb. While sitting continues it repeats every
  ``repeat_every_min`` up to ``max_repeats`` times. A prompt held back (outside working hours, snoozed)
  fires as soon as it is allowed. Commands arrive through ``apply(command, now)``: ``ack`` stops the
  repeats for this spell; ``snooze`` holds prompts for ``snooze_min`` and then reminds once (even past
  ``max_repeats``) if the person still sits; ``dnd`` holds them until a moment. A snooze or
  do-not-disturb ends within a week of ``now`` and not in the past (``COMMAND_HORIZON_S``).
- While a busy calendar event is on (``set_busy``: intervals, an input like the postures; fetching the
  calendar is the caller's business), a due prompt is held; when the meeting ends and the person still
  sits, it fires at once and says so (``waited_for="meeting"``).
- Each prompt's outcome: the first upright second within 5 min of it means "stood", with the delay;
  5 min of data without one means "did not stand"; non-wear or a long gap first means "unknown".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from sitless.alerts.commands import COMMAND_HORIZON_S, AckCommand, Command, DndCommand, SnoozeCommand
from sitless.alerts.exercises import LIBRARY, Exercise, ExerciseRotation
from sitless.alerts.policy_state import PolicyState
from sitless.alerts.policy_types import (  # noqa: F401 - the policy's public types, re-exported
    AlertSettings,
    Event,
    PolicyError,
    PromptDue,
    PromptOutcome,
    SpellEnded,
    SpellStarted,
    prompt_uuid,
)
from sitless.analysis.metrics import RESPONSE_WINDOW_S
from sitless.analysis.postures import SEDENTARY, UPRIGHT, Posture, PostureSeconds


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{ts:g} (epoch seconds)"


class AlertPolicy:
    """The prompt rules as a state machine; see the module docstring."""

    def __init__(
        self,
        settings: AlertSettings | None = None,
        state: dict[str, Any] | None = None,
        *,
        exercises: tuple[Exercise, ...] = LIBRARY,
        id_scope: str = "",
        new_id: Callable[[int, int], str] | None = None,
        timezone: tzinfo | None = None,
    ) -> None:
        """``timezone``: the resolved zone of the working hours (the shell passes the machine's when
        ``[alerts] timezone`` is unset); default: the configured zone, else UTC."""
        self.settings = settings or AlertSettings()
        self.timezone = timezone or self.settings.zone() or UTC
        self._schedule = self.settings.schedule(self.timezone)
        self._new_id = new_id or (lambda ts, level: prompt_uuid(id_scope, ts, level))
        #: What a restore had to drop (a saved snooze or do-not-disturb beyond the limit): for the log.
        self.restore_notes: list[str] = []
        self._s = PolicyState.restore(state) if state else PolicyState()
        self.restore_notes.extend(self._s.drop_unbounded_holds())
        #: Busy calendar intervals [(start, end)], sorted; an input like the postures, not saved state.
        self._busy: list[tuple[float, float]] = []
        self._rotation = ExerciseRotation(exercises, self._s.last_exercise)

    # ----------------------------------------------------------------- state export / restore
    def export_state(self) -> dict[str, Any]:
        """Everything needed to continue after a restart, as plain JSON types."""
        self._s.last_exercise = self._rotation.last
        return self._s.export()

    # ----------------------------------------------------------------- read-only view
    @property
    def now(self) -> int | None:
        """The policy's clock: the end of the data received so far."""
        return self._s.data_end

    @property
    def resume_after(self) -> int | None:
        """First second the policy has not seen (feed from here after a restart)."""
        return self._s.data_end

    @property
    def posture(self) -> Posture:
        return Posture(self._s.posture)

    @property
    def posture_since(self) -> int | None:
        return self._s.posture_since

    @property
    def spell_start(self) -> int | None:
        return self._s.spell_start

    @property
    def snoozed_until(self) -> float | None:
        return self._s.snoozed_until

    @property
    def dnd_until(self) -> float | None:
        return self._s.dnd_until

    def sitting_spell_s(self, now: float | None = None) -> float:
        if self._s.spell_start is None:
            return 0.0
        end = now if now is not None else (self._s.known_end or self._s.spell_start)
        return max(0.0, float(end - self._s.spell_start))

    # ----------------------------------------------------------------- commands
    def apply(self, command: Command, now: float) -> bool:
        """Carry out a person's command at ``now`` (the pipeline's clock). False: nothing to do (an ack
        for a prompt that is not current). ``PolicyError`` says why a command is refused; it then
        changes nothing.

        The limits are here, once: a snooze or do-not-disturb ends within ``COMMAND_HORIZON_S`` (a
        week) of ``now``, and an end in the past is refused rather than taken as "off".
        """
        if isinstance(command, SnoozeCommand):
            minutes = self.settings.snooze_min if command.minutes is None else command.minutes
            until = self._bounded_end(now, now + 60.0 * minutes, f"a snooze of {minutes:g} min")
            self._s.snoozed_until = until
            self._s.snooze_reminder = self._s.spell_start is not None and self._s.spell_prompts > 0
            return True
        if isinstance(command, AckCommand):
            return self._ack(command.prompt_id)
        if isinstance(command, DndCommand):
            if command.off:
                self._s.dnd_until = None
            elif command.until is not None:
                self._s.dnd_until = self._bounded_end(
                    now, command.until, "do-not-disturb until " + _iso(command.until)
                )
            else:
                minutes = command.minutes or 0.0
                self._s.dnd_until = self._bounded_end(
                    now, now + 60.0 * minutes, f"do-not-disturb for {minutes:g} min"
                )
            return True
        raise PolicyError(f"unknown command {command!r}")

    @staticmethod
    def _bounded_end(now: float, until: float, what: str) -> float:
        if not math.isfinite(until) or until - now > COMMAND_HORIZON_S:
            raise PolicyError(
                f"{what} ends more than {COMMAND_HORIZON_S // 86400} days ({COMMAND_HORIZON_S // 60} min) "
                "from now: the limit"
            )
        if until <= now:
            raise PolicyError(f"{what} ends in the past (now is {_iso(now)})")
        return float(until)

    def _ack(self, prompt_id: str | None) -> bool:
        """The person saw the prompt: no more repeats in this spell. False if ``prompt_id`` is not current."""
        if self._s.spell_start is None or self._s.spell_prompts == 0:
            return False
        if prompt_id is not None and prompt_id not in self._s.spell_prompt_ids:
            return False
        self._s.acked = True
        self._s.snooze_reminder = False
        return True

    def set_busy(self, intervals) -> None:
        """The busy (meeting) intervals to respect: pairs or objects with ``start``/``end`` (epoch seconds).

        Replaces the previous set; the caller refreshes it as the calendar changes.
        """
        pairs = [
            (float(i.start), float(i.end)) if hasattr(i, "start") else (float(i[0]), float(i[1]))
            for i in intervals
        ]
        self._busy = sorted((a, b) for a, b in pairs if b > a)

    def busy_at(self, t: float) -> bool:
        return any(a <= t < b for a, b in self._busy)

    # ----------------------------------------------------------------- input
    def receive(self, postures: PostureSeconds) -> list[Event]:
        """Take newly final posture seconds (in time order; seconds already seen are ignored)."""
        events: list[Event] = []
        if not len(postures):
            return events
        s = self._s
        postures = postures.from_second(s.data_end)
        for spell in postures.spells():
            start, end = int(spell.start), int(spell.end)
            if spell.posture is not Posture.UNKNOWN:
                self._run(spell.posture, start, end, events)
            s.data_end = end
        return events

    def tick(self, now: float) -> list[Event]:
        """Advance the clock without data (live mode: ``now`` is the wall clock).

        Seconds not yet covered by data are treated like a data gap: up to ``gap_bridge_s`` they
        continue the last posture, so a prompt due while the classifier is still confirming the last
        seconds (or while the sensor reconnects after a restart) fires on time; beyond it the spell
        ends where the data stopped.
        """
        events: list[Event] = []
        s = self._s
        if s.known_end is None:
            return events
        if now - s.known_end > self.settings.gap_bridge_s:
            self._end_spell(s.known_end, "gap", events)
            self._resolve_unknown(events)
        elif s.spell_start is not None and s.posture in SEDENTARY and s.upright_start is None:
            self._fire_prompts(s.known_end, math.floor(now) + 1, events)
        return events

    def wake_at(self) -> float | None:
        """The next moment at which ``tick`` may have something to say: a prompt falls due, or the
        gap bridge runs out. None: nothing happens without new data. A live daemon sleeps until then
        (or until data or a command arrives) instead of ticking on a timer."""
        s = self._s
        if s.known_end is None:
            return None
        moments = []
        if s.spell_start is not None or s.pending:
            moments.append(s.known_end + self.settings.gap_bridge_s + 0.001)  # tick: now - known_end > bridge
        if s.spell_start is not None and s.posture in SEDENTARY and s.upright_start is None:
            due = self._next_due()
            allowed = None if due is None else self._allowed_from(max(float(s.known_end), due))
            if allowed is not None:
                moments.append(float(math.ceil(allowed)))  # tick fires a prompt at ts once now >= ts
        return min(moments) if moments else None

    # ----------------------------------------------------------------- internals
    def _run(self, posture: Posture, start: int, end: int, events: list[Event]) -> None:
        s = self._s
        if s.known_end is not None and start > s.known_end:
            if start - s.known_end > self.settings.gap_bridge_s:
                self._end_spell(s.known_end, "gap", events)
                self._resolve_unknown(events)
            elif s.posture != Posture.UNKNOWN:
                self._run(Posture(s.posture), s.known_end, start, events)  # bridge: fill the gap
        if posture != s.posture:
            s.posture, s.posture_since = int(posture), start
        if posture in UPRIGHT:
            self._resolve_stood(start, events)
            if s.spell_start is not None:
                if s.upright_start is None:
                    s.upright_start = start
                if end - s.upright_start >= self.settings.break_min_s:
                    self._end_spell(s.upright_start, "break", events)
        elif posture in SEDENTARY:
            if s.spell_start is None:
                self._start_spell(start, events)
            s.upright_start = None
            self._fire_prompts(start, end, events)
            self._resolve_expired(end, events)
        else:  # NONWEAR
            self._end_spell(start, "nonwear", events)
            self._resolve_unknown(events)
        s.known_end = end

    def _start_spell(self, start: int, events: list[Event]) -> None:
        s = self._s
        s.spell_start, s.upright_start = start, None
        s.spell_prompts, s.last_prompt_ts, s.last_prompt_id = 0, None, None
        s.spell_prompt_ids = []
        s.acked = s.snooze_reminder = False
        events.append(SpellStarted(start))

    def _end_spell(self, end: int, reason: str, events: list[Event]) -> None:
        s = self._s
        if s.spell_start is None:
            return
        events.append(SpellEnded(s.spell_start, max(end, s.spell_start), reason, s.spell_prompts))
        s.spell_start = s.upright_start = None
        s.snooze_reminder = False

    def _next_due(self) -> float | None:
        s, cfg = self._s, self.settings
        if s.spell_start is None or s.acked:
            return None
        if s.snooze_reminder and s.snoozed_until is not None:
            return s.snoozed_until
        if s.spell_prompts == 0:
            return s.spell_start + 60.0 * cfg.sit_limit_min
        if cfg.repeat_every_min > 0 and s.spell_prompts <= cfg.max_repeats and s.last_prompt_ts is not None:
            return s.last_prompt_ts + 60.0 * cfg.repeat_every_min
        return None

    def _allowed_from(self, t: float) -> float | None:
        """Earliest time >= t at which a prompt may fire (snooze, do-not-disturb, working hours)."""
        s = self._s
        for _ in range(64):
            moved = t
            if s.snoozed_until is not None and moved < s.snoozed_until:
                moved = s.snoozed_until
            if s.dnd_until is not None and moved < s.dnd_until:
                moved = s.dnd_until
            for busy_start, busy_end in self._busy:
                if busy_start <= moved < busy_end:
                    moved = busy_end
            opening = self._schedule.next_open(moved)
            if opening is None:
                return None
            if opening == t:
                return t
            t = opening
        return None

    def _fire_prompts(self, start: int, end: int, events: list[Event]) -> None:
        s = self._s
        while True:
            due = self._next_due()
            if due is None:
                return
            wanted = max(float(start), due)
            allowed = self._allowed_from(wanted)
            if allowed is None:
                return
            ts = math.ceil(allowed)
            waited = any(a < ts and b > due for a, b in self._busy)
            if ts >= end:
                return
            self._resolve_expired(ts, events)
            after_snooze = s.snooze_reminder
            s.snooze_reminder = False
            s.spell_prompts += 1
            prompt = PromptDue(
                prompt_id=self._new_id(ts, s.spell_prompts),
                ts=ts,
                spell_start=s.spell_start,  # type: ignore[arg-type]
                level=s.spell_prompts,
                exercise=self._rotation.next(),
                after_snooze=after_snooze,
                waited_for="meeting" if waited else None,
            )
            s.last_prompt_ts, s.last_prompt_id = ts, prompt.prompt_id
            s.spell_prompt_ids.append(prompt.prompt_id)
            s.pending.append([prompt.prompt_id, ts])
            events.append(prompt)
            start = ts + 1

    def _resolve_stood(self, upright_start: int, events: list[Event]) -> None:
        self._resolve_expired(upright_start, events)
        for prompt_id, ts in self._s.pending:
            # max(0, ...): a prompt fired by tick() may precede data showing the person already up.
            events.append(PromptOutcome(prompt_id, ts, True, max(0, upright_start - ts)))
        self._s.pending = []

    def _resolve_expired(self, now: int, events: list[Event]) -> None:
        keep = []
        for prompt_id, ts in self._s.pending:
            if now - ts >= RESPONSE_WINDOW_S:
                events.append(PromptOutcome(prompt_id, ts, False, None))
            else:
                keep.append([prompt_id, ts])
        self._s.pending = keep

    def _resolve_unknown(self, events: list[Event]) -> None:
        for prompt_id, ts in self._s.pending:
            events.append(PromptOutcome(prompt_id, ts, None, None))
        self._s.pending = []
