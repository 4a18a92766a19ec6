"""An independent, deliberately naive reading of the prompt rules: one loop step per second.

The policy works on runs of postures and jumps ahead in time; this walks every second and checks
working hours with plain UTC arithmetic (so tests must use timezone="UTC"). Snooze, do-not-disturb
and ack are not modelled here; they have their own example tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sitless.analysis.postures import Posture

SEDENTARY = {int(Posture.SITTING), int(Posture.LYING)}
UPRIGHT = {int(Posture.STANDING), int(Posture.WALKING), int(Posture.CYCLING)}


def in_default_working_hours(t: int) -> bool:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.weekday() < 5 and 8 <= moment.hour < 18


def expected_prompts(
    start: int,
    codes: list[int],
    *,
    limit_s: int = 1800,
    break_s: int = 60,
    repeat_s: int = 600,
    max_repeats: int = 2,
    bridge_s: int = 120,
    working=in_default_working_hours,
) -> list[tuple[int, int]]:
    """(ts, level) of every prompt the rules imply for a per-second posture list."""
    prompts: list[tuple[int, int]] = []
    spell_start = upright_since = None
    count = 0
    last_prompt = None
    previous = None  # last real posture code
    last_known = None  # last second with real data

    def step(t: int, code: int) -> None:
        nonlocal spell_start, upright_since, count, last_prompt
        if code in SEDENTARY:
            if spell_start is None:
                spell_start, count, last_prompt = t, 0, None
            upright_since = None
            if count == 0:
                due = spell_start + limit_s
            elif repeat_s > 0 and count <= max_repeats:
                due = last_prompt + repeat_s
            else:
                return
            if t >= due and working(t):
                count += 1
                last_prompt = t
                prompts.append((t, count))
        elif code in UPRIGHT:
            if spell_start is not None:
                if upright_since is None:
                    upright_since = t
                if t + 1 - upright_since >= break_s:
                    spell_start = upright_since = None
        else:
            spell_start = upright_since = None

    for i, code in enumerate(codes):
        t = start + i
        if code == int(Posture.UNKNOWN):
            continue
        if last_known is not None and t - last_known - 1 > 0:
            if t - last_known - 1 > bridge_s:
                spell_start = upright_since = None
            else:
                for filled in range(last_known + 1, t):
                    step(filled, previous)
        step(t, code)
        previous, last_known = code, t
    return prompts
