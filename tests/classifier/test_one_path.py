"""The live path's plain-Python shortcuts are the same rules as the array paths (issue 10: one path per
rule, or both tested against each other on random input)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.analysis import features as F
from sitless.analysis.classify import _ABSENT, LOOKAHEAD_S, LOOKBACK_S, _ModeSmoother
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([*range(len(Posture)), _ABSENT]), min_size=LOOKBACK_S + 2, max_size=40))
def test_the_one_second_smoothing_vote_is_the_array_vote(values):
    window = np.array(values, np.int8)
    ready = len(window) - LOOKBACK_S - LOOKAHEAD_S
    labels = window[LOOKBACK_S:]
    few = _ModeSmoother._vote_few(window, ready)
    many = _ModeSmoother._vote_many(window, labels, ready)
    np.testing.assert_array_equal(few, many)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from([*range(len(Posture)), _ABSENT]), min_size=LOOKBACK_S, max_size=LOOKBACK_S),
    st.lists(st.sampled_from(range(len(Posture))), min_size=LOOKAHEAD_S + 1, max_size=60),
    st.booleans(),
)
def test_the_batch_vote_is_the_one_second_vote_on_labels_as_the_classifier_makes_them(history, raw, flush):
    """Raw labels are never the padding code; the history before the first second and the look-ahead
    after the last (at flush) are."""
    window = np.array(history + raw + ([_ABSENT] * LOOKAHEAD_S if flush else []), np.int8)
    ready = len(window) - LOOKBACK_S - LOOKAHEAD_S
    labels = window[LOOKBACK_S:]
    np.testing.assert_array_equal(
        _ModeSmoother._vote_many(window, labels, ready), _ModeSmoother._vote_few(window, ready)
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_the_one_second_row_is_the_row_of_many_seconds(n, seed):
    rng = np.random.default_rng(seed)
    xyz = (rng.normal(0.0, 1.5, (n, 3)) * rng.choice([0.01, 1.0, 5.0, 20.0])).astype(np.float32)
    t = 100.0 + np.sort(rng.uniform(0.0, 0.999, n))
    one = F.second_rows(t, xyz, 100, 101)
    # the same second summed by the many-second path (a second, empty second forces it)
    many = F.second_rows(t, xyz, 100, 102)[:1]
    np.testing.assert_array_equal(one, many)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.sampled_from([0.01, 1.0, 3.0, 7.9, 20.0]))
def test_the_live_seconds_sums_are_the_careful_row_or_none_above_8_g(n, seed, scale):
    rng = np.random.default_rng(seed)
    xyz = (rng.normal(0.0, 1.0, (n, 3)) * scale).astype(np.float32)
    if seed % 5 == 0:
        xyz[rng.integers(n), rng.integers(3)] = rng.choice([8.0, -8.0, 8.0001, np.inf, np.nan])
    sums = F._one_second_sums(xyz)
    peak = np.sqrt((np.rint(xyz.astype(np.float64) * F.QUANTUM) ** 2).sum(axis=1)).max()
    if not peak <= F.CLIP_G * F.QUANTUM:  # above 8 g or not finite: the careful path decides
        assert sums is None
    else:
        np.testing.assert_array_equal(np.array(sums), F._one_second_row(xyz))


def _stream_with_faults(seed: int, rate_hz: float, seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples as a BLE link delivers them, with what the live path must hand to the careful one: gaps,
    a reordered burst, a burst that goes back a few seconds, NaN and infinite values, a hard knock
    above 8 g, repeated timestamps."""
    rng = np.random.default_rng(seed)
    n = int(rate_hz * seconds)
    t = 1_800_000_000.0 + np.arange(n) / rate_hz + rng.uniform(0.0, 0.3 / rate_hz, n)
    xyz = rng.normal(0.0, 0.4, (n, 3)) + [0.0, 0.0, 1.0]
    for _ in range(int(rng.integers(0, 4))):
        start = int(rng.integers(0, n - 50))
        fault = rng.integers(6)
        if fault == 0:
            t[start:] += float(rng.uniform(1.0, 5.0))  # a gap
        elif fault == 1:
            t[start : start + 20] = t[start : start + 20][::-1]  # reordered within a packet or two
        elif fault == 2:
            t[start : start + 15] -= float(rng.uniform(1.0, 4.0))  # back in time
        elif fault == 3:
            xyz[start, int(rng.integers(3))] = rng.choice([np.nan, np.inf, -np.inf])
        elif fault == 4:
            t[start + int(rng.integers(20))] = np.nan
        else:
            xyz[start : start + 3] *= 30.0  # a knock above 8 g
    t[rng.integers(0, n, 5)] = t[rng.integers(0, n, 5)]  # repeated or out-of-place timestamps
    return t, xyz.astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([12.5, 50.0, 208.0]),
    st.lists(st.one_of(st.integers(1, 40), st.integers(200, 400)), min_size=1, max_size=12),
)
def test_packets_give_the_rows_and_drops_of_one_whole_array(seed, rate_hz, sizes):
    """The live path (packets of up to ``LIVE_PACKET_MAX`` samples, checked once a second) and the
    general path give every second the same row, bit for bit, and drop the same samples."""
    t, xyz = _stream_with_faults(seed, rate_hz, 40)
    whole = F.SecondAccumulator()
    first, rows = whole.push(SampleChunk(t, xyz))
    last_first, last = whole.flush()
    expected = {first + i: row for i, row in enumerate(np.concatenate([rows, last]))}
    packets, got, position, index = F.SecondAccumulator(), {}, 0, 0
    buffer_t, buffer_xyz = np.empty(400), np.empty((400, 3), np.float32)  # reused, as a decoder may
    while position < len(t):
        size = sizes[index % len(sizes)]
        part_t, part_xyz = t[position : position + size], xyz[position : position + size]
        buffer_t[: len(part_t)], buffer_xyz[: len(part_t)] = part_t, part_xyz
        pushed_first, pushed = packets.push(SampleChunk(buffer_t[: len(part_t)], buffer_xyz[: len(part_t)]))
        got.update({pushed_first + i: row for i, row in enumerate(pushed)})
        position, index = position + size, index + 1
    flushed_first, flushed = packets.flush()
    got.update({flushed_first + i: row for i, row in enumerate(flushed)})
    assert sorted(got) == sorted(expected)
    for second, row in expected.items():
        np.testing.assert_array_equal(got[second], row, err_msg=f"second {second}")
    assert packets.dropped == whole.dropped


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 10_000),
    st.lists(st.sampled_from(range(len(Posture))), min_size=1, max_size=80),
    st.lists(st.integers(1, 20), min_size=1, max_size=10),
    st.lists(st.booleans(), min_size=1, max_size=10),
)
def test_the_one_second_smoother_is_the_array_smoother_for_any_mix_of_calls(first, raw, sizes, singles):
    """Seconds one at a time (``push_second``, the live path) or in groups (``push``), in any order."""
    one_by_one, mixed, grouped = _ModeSmoother(), _ModeSmoother(), _ModeSmoother()
    out_one = [one_by_one.push_second(first + i, code) for i, code in enumerate(raw)]
    out_one.append(one_by_one.flush())
    out_mixed, out_grouped, position, index = [], [], 0, 0
    while position < len(raw):
        size = sizes[index % len(sizes)]
        group = np.array(raw[position : position + size], np.int8)
        out_grouped.append(grouped.push(first + position, group))
        if singles[index % len(singles)]:
            out_mixed += [mixed.push_second(first + position + i, int(code)) for i, code in enumerate(group)]
        else:
            out_mixed.append(mixed.push(first + position, group))
        position, index = position + size, index + 1
    out_mixed.append(mixed.flush())
    out_grouped.append(grouped.flush())
    expected = PostureSeconds.concat(out_grouped)
    assert expected.start == first and len(expected) == len(raw)
    for out in (out_one, out_mixed):
        got = PostureSeconds.concat(out)
        assert got.start == expected.start
        np.testing.assert_array_equal(got.codes, expected.codes)
