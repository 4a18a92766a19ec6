"""Small builders shared by the alert tests."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from sitless.alerts.policy import AlertPolicy, AlertSettings, PromptDue
from sitless.analysis.postures import Posture, PostureSeconds

#: Monday 2026-11-16 08:00:00 UTC. (1763280000, quoted as the simulator default, is a Sunday in 2025.)
MONDAY_8 = 1794816000


def day_series(*segments: tuple[str, float], start: int = MONDAY_8) -> PostureSeconds:
    """("sitting", 20*60), ("standing", 30), ("unknown", 90) ... -> one code per second."""
    parts = [np.full(int(seconds), Posture.from_label(label), np.int8) for label, seconds in segments]
    return PostureSeconds(start, np.concatenate(parts) if parts else np.empty(0, np.int8))


def counting_ids():
    counter = itertools.count(1)
    return lambda ts, level: f"p{next(counter)}"


def utc_policy(**overrides) -> AlertPolicy:
    return AlertPolicy(AlertSettings(timezone="UTC", **overrides), new_id=counting_ids())


def feed(policy: AlertPolicy, series: PostureSeconds, chunk: int = 1) -> list:
    """Deliver in chunks of ``chunk`` seconds, the way the streaming classifier does."""
    events = []
    for i in range(0, len(series), chunk):
        events += policy.receive(PostureSeconds(series.start + i, series.codes[i : i + chunk]))
    return events


def prompts(events) -> list[PromptDue]:
    return [e for e in events if isinstance(e, PromptDue)]


def write_config(directory: Path, device: str, extra: str = "") -> Path:
    path = directory / "config.toml"
    path.write_text(f'[alerts]\ntimezone = "UTC"\n\n[mqtt]\ndevice_id = "{device}"\n{extra}')
    return path


def sitless_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sitless", *args]


def sitless(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(sitless_command(*args), capture_output=True, text=True, timeout=timeout, env=env)


def epoch(iso_text: str) -> int:
    return int(datetime.fromisoformat(iso_text).timestamp())
