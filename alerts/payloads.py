"""What goes over MQTT: the JSON payloads sitless publishes and the commands it accepts.

Kept apart from the client so the schemas (documented in docs/mqtt.md) are tested without a broker,
and so a bad command is rejected with a message that says which field was wrong and why before it can
touch the policy.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime

from sitless.alerts.commands import (
    COMMAND_NAMES,
    MAX_COMMAND_MINUTES,
    AckCommand,
    Command,
    DndCommand,
    SnoozeCommand,
)
from sitless.alerts.policy import PromptDue, PromptOutcome
from sitless.analysis.postures import SEDENTARY, Posture

__all__ = [
    "MAX_COMMAND_MINUTES",
    "AckCommand",
    "Command",
    "CommandPayloadError",
    "DndCommand",
    "SnoozeCommand",
    "dumps",
    "iso",
    "outcome_payload",
    "parse_command",
    "prompt_payload",
    "state_payload",
]
#: Largest command payload accepted (bytes): a command is a few words of JSON.
MAX_PAYLOAD_BYTES = 4096


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO-8601 in UTC with an explicit offset (what Home Assistant templates parse)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def prompt_payload(prompt: PromptDue) -> dict[str, object]:
    """The ``prompt`` message. ``id`` lets receivers drop the duplicates QoS 1 allows."""
    return {
        "id": prompt.prompt_id,
        "event_type": "prompt",  # the Home Assistant event entity keys on this field
        "ts": iso(prompt.ts),
        "sitting_min": round(prompt.sitting_s / 60.0, 1),
        "spell_start": iso(prompt.spell_start),
        "level": prompt.level,
        "after_snooze": prompt.after_snooze,
        "waited_for": prompt.waited_for,  # "meeting": held back until a busy calendar event ended
        "exercise": prompt.exercise.to_json(),
    }


def outcome_payload(outcome: PromptOutcome, *, heeded_today: int | None = None) -> dict[str, object]:
    """The ``prompt/outcome`` message: did the person stand within the response window, and how fast.

    ``stood`` is true, false, or null when the sensor could not tell (taken off, out of range).
    """
    payload: dict[str, object] = {
        "id": outcome.prompt_id,
        "prompt_ts": iso(outcome.prompt_ts),
        "stood": outcome.stood,
        "stood_after_s": outcome.stood_after_s,
    }
    if heeded_today is not None:
        payload["prompts_heeded_today"] = heeded_today
    return payload


def state_payload(
    *,
    posture: Posture,
    since: float | None,
    sitting_spell_s: float,
    battery: int | None,
    ts: float,
    snoozed_until: float | None = None,
    dnd_until: float | None = None,
    prompts_heeded_today: int = 0,
) -> dict[str, object]:
    """The retained ``state`` message: what a dashboard or a late subscriber needs to know now.

    ``prompts_heeded_today``: prompts of the local day after which the person stood within 5 min.
    """
    return {
        "posture": posture.label,
        "sitting": posture in SEDENTARY,
        "since": iso(since),
        "sitting_spell_s": int(round(sitting_spell_s)),
        "battery": battery,
        "snoozed_until": iso(snoozed_until) if snoozed_until and snoozed_until > ts else None,
        "dnd_until": iso(dnd_until) if dnd_until and dnd_until > ts else None,
        "prompts_heeded_today": prompts_heeded_today,
        "ts": iso(ts),
    }


def dumps(payload: dict[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- commands
class CommandPayloadError(ValueError):
    """A command payload that cannot be accepted; the message names the topic and what is wrong."""


def parse_command(name: str, payload: bytes) -> Command:
    """Validate the shape of the payload of ``cmd/<name>``; raise ``CommandPayloadError`` with the reason.

    Only the shape: whether a snooze or do-not-disturb is too long or in the past depends on the clock,
    so ``AlertPolicy.apply`` checks that (one limit, ``sitless.alerts.commands.COMMAND_HORIZON_S``).
    """
    where = f"cmd/{name[:40]}"
    if name not in COMMAND_NAMES:
        raise CommandPayloadError(f"{where}: unknown command (known: {', '.join(COMMAND_NAMES)})")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandPayloadError(
            f"{where}: payload of {len(payload)} bytes is too large (max {MAX_PAYLOAD_BYTES})"
        )
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandPayloadError(f"{where}: payload is not UTF-8 text") from None
    body = _json_or_text(text, where)
    if name == "snooze":
        if body in ("", "PRESS", "snooze"):  # "PRESS" is Home Assistant's button default
            return SnoozeCommand()
        return SnoozeCommand(_minutes(body, where, allow_zero=False))
    if name == "ack":
        if body in ("", "PRESS"):
            return AckCommand()
        prompt_id = body.get("id") if isinstance(body, dict) else body
        _reject_unknown_keys(body, {"id"}, where)
        if not isinstance(prompt_id, str):
            raise CommandPayloadError(f'{where}: expected {{"id": "<prompt uuid>"}}, got {_short(text)}')
        try:
            uuid.UUID(prompt_id)
        except ValueError:
            raise CommandPayloadError(
                f"{where}: id {_short(prompt_id)} is not a prompt id (a UUID)"
            ) from None
        return AckCommand(prompt_id)
    # dnd
    if body in ("off", "OFF"):
        return DndCommand()
    if isinstance(body, dict) and "off" in body:
        _reject_unknown_keys(body, {"off"}, where)
        if body["off"] is not True:
            raise CommandPayloadError(
                f'{where}: "off" switches do-not-disturb off and must be true, got {_short(body["off"])} '
                '(to set it, send {"minutes": N} or {"until": "<ISO time>"})'
            )
        return DndCommand()
    if isinstance(body, dict) and "until" in body:
        _reject_unknown_keys(body, {"until"}, where)
        return DndCommand(until=_instant(body["until"], where))
    if body in ("on", "ON"):
        return DndCommand(minutes=float(MAX_COMMAND_MINUTES))
    minutes = _minutes(body, where, allow_zero=True)
    return DndCommand() if minutes == 0 else DndCommand(minutes=minutes)


def _short(value: object, limit: int = 60) -> str:
    """A value quoted for a message, cut so a hostile megabyte does not travel into logs and replies."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_or_text(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except RecursionError:  # '[' * 2000: the decoder recurses per level
        raise CommandPayloadError(f"{where}: payload is JSON nested too deeply") from None
    except json.JSONDecodeError as error:
        if text[:1] in ("{", "[", '"'):
            raise CommandPayloadError(
                f"{where}: payload is not valid JSON: {error.msg} at column {error.colno}"
            ) from None
        return text  # a bare word or id: "off", "PRESS", a UUID
    except ValueError as error:  # an integer of more than 4300 digits (CPython's int_max_str_digits)
        raise CommandPayloadError(f"{where}: payload is not usable JSON: {_short(str(error))}") from None


