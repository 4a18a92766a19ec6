"""Shared helpers for the classifier tests: cached simulated recordings and scoring."""

from __future__ import annotations

import functools

import numpy as np

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.simulate import SimulationConfig, simulate


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


#: White noise of a real MEMS thigh sensor at rest, per axis (HuGaDB's MPU-6050: 0.004 g total SD).
REST_NOISE_G = 0.0025


def still_sensor(
    seconds: float,
    rate_hz: float,
    up: tuple[float, float, float],
    start: float,
    seed: int = 0,
    noise_g: float = REST_NOISE_G,
):
    """A sensor lying still (white noise only), gravity along ``up``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = start + np.arange(n) / rate_hz
    up_vector = np.asarray(up, float) / np.linalg.norm(up)
    xyz = up_vector + rng.normal(0.0, noise_g, (n, 3))
    return SampleChunk(t, xyz.astype(np.float32))


def worn_still(seconds: float, rate_hz: float, up: tuple[float, float, float], start: float, seed: int = 0):
    """A still but worn sensor: noise and tremor (0.01 g per axis) plus 4 mg of slow sway (0.23 Hz)."""
    chunk = still_sensor(seconds, rate_hz, up, start, seed, noise_g=0.01)
    sway = (0.004 * np.sin(2 * np.pi * 0.23 * (chunk.t - start))).astype(np.float32)
    chunk.xyz[:, 0] += sway
    chunk.xyz[:, 1] -= sway
    chunk.xyz[:, 2] += sway
    return chunk


def walking(seconds: float, rate_hz: float, start: float, seed: int = 0) -> SampleChunk:
    """Front-mounted thigh walking: +-20 deg swing at 0.9 Hz about 8 deg, a heel strike per stride."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = start + np.arange(n) / rate_hz
    phase = 2 * np.pi * 0.9 * (t - start)
    angle = np.radians(8 + 20 * np.sin(phase))
    xyz = np.c_[np.cos(angle), np.zeros(n), np.sin(angle)] + rng.normal(0.0, 0.02, (n, 3))
    strikes = np.flatnonzero(np.diff(np.floor(phase / (2 * np.pi))) > 0) + 1
    xyz[strikes, 0] += 0.9
    return SampleChunk(t, xyz.astype(np.float32))
