"""One implementation for live and offline use: chunking never changes a label, and labels are prompt."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitless.analysis.classify import ClassifierSettings, StreamingClassifier, classify
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk

from .conftest import simulated, still_sensor


def _lively_recording() -> SampleChunk:
    """16 minutes with walking, sitting, standing, gaps, lost packets, then a desk (non-wear) and back.

    Built from the simulator's office day (which starts with a walk and a bike ride) plus a sensor put
    down on a desk, so every stage of the classifier (reference learning, non-wear, re-mounting,
    smoothing, gaps) is exercised."""
    day = simulated(
        hours=0.25, rate_hz=12.5, mounting="pocket", seed=3, disconnects_per_hour=8.0, packet_loss=0.02
    )
    samples = day.samples
    first_part = samples.slice(0, len(samples) // 2)
    desk = still_sensor(90, 12.5, (0.0, 0.0, 1.0), start=float(first_part.t[-1]) + 0.08)
    rest = samples.slice(len(samples) // 2, len(samples))
    shifted = SampleChunk(rest.t + 95.0, rest.xyz)
    return SampleChunk.concat([first_part, desk, shifted])


#: Non-wear after one minute of stillness instead of ten, so that a short desk spell exercises it.
SETTINGS = ClassifierSettings(nonwear_still_min=1.0)
RECORDING = _lively_recording()
BATCH = classify(RECORDING, SETTINGS)


def _feed(chunks: list[SampleChunk]) -> PostureSeconds:
    classifier = StreamingClassifier(SETTINGS)
    parts = [classifier.feed(chunk) for chunk in chunks]
    parts.append(classifier.flush())
    for before, after in zip(parts, parts[1:], strict=False):
        if len(before) and len(after):
            assert after.start == before.end, "emitted seconds must be contiguous"
    return PostureSeconds.concat(parts)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.integers(1, 40), st.integers(1, 3), st.integers(41, 3000)), min_size=1, max_size=64)
)
def test_streaming_gives_the_same_labels_as_one_call_for_any_chunking(sizes):
    cuts, position, i = [], 0, 0
    while position < len(RECORDING):
        size = sizes[i % len(sizes)]
        cuts.append(RECORDING.slice(position, position + size))
        position += size
        i += 1
    streamed = _feed(cuts)
    assert streamed.start == BATCH.start
    np.testing.assert_array_equal(streamed.codes, BATCH.codes)


def test_one_sample_at_a_time_gives_the_same_labels_as_one_call():
    part = RECORDING.slice(0, 4000)
    np.testing.assert_array_equal(_feed(part.split(1)).codes, classify(part, SETTINGS).codes)


def test_the_first_second_is_the_floor_of_the_first_timestamp_and_every_second_is_covered():
    assert BATCH.start == int(np.floor(RECORDING.t[0]))
    assert BATCH.end == int(np.floor(RECORDING.t[-1])) + 1


def test_the_recording_exercises_every_stage():
    found = set(np.unique(BATCH.codes).tolist())
    assert {Posture.UNKNOWN, Posture.NONWEAR, Posture.SITTING, Posture.WALKING} <= found


def test_each_second_is_final_at_most_3_s_after_the_newest_sample():
    classifier = StreamingClassifier()
    emitted_end = None
    worst = 0.0
    for packet in RECORDING.split(20):
        out = classifier.feed(packet)
        if len(out):
            emitted_end = out.end
        if emitted_end is not None:
            worst = max(worst, float(packet.t[-1]) - emitted_end)
    assert worst <= 3.0, f"a second was finalised {worst:.2f} s after its end"


def test_a_posture_change_is_reported_within_3_s():
    """Stand still, then sit still: the first sitting label comes out before 3 s of sitting data."""
    stand = still_sensor(60, 50.0, (1.0, 0.0, 0.1), start=1_800_000_000.0, seed=1)
    sit = still_sensor(30, 50.0, (0.2, 0.0, 1.0), start=1_800_000_060.0, seed=2)
    # A worn sensor sways: add 3 mg of slow drift so it is not taken for a sensor on a desk.
    for chunk in (stand, sit):
        chunk.xyz[:, 1] += (0.003 * np.sin(2 * np.pi * 0.25 * chunk.t)).astype(np.float32)
    classifier = StreamingClassifier()
    for packet in SampleChunk.concat([stand, sit]).split(20):
        out = classifier.feed(packet)
        sitting = np.flatnonzero(out.codes == Posture.SITTING)
        if len(sitting):
            assert abs(out.start + int(sitting[0]) - 1_800_000_060) <= 1  # the 2-s window straddles
            assert float(packet.t[-1]) - 1_800_000_060 <= 3.0
            return
    raise AssertionError("sitting was never reported")


def test_samples_going_back_in_time_are_dropped_the_same_way_in_both_modes():
    part = RECORDING.slice(0, 3000)
    t = part.t.copy()
    t[1500:1510] -= 5.0  # a reordered burst
    shuffled = SampleChunk(t, part.xyz)
    np.testing.assert_array_equal(_feed(shuffled.split(7)).codes, classify(shuffled, SETTINGS).codes)


def test_non_finite_samples_are_dropped_and_counted_not_propagated():
    part = RECORDING.slice(0, 3000)
    xyz = part.xyz.copy()
    xyz[100, 1] = np.nan
    xyz[2000, 0] = np.inf
    broken = SampleChunk(part.t, xyz)
    classifier = StreamingClassifier()
    labels = PostureSeconds.concat([classifier.feed(broken), classifier.flush()])
    assert classifier.dropped_samples == 2
    clean = classify(SampleChunk(np.delete(part.t, [100, 2000]), np.delete(part.xyz, [100, 2000], axis=0)))
    np.testing.assert_array_equal(labels.codes, clean.codes)
