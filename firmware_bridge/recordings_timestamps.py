"""Recording timestamps and the recording error type (shared by the CSV and NPZ readers)."""

from __future__ import annotations

import io
import math
import os
import re
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

#: Timestamps sitless accepts: 2000-01-01 to 2100-01-01 UTC. Anything else is a clock that was never set
#: (a sensor counting from 0) or a unit mistake (milliseconds); accepting it would make a recording span
#: decades of "missing" seconds.
EARLIEST_T = 946684800.0
LATEST_T = 4102444800.0


def implausible_time(t: float) -> str | None:
    """Why ``t`` cannot be a sample's real time, or None when it can."""
    if EARLIEST_T <= t < LATEST_T:
        return None
    return (
        f"timestamp {t:.6g} is not between 2000 and 2100; a recording needs the real time of each sample "
        "(epoch seconds, or ISO-8601 with a zone), not a counter from 0 or milliseconds"
    )


class RecordingError(ValueError):
    """A recording file that cannot be read as it is; ``path`` and ``line`` (None for NPZ) say where."""

    def __init__(self, path: os.PathLike | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path} line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


def handle_problem(error: RecordingError, on_error: str, problems: list[RecordingError] | None) -> None:
    """The readers' one rule for a bad row or sample: raise it (``on_error="raise"``), or note it in
    ``problems`` (when given) and go on without it."""
    if on_error == "raise":
        raise error
    if problems is not None:
        problems.append(error)


#: ISO-8601 as arrow's CSV parser (the fast path) reads it: seconds and minutes may be left out
#: (``T08:00Z``, ``T08Z``), the offset may be ``+01:00``, ``+0100`` or ``+01``.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


class _TimestampParser:
    """Epoch floats or ISO-8601 with a zone; caches the whole-second part (consecutive rows share it)."""

    def __init__(self) -> None:
        self._prefix: tuple | None = None
        self._base = 0.0

    def __call__(self, text: str) -> float:
        text = text.strip()
        match = _ISO.fullmatch(text)
        if match is None:
            if "T" in text or ":" in text:
                raise ValueError(f"timestamp {text!r} is not ISO-8601 like 2026-11-16T08:00:00.020Z")
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"timestamp {text!r} is neither epoch seconds nor ISO-8601 like 2026-11-16T08:00:00Z"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"timestamp is {text!r}, not a finite number")
            return value
        year, month, day, hour, minute, second, frac, zone = match.groups()
        if zone is None:
            raise ValueError(
                f"timestamp {text!r} has no time zone (ambiguous); add Z for UTC or an offset like +01:00"
            )
        prefix = (year, month, day, hour, minute, second, zone)
        if prefix != self._prefix:
            if zone in ("Z", "z"):
                tz = UTC
            else:
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
            try:
                moment = datetime(
                    int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0), tzinfo=tz
                )
            except ValueError as error:
                raise ValueError(f"timestamp {text!r} is not a valid date/time: {error}") from None
            self._base = moment.timestamp()
            self._prefix = prefix
        return self._base + (float(frac) if frac else 0.0)


def _fast_iso_times(text: str) -> np.ndarray | None:
    """Vectorised ISO-8601 column parse; None if any row lacks a zone or is unusual (slow path decides)."""
    stamps = np.loadtxt(io.StringIO(text), delimiter=",", dtype="U40", usecols=0, comments=None, ndmin=1)
    utc = np.char.endswith(stamps, "Z")
    offsets = np.zeros(len(stamps), dtype=np.int64)
    if utc.all():
        bare = np.char.rstrip(stamps, "Z")
    else:
        bare_list = []
        for i, stamp in enumerate(stamps.tolist()):
            if stamp.endswith("Z"):
                bare_list.append(stamp[:-1])
                continue
            zone = stamp[-6:]
            if (
                len(zone) != 6
                or zone[0] not in "+-"
                or zone[3] != ":"
                or not (zone[1:3] + zone[4:]).isdigit()
            ):
                return None
            offsets[i] = (-1 if zone[0] == "-" else 1) * (int(zone[1:3]) * 3600 + int(zone[4:]) * 60)
            bare_list.append(stamp[:-6])
        bare = np.array(bare_list)
    if np.char.find(bare, "T").min() != 10 or (np.char.str_len(bare) < 19).any():
        return None
    micros = bare.astype("datetime64[us]").astype(np.int64)
    return micros / 1e6 - offsets


def parse_timestamp(text: str) -> float:
    """Epoch seconds from an epoch string or ISO-8601 with zone; ValueError says what was wrong."""
    return _TimestampParser()(text)
