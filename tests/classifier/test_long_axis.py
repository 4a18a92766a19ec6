"""The sensor's long axis: the guess before walking has taught the upright reference.

Synthetic still seconds (gravity plus a worn thigh's tremor) test the rule itself; the real-data figures
for phones are in docs/classifier.md (WISDM, benchmarks/real_data.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sitless.analysis.classify import ClassifierSettings, classify
from sitless.analysis.postures import Posture
from sitless.analysis.samples import SampleChunk
from sitless.config import ConfigError, build_section

RATE_HZ = 20.0


def _still(gravity: tuple[float, float, float], seconds: int = 60, seed: int = 1) -> SampleChunk:
    """A still worn sensor: gravity along ``gravity`` with 0.02 g of tremor (above the 0.01-g floor)."""
    n = int(seconds * RATE_HZ)
    rng = np.random.default_rng(seed)
    direction = np.asarray(gravity, float) / np.linalg.norm(gravity)
    xyz = direction + rng.normal(0.0, 0.012, (n, 3))
    return SampleChunk(1_700_000_000.0 + np.arange(n) / RATE_HZ, xyz.astype(np.float32))


def _mostly(codes: np.ndarray) -> Posture:
    return Posture(int(np.bincount(codes[2:-2]).argmax()))


def test_a_phone_standing_before_any_walk_is_standing_when_its_long_axis_is_y():
    phone = ClassifierSettings(long_axis="y", long_axis_tolerance_deg=30)
    upright_phone = _still((0.2, -0.97, 0.1))  # long side along a vertical thigh, tilted 15 deg
    assert _mostly(classify(upright_phone, phone).codes) == Posture.STANDING
    # The thigh sensors' default (x) reads the same phone as a horizontal thigh:
    assert _mostly(classify(upright_phone).codes) == Posture.SITTING


def test_a_phone_sitting_before_any_walk_is_sitting_when_its_long_axis_is_y():
    phone = ClassifierSettings(long_axis="y", long_axis_tolerance_deg=30)
    flat_on_the_thigh = _still((0.1, 0.3, 0.95))
    on_its_edge = _still((0.95, 0.3, 0.1))  # some pockets hold the phone on its side
    assert _mostly(classify(flat_on_the_thigh, phone).codes) == Posture.SITTING
    assert _mostly(classify(on_its_edge, phone).codes) == Posture.SITTING


def test_a_tilted_phone_fidgeting_before_any_walk_is_not_taken_for_pedalling():
    """A phone 26 deg from its long axis moving a little (0.15 g) is a standing wearer shifting weight,
    not a cyclist: the tolerance keeps guessed seconds out of the pedalling band."""
    n = int(60 * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    tilt = np.radians(26.0)
    sway = 0.15 * np.sin(2 * np.pi * 0.7 * t)
    xyz = np.stack([np.sin(tilt) + sway, -np.cos(tilt) + 0 * t, 0.1 * sway], axis=1)
    chunk = SampleChunk(1_700_000_000.0 + t, xyz.astype(np.float32))
    phone = ClassifierSettings(long_axis="y", long_axis_tolerance_deg=30)
    assert not (classify(chunk, phone).codes == Posture.CYCLING).any()


@pytest.mark.parametrize("axis", ["w", "X", "", "xy"])
def test_long_axis_must_name_one_sensor_axis(axis):
    with pytest.raises(ValueError, match="long_axis must be one of 'x', 'y', 'z'"):
        ClassifierSettings(long_axis=axis)
    with pytest.raises(ConfigError, match=r"\[classifier\].*long_axis must be one of"):
        build_section(ClassifierSettings, {"long_axis": axis}, where="config.toml [classifier]")


def test_long_axis_is_read_from_the_config_table():
    settings = build_section(
        ClassifierSettings, {"long_axis": "y", "long_axis_tolerance_deg": 30}, where="[classifier]"
    )
    assert settings.long_axis == "y" and settings.long_axis_tolerance_deg == 30.0
