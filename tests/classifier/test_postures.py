"""What the classifier tells apart, for every way of wearing the sensor."""

from __future__ import annotations

import numpy as np
import pytest

from sitless.analysis.calibration import CalibrationError, calibrate_standing
from sitless.analysis.classify import ClassifierSettings, StreamingClassifier, classify
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.simulate import SimulationConfig, Simulator

from .conftest import aligned, simulated, sit_upright_agreement, still_sensor, walking, worn_still


@pytest.mark.parametrize("mounting", ["front", "side", "pocket", "upside_down"])
def test_every_mounting_is_classified_correctly_on_a_simulated_office_morning(mounting):
    day = simulated(hours=2.0, rate_hz=25.0, mounting=mounting, seed=2)
    ours = classify(day.samples)
    assert sit_upright_agreement(ours, day.truth) >= 0.99
    predicted, truth = aligned(ours, day.truth)
    for posture in (Posture.SITTING, Posture.WALKING, Posture.CYCLING, Posture.STANDING):
        mask = truth == posture
        if mask.sum() > 60:
            assert (predicted[mask] == posture).mean() >= 0.9, posture.label


@pytest.mark.parametrize("rate_hz", [12.5, 100.0])
def test_the_slowest_and_fastest_rates_work(rate_hz):
    day = simulated(hours=1.0, rate_hz=rate_hz, mounting="pocket", seed=4)
    assert sit_upright_agreement(classify(day.samples), day.truth) >= 0.98


@pytest.mark.parametrize("up", [(0, 0, 1), (0, 0, -1), (0, 1, 0), (-1, 0, 0), (0.3, -0.5, 0.8)])
def test_a_sensor_at_rest_is_nonwear_after_the_wait_at_any_orientation_and_stays_so(up):
    """A desk or a charger: only the sensor's noise. The first minutes keep the posture the
    orientation suggests (a still sitter is never called off the body sooner); then non-wear."""
    desk = still_sensor(1200, 25.0, up, start=1_800_000_000.0)
    codes = classify(desk).codes
    wait = int(ClassifierSettings().nonwear_still_min * 60)
    assert not (codes[: wait - 2] == Posture.NONWEAR).any()
    assert (codes[wait + 3 :] == Posture.NONWEAR).all()


def test_seconds_without_samples_are_unknown_and_seconds_with_samples_never_are():
    day = simulated(hours=1.0, rate_hz=25.0, mounting="front", seed=1)
    t, xyz = day.samples.t, day.samples.xyz
    start = int(np.floor(t[0]))
    cut = (t >= start + 1000) & (t < start + 1120)
    ours = classify(SampleChunk(t[~cut], xyz[~cut]))
    codes = ours.codes
    assert (codes[1000 - (ours.start - start) : 1120 - (ours.start - start)] == Posture.UNKNOWN).all()
    seconds_with_data = np.unique(np.floor(t[~cut]).astype(np.int64)) - ours.start
    assert (codes[seconds_with_data] != Posture.UNKNOWN).all()


def test_irregular_timestamps_do_not_change_the_result_much():
    day = simulated(hours=1.0, rate_hz=50.0, mounting="side", seed=5, jitter_s=0.008, packet_loss=0.05)
    assert sit_upright_agreement(classify(day.samples), day.truth) >= 0.98


def _stitched_remount() -> tuple[SampleChunk, PostureSeconds, int]:
    """Two hours worn on the front, 15 min on a desk, then two hours upside down."""
    first = simulated(hours=2.0, rate_hz=25.0, mounting="front", seed=2)
    second = simulated(hours=2.0, rate_hz=25.0, mounting="upside_down", seed=4)
    desk_start = float(np.ceil(first.samples.t[-1])) + 1.0
    desk = still_sensor(900, 25.0, (0, 0, 1), start=desk_start)
    shift = desk_start + 901.0 - float(second.truth.start)
    later = SampleChunk(second.samples.t + shift, second.samples.xyz)
    truth = PostureSeconds.concat(
        [
            first.truth,
            PostureSeconds(int(desk_start), np.full(900, Posture.NONWEAR, np.int8)),
            PostureSeconds(second.truth.start + int(shift), second.truth.codes),
        ]
    )
    return SampleChunk.concat([first.samples, desk, later]), truth, second.truth.start + int(shift)


def test_the_reference_is_relearned_after_the_sensor_is_put_back_another_way():
    samples, truth, remounted = _stitched_remount()
    classifier = StreamingClassifier()
    ups = []
    for chunk in samples.split(25 * 600):
        classifier.feed(chunk)
        if classifier.reference_up is not None:
            ups.append(classifier.reference_up.copy())
    assert ups[0][0] > 0.8 and ups[-1][0] < -0.8, "the upright axis should flip from +x to -x"
    ours = classify(samples)
    after = PostureSeconds(remounted, truth.codes[remounted - truth.start :])
    assert sit_upright_agreement(ours, after) >= 0.98


