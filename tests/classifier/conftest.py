"""Shared helpers for the classifier tests: cached simulated recordings and scoring."""

from __future__ import annotations

import functools

import numpy as np

from analysis.postures import Posture, PostureSeconds
from analysis.samples import SampleChunk
from firmware_bridge.simulate import SimulationConfig, simulate


@functools.lru_cache(maxsize=16)
def simulated(hours: float = 2.0, rate_hz: float = 25.0, mounting: str = "front", seed: int = 1, **extra):
    return simulate(SimulationConfig(hours=hours, rate_hz=rate_hz, mounting=mounting, seed=seed, **extra))


def aligned(predicted: PostureSeconds, truth: PostureSeconds) -> tuple[np.ndarray, np.ndarray]:
    """The two code arrays over the seconds both cover."""
    lo, hi = max(predicted.start, truth.start), min(predicted.end, truth.end)
    return (
        predicted.codes[lo - predicted.start : hi - predicted.start],
        truth.codes[lo - truth.start : hi - truth.start],
    )


def sedentary(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, [Posture.SITTING, Posture.LYING])


def sit_upright_agreement(predicted: PostureSeconds, truth: PostureSeconds) -> float:
    """Share of worn seconds with data where sedentary-or-not agrees with the truth."""
    ours, true = aligned(predicted, truth)
    worn = (true != Posture.NONWEAR) & (ours != Posture.UNKNOWN)
    return float((sedentary(ours) == sedentary(true))[worn].mean())


def still_sensor(seconds: float, rate_hz: float, up: tuple[float, float, float], start: float, seed: int = 0):
    """A sensor lying still (white noise only, 0.01 g like the simulator), gravity along ``up``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = start + np.arange(n) / rate_hz
    up_vector = np.asarray(up, float) / np.linalg.norm(up)
    xyz = up_vector + rng.normal(0.0, 0.01, (n, 3))
    return SampleChunk(t, xyz.astype(np.float32))
