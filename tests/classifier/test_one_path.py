"""The live path's plain-Python shortcuts are the same rules as the array paths (issue 10: one path per
rule, or both tested against each other on random input)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.analysis import features as F
from sitless.analysis.classify import _ABSENT, LOOKAHEAD_S, LOOKBACK_S, _ModeSmoother
from sitless.analysis.postures import Posture


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