def _sitting_start(mounting: str) -> tuple[SampleChunk, PostureSeconds, SampleChunk]:
    """A long seated spell with no walking before it, and a 6-s still stand from the same mounting."""
    sim = Simulator(SimulationConfig(hours=2.0, rate_hz=25.0, mounting=mounting, seed=8))
    schedule = sim.schedule
    sit = next(
        i
        for i in range(len(schedule.start) - 1)
        if schedule.posture[i] == Posture.SITTING and schedule.start[i + 1] - schedule.start[i] > 300
    )
    stand = next(
        i
        for i in range(len(schedule.start) - 1)
        if schedule.posture[i] == Posture.STANDING and schedule.start[i + 1] - schedule.start[i] > 12
    )
    seated = sim.recording(schedule.start[sit] + 3, schedule.start[sit] + 300)
    standing = sim.recording(schedule.start[stand] + 3, schedule.start[stand] + 9)
    return seated.samples, seated.truth, standing.samples


def test_calibrating_from_5_s_of_standing_lets_a_sensor_worn_at_any_angle_start_seated():
    seated, truth, standing = _sitting_start("random")
    calibration = calibrate_standing(standing)
    with_calibration = classify(seated, calibration=calibration)
    predicted, true = aligned(with_calibration, truth)
    assert (true == Posture.SITTING).all()
    assert (predicted == Posture.SITTING).mean() >= 0.98


def test_without_calibration_the_x_axis_is_assumed_either_way_up():
    seated, truth, _ = _sitting_start("upside_down")
    predicted, _ = aligned(classify(seated), truth)
    assert (predicted == Posture.SITTING).mean() >= 0.98


def test_calibration_rejects_a_recording_that_moves_or_is_too_short():
    day = simulated(hours=2.0, rate_hz=25.0, mounting="front", seed=2)
    t0 = float(day.truth.start)
    walk = day.truth.codes == Posture.WALKING
    first_walk = t0 + float(np.flatnonzero(walk)[0]) + 2
    keep = (day.samples.t >= first_walk) & (day.samples.t < first_walk + 6)
    walking = SampleChunk(day.samples.t[keep], day.samples.xyz[keep])
    with pytest.raises(CalibrationError, match="moved"):
        calibrate_standing(walking)
    with pytest.raises(CalibrationError, match="at least"):
        calibrate_standing(still_sensor(2, 25.0, (1, 0, 0), start=0.0))


def test_lying_on_the_side_is_told_from_sitting_once_sitting_has_been_seen():
    """Walk (the reference), sit (front of the thigh up), then lie on the side (thigh rolled 90 deg)."""
    start = 1_800_000_000.0
    walk = walking(60, 25.0, start)
    sit = worn_still(300, 25.0, (0.2, 0.0, 0.98), start + 60, seed=1)
    side = worn_still(300, 25.0, (0.05, 0.99, 0.1), start + 360, seed=2)
    codes = classify(SampleChunk.concat([walk, sit, side])).codes
    assert (codes[5:55] == Posture.WALKING).mean() >= 0.95
    assert (codes[65:355] == Posture.SITTING).all()
    assert (codes[365:] == Posture.LYING).mean() >= 0.98


def test_lying_is_never_called_before_the_front_of_the_thigh_is_known():
    """Without sitting seen first, rolled-thigh lying counts as sitting: sedentary either way."""
    start = 1_800_000_000.0
    walk = walking(60, 25.0, start)
    side = worn_still(300, 25.0, (0.05, 0.99, 0.1), start + 60, seed=2)
    codes = classify(SampleChunk.concat([walk, side])).codes
    assert (codes[65:] == Posture.SITTING).all()


def test_walking_away_from_a_bike_ride_is_walking_from_the_first_steps():
    """Out of the saddle, a moving thigh without heel strikes is still riding; walking away begins with
    steps, so the walk after a ride is walking, not more cycling."""
    from sitless.analysis.classify import classify

    from .conftest import aligned, simulated

    day = simulated(hours=8.0, rate_hz=25.0, seed=1)
    ours, truth = aligned(classify(day.samples), day.truth)
    after_rides = 0
    for start in np.flatnonzero((truth[1:] == Posture.WALKING) & (truth[:-1] == Posture.CYCLING)) + 1:
        walk = truth[start:] == Posture.WALKING
        length = int(np.argmin(walk)) if not walk.all() else len(walk)
        if length >= 8:
            after_rides += 1
            assert (ours[start + 3 : start + length - 1] == Posture.WALKING).all()
    assert after_rides >= 1
