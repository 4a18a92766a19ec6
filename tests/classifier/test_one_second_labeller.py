"""The labeller's one-second path (analysis/labeller_second.py, plain Python floats) is the array path's
rules: the same raw labels and the same learned reference, on real thighs and simulated days, however
the seconds are grouped into calls (issue 12: one path per rule, or both tested against each other).

Each recording is summed per second once; then one labeller labels the rows in groups with ``label``
(groups of up to ``FEW_SECONDS`` take the one-second path), another labels the same groups with the
array path alone, and a third labels every row in one array call."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitless.analysis.calibration import Calibration
from sitless.analysis.classify import ClassifierSettings
from sitless.analysis.features import SecondAccumulator
from sitless.analysis.labeller import FEW_SECONDS, SecondLabeller
from sitless.analysis.postures import Posture
from sitless.analysis.samples import SampleChunk

from .conftest import simulated, still_sensor, walking, worn_still
from .test_real_thighs import wearing
from .test_streaming import RECORDING

#: Settings that reach every rule of the one-second path: the thigh's defaults, a phone's (the long
#: axis y with a tolerance, no re-use of the reference after a re-mount), and short non-wear and gap
#: limits so that re-mounts (which empty the reference windows) happen within minutes.
SETTINGS = {
    "thigh": ClassifierSettings(),
    "phone": ClassifierSettings().for_sensor("phone"),
    "re-mounts": ClassifierSettings(
        nonwear_still_min=1.0, relearn_after_nonwear_s=5, relearn_after_gap_min=0.1
    ),
}


@functools.lru_cache(maxsize=8)
def rows_of(recording: str) -> tuple[int, np.ndarray]:
    """The per-second rows of a whole recording (first second, rows)."""
    if recording.startswith("hugadb"):
        samples = wearing(recording.split()[1])[0]
    elif recording == "lively":
        samples = RECORDING  # gaps, lost packets, a desk spell, a re-mount
    elif recording == "scripted":
        samples = _scripted()
    else:
        samples = simulated(hours=1.0, rate_hz=25.0, seed=2).samples  # an office day's walk and ride
    accumulator = SecondAccumulator()
    first, rows = accumulator.push(samples)
    _, last = accumulator.flush()
    return first, np.concatenate([rows, last])


def _swinging(seconds: int, start: float, about_deg: float, by_deg: float) -> SampleChunk:
    """A thigh swinging at 1.2 Hz by +-``by_deg`` about ``about_deg`` from upright, no heel strikes:
    pedalling (about 35 deg) or riding out of the saddle (about 5 deg)."""
    t = start + np.arange(seconds * 25) / 25.0
    angle = np.radians(about_deg + by_deg * np.sin(2 * np.pi * 1.2 * (t - start)))
    xyz = np.c_[np.cos(angle), np.zeros(len(t)), np.sin(angle)] + np.random.default_rng(8).normal(
        0, 0.02, (len(t), 3)
    )
    return SampleChunk(t, xyz.astype(np.float32))


def _scripted() -> SampleChunk:
    """Walk, sit, lie on the side, walk, pedal, ride out of the saddle, walk, put the sensor on a desk for 3 min and pick it up walking (a
    re-mount after non-wear, with no gap in the data), then sit and lie again with the sensor turned a
    quarter turn about the thigh (only a re-learned front of the thigh tells that lying from sitting)."""
    start, parts = 1_800_000_000.0, []
    for make, seconds in (
        (lambda at: walking(60, 25.0, at), 60),
        (lambda at: worn_still(100, 25.0, (0.2, 0.0, 0.98), at, seed=1), 100),
        (lambda at: worn_still(60, 25.0, (0.05, 0.99, 0.1), at, seed=2), 60),
        (lambda at: walking(30, 25.0, at, seed=3), 30),
        (lambda at: _swinging(30, at, 35.0, 15.0), 30),
        (lambda at: _swinging(8, at, 5.0, 12.0), 8),
        (lambda at: walking(10, 25.0, at, seed=9), 10),
        (lambda at: still_sensor(180, 25.0, (0.0, 0.3, 0.95), at, seed=4), 180),
        (lambda at: walking(40, 25.0, at, seed=5), 40),
        (lambda at: worn_still(60, 25.0, (0.2, 0.98, 0.0), at, seed=6), 60),
        (lambda at: worn_still(60, 25.0, (0.05, 0.1, 0.99), at, seed=7), 60),
    ):
        parts.append(make(start))
        start += seconds
    return SampleChunk.concat(parts)


def _labeller(settings_name: str, calibrated: bool, temperature: bool, first: int, n: int) -> SecondLabeller:
    calibration = Calibration((0.98, 0.1, -0.17)) if calibrated else None
    labeller = SecondLabeller(SETTINGS[settings_name], calibration)
    if temperature:  # skin warm, then cold (off the body?) every few minutes, with silent stretches
        times = np.arange(first, first + n, 7.0)
        celsius = np.where((times - first) % 400 < 250, 33.0, 21.0)
        celsius[(times - first) % 1000 > 900] = np.nan
        labeller.temperature.add(times, celsius)
    return labeller


def _compare_in_groups(recording: str, sizes: list[int], **variant) -> np.ndarray:
    """Labels ``recording`` in groups of ``sizes`` (cycled) both ways and in one call; asserts they agree
    second by second and in the reference after each group; returns the labels."""
    first, rows = rows_of(recording)
    mixed = _labeller(first=first, n=len(rows), **variant)
    array = _labeller(first=first, n=len(rows), **variant)
    parts, position, index = [], 0, 0
    while position < len(rows):
        size = sizes[index % len(sizes)]
        group = rows[position : position + size]
        labels = mixed.label(first + position, group)
        np.testing.assert_array_equal(labels, array.label_seconds(first + position, group))
        _assert_same_reference(mixed, array)
        parts.append(labels)
        position, index = position + size, index + 1
    labels = np.concatenate(parts)
    np.testing.assert_array_equal(
        labels, _labeller(first=first, n=len(rows), **variant).label_seconds(first, rows)
    )
    return labels


@functools.lru_cache(maxsize=64)
def one_at_a_time(recording: str, settings_name: str, calibrated: bool, temperature: bool) -> np.ndarray:
    """Labels ``recording`` one second per call (the live path) and in one array call; asserts they
    agree, and so does the reference learned by the end; returns the labels."""
    variant = {"settings_name": settings_name, "calibrated": calibrated, "temperature": temperature}
    first, rows = rows_of(recording)
    live = _labeller(first=first, n=len(rows), **variant)
    labels = np.concatenate([live.label(first + i, rows[i : i + 1]) for i in range(len(rows))])
    whole = _labeller(first=first, n=len(rows), **variant)
    np.testing.assert_array_equal(labels, whole.label_seconds(first, rows))
    _assert_same_reference(live, whole)
    return labels


def _assert_same_reference(one: SecondLabeller, other: SecondLabeller) -> None:
    up_one, up_other = one.current_up(), other.current_up()
    assert (up_one is None) == (up_other is None)
    if up_one is not None:
        np.testing.assert_array_equal(up_one, up_other)  # the same bits, not merely close


@pytest.mark.parametrize("person", ["4", "1", "6"])
@pytest.mark.parametrize("settings_name", SETTINGS)
def test_real_thighs_one_second_at_a_time_get_the_labels_of_the_array_path(person, settings_name):
    """HuGaDB (tests/data/real): walking, sitting, standing, a bike ride, a car."""
    labels = one_at_a_time(f"hugadb {person}", settings_name, False, False)
    found = set(np.unique(labels).tolist())
    assert {Posture.SITTING, Posture.WALKING} <= found or {Posture.STANDING, Posture.WALKING} <= found


@pytest.mark.parametrize("recording", ["lively", "office", "scripted"])
@pytest.mark.parametrize("settings_name", SETTINGS)
@pytest.mark.parametrize(("calibrated", "temperature"), [(False, False), (True, False), (False, True)])
def test_simulated_days_one_second_at_a_time_get_the_labels_of_the_array_path(
    recording, settings_name, calibrated, temperature
):
    one_at_a_time(recording, settings_name, calibrated, temperature)


def test_the_comparisons_reach_every_posture_the_one_second_path_can_say():
    """Otherwise the tests above could pass on recordings that never reach a rule."""
    found = set()
    for recording in ("hugadb 1", "lively", "office", "scripted"):
        for settings_name in SETTINGS:
            for calibrated, temperature in ((False, False), (False, True)):
                labels = one_at_a_time(recording, settings_name, calibrated, temperature)
                found |= set(np.unique(labels).tolist())
    assert found >= {
        Posture.UNKNOWN,
        Posture.NONWEAR,
        Posture.SITTING,
        Posture.STANDING,
        Posture.WALKING,
        Posture.CYCLING,
        Posture.LYING,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["hugadb 1", "hugadb 4", "lively", "office", "scripted"]),
    st.sampled_from(sorted(SETTINGS)),
    st.booleans(),
    st.lists(
        st.one_of(st.integers(1, FEW_SECONDS), st.integers(FEW_SECONDS + 1, 400)), min_size=1, max_size=24
    ),
)
def test_any_grouping_of_seconds_into_calls_gives_the_same_labels_and_reference(
    recording, settings_name, temperature, sizes
):
    """A live stream switches between the paths whenever a call brings more seconds (a reconnect
    delivers a backlog): the state each leaves must be the other's."""
    _compare_in_groups(
        recording, sizes, settings_name=settings_name, calibrated=False, temperature=temperature
    )
