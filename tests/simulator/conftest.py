"""Shared simulations (module-scoped so the physics tests stay fast) and thigh-frame helpers."""

from __future__ import annotations

import numpy as np
import pytest

from sitless.analysis.postures import Posture
from sitless.firmware_bridge.simulate import SimulatedRecording, SimulationConfig, simulate

MIDNIGHT_MONDAY = 1794787200  # 2026-11-16T00:00:00Z


def thigh_frame(recording: SimulatedRecording) -> np.ndarray:
    """Samples rotated back into the thigh frame (rows: sensor = R @ thigh, so thigh = sensor @ R)."""
    return recording.samples.xyz.astype(np.float64) @ recording.rotation


def per_second(recording: SimulatedRecording, margin_s: int = 2):
    """Per-second mean thigh vector, SD of |a| and truth code, for seconds at least ``margin_s`` away
    from any change of true posture (so transitions are excluded)."""
    xyz = thigh_frame(recording)
    second = np.floor(recording.samples.t - recording.truth.start).astype(np.int64)
    n = len(recording.truth)
    inside = (second >= 0) & (second < n)
    second, xyz = second[inside], xyz[inside]
    counts = np.bincount(second, minlength=n)
    sums = np.stack([np.bincount(second, xyz[:, i], minlength=n) for i in range(3)], axis=1)
    mean = sums / np.maximum(counts, 1)[:, None]
    codes = recording.truth.codes
    stable = np.ones(n, dtype=bool)
    change = np.flatnonzero(np.diff(codes)) + 1
    for c in change:
        stable[max(0, c - margin_s) : c + margin_s] = False
    stable &= counts > 0
    return mean, codes, stable


def inclination_deg(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1)
    return np.degrees(np.arccos(np.clip(vectors[..., 0] / norm, -1, 1)))


@pytest.fixture(scope="session")
def office_day() -> SimulatedRecording:
    return simulate(SimulationConfig(hours=8.0, rate_hz=25.0, seed=2))


@pytest.fixture(scope="session")
def full_day() -> SimulatedRecording:
    return simulate(
        SimulationConfig(hours=24.0, rate_hz=12.5, seed=1, schedule="fullday", start=MIDNIGHT_MONDAY)
    )


@pytest.fixture(scope="session")
def clean_day() -> SimulatedRecording:
    """No noise, calibration errors or jitter: the pure motion model."""
    return simulate(
        SimulationConfig(
            hours=3.0, rate_hz=50.0, seed=4, noise_g=0.0, gain_error=0.0, offset_g=0.0, jitter_s=0.0
        )
    )


def seconds_of(codes: np.ndarray, stable: np.ndarray, posture: Posture) -> np.ndarray:
    return np.flatnonzero(stable & (codes == int(posture)))
