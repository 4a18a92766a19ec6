"""Ranges for numeric settings, declared on the settings' own dataclass fields and checked at load.

Why one declaration per number, beside its field: a value outside its range does not fail where it is
read but hours later (``sit_limit_min = inf`` overflows the prompt clock, ``break_min_s = nan`` means
standing never ends a spell, ``keepalive_s = 100000`` cannot be encoded in MQTT's two bytes). The config
loader (``sitless.config``) reads these ranges and names the file, table, key and range; the same range
text is what ``docs/configuration.md`` lists (a test keeps the two equal). Precedent: systemd and
Mosquitto refuse out-of-range numbers when their config is read, with the key named.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

RANGE_KEY = "sitless.range"


@dataclass(frozen=True)
class Range:
    """A closed interval [low, high] of finite numbers, with the unit a user reads it in."""

    low: float
    high: float
    unit: str = ""

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{_number(self.low)} to {_number(self.high)}{unit}"

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is inside the range, else why not (for the error message)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number from {self.describe()}"
        if not math.isfinite(value):
            return f"must be a finite number from {self.describe()}, got {value!r}"
        if not self.low <= value <= self.high:
            return f"must be from {self.describe()}, got {_number(value)}"
        return None


def _number(value: float) -> str:
    if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e15):
        return f"{value:g}"
    return f"{int(value)}"


def ranged(default: float, low: float, high: float, unit: str = "") -> Any:
    """A dataclass field with a default and its allowed range: ``sit_limit_min: float = ranged(30, 1, 720, "min")``."""
    return dataclasses.field(default=default, metadata={RANGE_KEY: Range(low, high, unit)})


def field_ranges(cls: type) -> dict[str, Range]:
    """The declared ranges of a settings dataclass, by field name."""
    return {f.name: f.metadata[RANGE_KEY] for f in dataclasses.fields(cls) if RANGE_KEY in f.metadata}


def check_ranges(settings: Any) -> None:
    """Raise ``ValueError`` naming the first field outside its range (settings built in code, too)."""
    for name, allowed in field_ranges(type(settings)).items():
        problem = allowed.problem(getattr(settings, name))
        if problem:
            raise ValueError(f"{name} {problem}")
