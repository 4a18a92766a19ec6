"""The sensor's long axis: the guess before walking has taught the upright reference.

Synthetic still seconds (gravity plus a worn thigh's tremor) test the rule itself; the real-data figures
for phones are in docs/classifier.md (WISDM, benchmarks/real_data.py)."""

from __future__ import annotations

import dataclasses

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


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    angle = np.radians(degrees)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _simulated_walk_as_a_phone(tilt: np.ndarray) -> SampleChunk:
    """The simulator's longest walk of a day, its axes turned the way a phone in a pocket has them (the
    long side, y, along the thigh) and then tilted in the pocket by ``tilt``."""
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate

    day = simulate(SimulationConfig(hours=8.0, rate_hz=20.0, seed=5))
    walking = (day.truth.codes == Posture.WALKING).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], walking, [0]])))
    begins, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - begins))
    assert ends[longest] - begins[longest] >= 40, "the simulated day has a walk of 40 s or more"
    start = day.truth.start + int(begins[longest])
    keep = (day.samples.t >= start + 2) & (day.samples.t < day.truth.start + int(ends[longest]) - 2)
    thigh_frame = day.samples.xyz[keep].astype(np.float64)
    phone_frame = thigh_frame[:, [1, 0, 2]] @ tilt.T  # thigh x -> phone y
    t = day.samples.t[keep] - day.samples.t[keep][0]
    return SampleChunk(1_700_000_000.0 + t, phone_frame.astype(np.float32))


def test_a_phone_put_back_in_the_pocket_at_another_tilt_is_read_against_its_long_axis():
    """A strap goes back on the same way, so a thigh sensor keeps its learned direction over a re-mount;
    a phone goes back long side down but at another tilt, so after a re-mount its guess is y again."""
    walk = _simulated_walk_as_a_phone(_rotation(np.array([0.0, 0.0, 1.0]), -25.0))
    # An hour later (a re-mount: the gap is past relearn_after_gap_min), standing with the phone
    # tilted 30 deg the other way: 55 deg from where it walked, 30 deg from y.
    standing = _still((np.sin(np.radians(30.0)), -np.cos(np.radians(30.0)), 0.0), seconds=60)
    later = SampleChunk(standing.t - standing.t[0] + walk.t[-1] + 3600.0, standing.xyz)
    recording = SampleChunk(np.concatenate([walk.t, later.t]), np.concatenate([walk.xyz, later.xyz]))
    phone = ClassifierSettings().for_sensor("phone")
    codes = classify(recording, phone)
    stand_codes = codes.codes[int(later.t[0]) - codes.start + 2 : int(later.t[-1]) - codes.start - 2]
    assert (stand_codes == Posture.STANDING).all(), np.bincount(stand_codes, minlength=7)
    strap_habit = dataclasses.replace(phone, reuse_reference_after_remount=True)
    codes = classify(recording, strap_habit)
    stand_codes = codes.codes[int(later.t[0]) - codes.start + 2 : int(later.t[-1]) - codes.start - 2]
    assert (stand_codes == Posture.SITTING).all(), np.bincount(stand_codes, minlength=7)


def test_the_phone_kind_sets_what_a_pocket_implies():
    phone = ClassifierSettings().for_sensor("phone")
    assert (phone.long_axis, phone.long_axis_tolerance_deg) == ("y", 30.0)
    assert phone.step_peak_g < ClassifierSettings().step_peak_g  # heel strikes arrive damped at the hip
    assert not phone.reuse_reference_after_remount
    assert ClassifierSettings().for_sensor("thigh") == ClassifierSettings()
    with pytest.raises(ValueError, match="sensor kind must be one of thigh, phone"):
        ClassifierSettings().for_sensor("wrist")
