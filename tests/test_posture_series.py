"""The one run-length encoding and the one "skip seconds already seen" of PostureSeconds."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from sitless.analysis.postures import Posture, PostureSeconds

codes_strategy = st.lists(st.sampled_from([int(p) for p in Posture]), max_size=200)


@given(codes_strategy, st.integers(0, 10**9))
@example([int(Posture.SITTING)], 1_800_000_000)  # the live path's one second (its own short path)
def test_runs_expand_back_to_the_seconds(codes, start):
    series = PostureSeconds(start, np.array(codes, np.int8))
    begins, ends, run_codes = series.runs()
    assert np.array_equal(np.repeat(run_codes, ends - begins), series.codes)
    assert (begins[1:] == ends[:-1]).all() and (run_codes[1:] != run_codes[:-1]).all()
    assert [(s.start, s.end, int(s.posture)) for s in series.spells()] == list(
        zip(begins.astype(float), ends.astype(float), run_codes.tolist(), strict=True)
    )


@given(codes_strategy, st.integers(-50, 250))
def test_from_second_keeps_exactly_the_seconds_not_seen(codes, offset):
    series = PostureSeconds(1000, np.array(codes, np.int8))
    rest = series.from_second(1000 + offset)
    assert rest.end == series.end or not len(rest)
    assert rest.start == max(series.start, min(series.end, 1000 + offset))
    assert np.array_equal(rest.codes, series.codes[max(0, offset) :])
    assert series.from_second(None) is series
