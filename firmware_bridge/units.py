"""Which unit a recording's accelerations are in (g, m/s^2 or milli-g), recognised from gravity.

Every body-worn accelerometer measures gravity: at rest ``|a|`` is 1 g, and over a whole recording the
median of ``|a|`` stays within a few tenths of 1 g (walking swings around it, non-wear lies still at it).
In m/s^2 the same median is near 9.8, in milli-g near 1000: the three bands are an order of magnitude
apart, so the unit is never a guess between two of them. sitless works in g; data in m/s^2 read as g
turned 20 minutes of sitting into 24.7 minutes of walking with no word (issue 9).

What readers do with it (``sitless.firmware_bridge.recordings`` and the device readers beside it): call
:func:`recognise_unit` once on the first block of a recording, then :meth:`UnitGuess.to_g` on every
block, and log :attr:`UnitGuess.message` when it is not None. Converting (rather than refusing) is the
choice because the evidence is unambiguous and refusing would only make the user convert the file by
hand; the log line keeps it visible. A median that fits no unit (gravity removed by a phone's "linear
acceleration" export, a gyroscope file, a scale error, a test file of zeros) is read as g, unchanged,
with a warning that says what was seen: refusing it would also refuse hand-made files that are fine
for what their maker wants, and the warning names what to check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Standard gravity (ISO 80000-3, CGPM 1901): what "1 g" means in m/s^2.
STANDARD_GRAVITY = 9.80665

#: (unit, factor to g, lowest and highest median |a| in that unit). 0.5-2 g: the median of a worn or
#: resting sensor is gravity give or take a few tenths; a sensor in free fall or spinning all day is
#: not a recording of a person.
UNITS = (
    ("g", 1.0, 0.5, 2.0),
    ("m/s^2", 1.0 / STANDARD_GRAVITY, 0.5 * STANDARD_GRAVITY, 2.0 * STANDARD_GRAVITY),
    ("milli-g", 1e-3, 500.0, 2000.0),
)

#: Fewer samples than this (5 s at 50 Hz) cannot tell gravity from a few vigorous movements: they are
#: read as g, with a warning if their median does not look like g.
MIN_SAMPLES = 250

#: The median is taken over at most this many samples, evenly spread (a stride, not the first ones).
MEDIAN_SAMPLES = 100_000


@dataclass(frozen=True)
class UnitGuess:
    """The unit recognised ("g", "m/s^2", "milli-g" or "unknown": read as g), the factor to g, and the
    evidence (median ``|a|`` in the file's unit)."""

    unit: str
    factor_to_g: float
    median_magnitude: float
    samples: int
    assumed: bool = False  # too few samples to tell: read as g

    @property
    def message(self) -> str | None:
        """The warning to log: a conversion, or a unit not recognised; None for data in g."""
        if self.assumed:
            return (
                f"only {self.samples} samples, too few to recognise the unit from gravity, and their "
                f"median |a| is {self.median_magnitude:.4g}, not about 1 g: read as g"
            )
        if self.unit == "g":
            return None
        if self.unit == "unknown":
            hint = (
                "gravity seems removed (a phone's 'linear acceleration' export?): sitless needs raw "
                "accelerations including gravity"
                if self.median_magnitude < 0.5
                else "is it an accelerometer's file, in a unit other than g, m/s^2 or milli-g?"
            )
            return (
                f"cannot recognise the unit of the accelerations: median |a| is {self.median_magnitude:.4g} "
                f"over {self.samples:,} samples, not gravity in g (about 1), m/s^2 (about 9.8) or milli-g "
                f"(about 1000); {hint}; read as g, so the postures may be wrong"
            )
        how = f"divided by {STANDARD_GRAVITY}" if self.unit == "m/s^2" else "divided by 1000"
        if not self.samples:
            return f"accelerations in {self.unit} as asked: converted to g ({how})"
        return (
            f"accelerations are in {self.unit}, not g (median |a| {self.median_magnitude:.4g} over "
            f"{self.samples:,} samples; at rest a sensor reads 1 g = {STANDARD_GRAVITY} m/s^2 = 1000 milli-g): "
            f"converted to g ({how})"
        )

    def to_g(self, xyz: np.ndarray) -> np.ndarray:
        """``xyz`` in g as float32 (the same array, untouched, when already in g)."""
        if self.factor_to_g == 1.0:
            return xyz
        return (np.asarray(xyz, dtype=np.float64) * self.factor_to_g).astype(np.float32)


def recognise_unit(xyz: np.ndarray) -> UnitGuess:
    """The unit of ``xyz`` (N x 3 accelerations of one recording) from the median of ``|a|``.

    For any reader of recordings (CSV, NPZ, native device files): call it on the first block (a few
    thousand samples or more; fewer still work, less robustly) and apply the result to the whole file.
    Non-finite rows are ignored; with none left, or a median that fits no unit, the guess is "unknown"
    (read as g, with a warning in :attr:`UnitGuess.message`).
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"accelerations must have shape (N, 3), got {xyz.shape}")
    stride = max(1, len(xyz) // MEDIAN_SAMPLES)
    picked = np.asarray(xyz[::stride], dtype=np.float64)
    magnitude = np.sqrt(np.einsum("ij,ij->i", picked, picked))
    magnitude = magnitude[np.isfinite(magnitude)]
    # The middle value by partition (np.median would import numpy.ma: 20-50 ms of every command's start).
    median = (
        float(np.partition(magnitude, len(magnitude) // 2)[len(magnitude) // 2])
        if len(magnitude)
        else math.nan
    )
    in_g = UNITS[0][2] <= median <= UNITS[0][3]
    if len(magnitude) < MIN_SAMPLES:
        return UnitGuess("g", 1.0, median, len(magnitude), assumed=not in_g)
    for unit, factor, low, high in UNITS:
        if low <= median <= high:
            return UnitGuess(unit, factor, median, len(magnitude))
    return UnitGuess("unknown", 1.0, median, len(magnitude))


def given_unit(name: str) -> UnitGuess:
    """The unit a user named (``--unit``): "g", "m/s^2" (or "m/s2") or "milli-g" (or "mg")."""
    aliases = {"m/s2": "m/s^2", "mg": "milli-g"}
    name = aliases.get(name, name)
    for unit, factor, _low, _high in UNITS:
        if unit == name:
            return UnitGuess(unit, factor, math.nan, 0)
    raise ValueError(f"unknown unit {name!r}; use g, m/s^2 or milli-g")
