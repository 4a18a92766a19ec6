"""The wearer's upright reference: which direction in the sensor's frame is "up along the thigh".

A thigh sensor can sit on the front or the side of the thigh, upside down, or loose in a trouser pocket at
any rotation, so the sensor's x axis is not the thigh's long axis in general (Acti4 and acti-motus assume
it is). The classifier learns the reference from the wearer's own walking; ``sitless calibrate`` offers an
explicit one (stand still for 5 s), which is used until walking has been seen and after each re-mount.

Pure: no file I/O here (``sitless.commands.calibrate`` saves and loads the JSON).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sitless.analysis.samples import SampleChunk


class CalibrationError(ValueError):
    """A calibration recording that cannot give a reference; the message says why."""


@dataclass(frozen=True)
class Calibration:
    """Unit vector of gravity's reaction (what the sensor reads) while standing upright, in the sensor frame."""

    up: tuple[float, float, float]
    created: float = 0.0
    source: str = "standing still"

    def __post_init__(self) -> None:
        vector = np.asarray(self.up, dtype=np.float64)
        norm = float(np.linalg.norm(vector))
        if vector.shape != (3,) or not math.isfinite(norm) or norm < 1e-6:
            raise CalibrationError(f"reference direction must be a non-zero 3-vector, got {self.up!r}")
        object.__setattr__(self, "up", tuple(float(v) for v in vector / norm))

    def up_vector(self) -> np.ndarray:
        return np.asarray(self.up, dtype=np.float64)

    def to_dict(self) -> dict:
        return {"version": 1, "up": list(self.up), "created": self.created, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise CalibrationError("not a sitless calibration (expected a JSON object with version 1)")
        up = data.get("up")
        if not isinstance(up, list) or len(up) != 3 or not all(isinstance(v, int | float) for v in up):
            raise CalibrationError("calibration 'up' must be a list of three numbers")
        return cls(
            up=tuple(float(v) for v in up),
            created=float(data.get("created", 0.0)),
            source=str(data.get("source", "")),
        )


#: Standing still: the per-axis SD over the calibration must stay below this (a worn sensor shows a few mg
#: of sway; walking shows 0.1 g and more).
CALIBRATION_MAX_SD_G = 0.05
#: Gravity's magnitude must be within this of 1 g (else the sensor is moving or badly scaled).
CALIBRATION_MAX_GRAVITY_ERROR_G = 0.15


def calibrate_standing(samples: SampleChunk, *, min_seconds: float = 4.0) -> Calibration:
    """Reference from a recording of standing still (``sitless calibrate`` asks for 5 s).

    Its ``created`` time is the recording's last sample (the core reads no clock: a live recording
    ends now, a file says when it was recorded).

    Uses the last ``min_seconds`` or more of the recording (people settle after pressing start) and rejects
    a recording that moves, is too short or does not read about 1 g.
    """
    if len(samples) < 3:
        raise CalibrationError(f"too few samples ({len(samples)}) to calibrate; stand still for 5 s")
    if samples.duration_s < min_seconds:
        raise CalibrationError(
            f"recording lasts {samples.duration_s:.1f} s; stand still for at least {min_seconds:.0f} s"
        )
    xyz = samples.xyz.astype(np.float64)
    sd = xyz.std(axis=0)
    if float(sd.max()) > CALIBRATION_MAX_SD_G:
        raise CalibrationError(
            f"the sensor moved during calibration (SD {sd.max():.3f} g > {CALIBRATION_MAX_SD_G} g); "
            "stand still and try again"
        )
    mean = xyz.mean(axis=0)
    gravity = float(np.linalg.norm(mean))
    if abs(gravity - 1.0) > CALIBRATION_MAX_GRAVITY_ERROR_G:
        raise CalibrationError(f"the sensor reads {gravity:.2f} g at rest, not about 1 g; check the sensor")
    return Calibration(up=tuple(mean / gravity), created=float(samples.t[-1]), source="standing still")
