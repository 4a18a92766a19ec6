"""What other components rely on: reproducibility, chunking, rates, gaps and ground truth coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.simulate import SimulationConfig, Simulator, simulate, simulate_chunks
from tests.simulator.conftest import MIDNIGHT_MONDAY

SHORT = SimulationConfig(hours=1.5, rate_hz=12.5, seed=11)


def test_same_seed_gives_identical_data_and_another_seed_differs() -> None:
    a, b = simulate(SHORT), simulate(SHORT)
    assert np.array_equal(a.samples.t, b.samples.t) and np.array_equal(a.samples.xyz, b.samples.xyz)
    assert np.array_equal(a.truth.codes, b.truth.codes)
    other = simulate(SimulationConfig(hours=1.5, rate_hz=12.5, seed=12))
    assert not np.array_equal(a.samples.xyz, other.samples.xyz)
    assert not np.array_equal(a.truth.codes, other.truth.codes)


@pytest.mark.parametrize("chunk_hours", [0.25, 0.37, 1.0, 5.0])
def test_concatenated_chunks_equal_the_whole_recording(chunk_hours: float) -> None:
    config = SimulationConfig(hours=2.2, rate_hz=25.0, seed=3, packet_loss=0.02, disconnects_per_hour=1.0)
    whole = simulate(config)
    parts = list(simulate_chunks(config, chunk_hours=chunk_hours))
    assert len(parts) == math.ceil(2.2 / chunk_hours)
    joined = SampleChunk.concat(p.samples for p in parts)
    assert np.array_equal(joined.t, whole.samples.t)
    assert np.array_equal(joined.xyz, whole.samples.xyz)
    truth = PostureSeconds.concat([p.truth for p in parts])
    assert truth.start == whole.truth.start and np.array_equal(truth.codes, whole.truth.codes)


@pytest.mark.parametrize("rate", [12.5, 20.0, 25.0, 33.3, 50.0, 52.0, 100.0])
def test_every_rate_from_12_5_to_100_hz_works(rate: float) -> None:
    recording = simulate(SimulationConfig(hours=0.1, rate_hz=rate, seed=2))
    samples = recording.samples
    assert len(samples) == math.ceil(360 * rate - 1e-6)
    assert (np.diff(samples.t) > 0).all(), "timestamps must be strictly increasing"
    assert samples.nominal_rate_hz() == pytest.approx(rate, rel=0.01)
    assert samples.t[0] >= recording.config.start
    assert samples.t[-1] < recording.config.start + 360


@pytest.mark.parametrize("rate", [12.4, 100.5, 0.0])
def test_rates_outside_12_5_to_100_hz_are_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        SimulationConfig(rate_hz=rate)


def test_truth_covers_every_second_from_start_whatever_the_gaps() -> None:
    config = SimulationConfig(hours=1.25, rate_hz=12.5, seed=4, packet_loss=0.1, disconnects_per_hour=3.0)
    recording = simulate(config)
    assert recording.truth.start == int(config.start)
    assert len(recording.truth) == 4500
    assert not (recording.truth.codes == int(Posture.UNKNOWN)).any()
    clean = simulate(SimulationConfig(hours=1.25, rate_hz=12.5, seed=4))
    assert np.array_equal(recording.truth.codes, clean.truth.codes)


def test_without_loss_there_are_no_gaps() -> None:
    recording = simulate(SimulationConfig(hours=1.0, rate_hz=50.0, seed=5))
    assert len(recording.samples) == 3600 * 50
    assert np.diff(recording.samples.t).max() < 2.0 / 50.0  # jitter only, never a missing sample


def test_packet_loss_drops_whole_packets_at_the_asked_rate() -> None:
    config = SimulationConfig(hours=1.0, rate_hz=50.0, seed=5, packet_loss=0.05, packet_samples=20)
    recording = simulate(config)
    clean = simulate(SimulationConfig(hours=1.0, rate_hz=50.0, seed=5))
    lost = 1 - len(recording.samples) / len(clean.samples)
    assert 0.04 < lost < 0.06
    # the delivered samples are exactly the clean ones minus whole packets
    index = np.rint((recording.samples.t - config.start) * config.rate_hz).astype(int)
    assert np.array_equal(recording.samples.xyz, clean.samples.xyz[index])
    packets = np.bincount(index // 20, minlength=len(clean.samples) // 20)
    assert set(np.unique(packets)) <= {0, 20}


def test_disconnects_drop_5_to_120_seconds_and_nothing_else() -> None:
    config = SimulationConfig(hours=4.0, rate_hz=12.5, seed=6, disconnects_per_hour=2.0)
    recording = simulate(config)
    gaps = Simulator(config).schedule.gaps
    assert len(gaps) >= 3
    assert ((gaps[:, 1] - gaps[:, 0]) >= 5).all()
    steps = np.diff(recording.samples.t)
    holes = np.flatnonzero(steps > 2.0 / config.rate_hz)
    assert 1 <= len(holes) <= len(gaps)  # merged disconnects, or one at the very end, make fewer holes
    for i in holes:
        assert 5.0 - 0.2 < steps[i] < 2 * 120.0 + 0.2
        gap_start = recording.samples.t[i] - config.start
        assert np.any(np.abs(gaps[:, 0] - gap_start) < 0.2)


def test_workday_has_desk_sitting_breaks_commute_lunch_and_a_nonwear_spell() -> None:
    truth = Simulator(SimulationConfig(hours=8.0, seed=9)).truth()
    minutes = truth.minutes_per_posture()
    assert minutes["cycling"] >= 5 and minutes["walking"] >= 10 and minutes["standing"] >= 10
    assert 15 <= minutes["nonwear"] <= 60
    sitting = [s.duration_s / 60 for s in truth.spells() if s.posture == Posture.SITTING]
    assert max(sitting) <= 90 + 5 and np.median(sitting) >= 10
    assert 0.55 < minutes["sitting"] / (8 * 60) < 0.85


def test_a_fullday_week_has_nights_lying_and_lighter_weekends() -> None:
    config = SimulationConfig(hours=168.0, seed=3, schedule="fullday", start=MIDNIGHT_MONDAY)
    truth = Simulator(config).truth()
    assert len(truth) == 7 * 86400
    days = truth.codes.reshape(7, 86400)
    night = days[:, 2 * 3600 : 5 * 3600]
    asleep = np.isin(night, [int(Posture.LYING), int(Posture.NONWEAR)]).mean()
    assert asleep > 0.95
    sitting_hours = (days == int(Posture.SITTING)).sum(axis=1) / 3600
    assert sitting_hours[5:].mean() < sitting_hours[:5].mean() - 1.0
    assert ((days == int(Posture.CYCLING)).sum(axis=1)[:5] > 10 * 60).all()  # bike commutes
    assert (days[:, 10 * 3600 : 16 * 3600] == int(Posture.LYING)).mean() < 0.01