def _reject_unknown_keys(body: object, known: set[str], where: str) -> None:
    if isinstance(body, dict) and (extra := set(body) - known):
        raise CommandPayloadError(
            f"{where}: unknown field(s) {_short(sorted(extra))} (allowed: {sorted(known)})"
        )


def _minutes(body: object, where: str, *, allow_zero: bool) -> float:
    if isinstance(body, dict):
        _reject_unknown_keys(body, {"minutes"}, where)
        if "minutes" not in body:
            raise CommandPayloadError(f'{where}: expected {{"minutes": N}}')
        body = body["minutes"]
    if _finite(body) is None:
        raise CommandPayloadError(f"{where}: minutes must be a number, got {_short(body)}")
    if not (body >= 0 if allow_zero else body > 0):
        low = "0 or more" if allow_zero else "more than 0"
        raise CommandPayloadError(
            f"{where}: minutes must be {low} (at most {MAX_COMMAND_MINUTES}, one week), got {_short(body)}"
        )
    return float(body)


def _finite(value: object) -> float | None:
    """``value`` as a finite float if it is a JSON number that has one (not a bool, not 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _instant(value: object, where: str) -> float:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise CommandPayloadError(f"{where}: until {_short(value)} is not an ISO-8601 time") from None
        if moment.tzinfo is None:
            raise CommandPayloadError(
                f"{where}: until {_short(value)} needs a UTC offset, e.g. 2026-11-16T12:00:00+01:00"
            )
        try:
            return moment.timestamp()
        except (OverflowError, OSError, ValueError):  # year 1 with a positive offset, and the like
            raise CommandPayloadError(f"{where}: until {_short(value)} is not a usable time") from None
    seconds = _finite(value)
    if seconds is not None and seconds > 0:
        return seconds
    raise CommandPayloadError(
        f"{where}: until must be an ISO-8601 time or epoch seconds, got {_short(value)}"
    )
