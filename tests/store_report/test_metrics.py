"""Metric functions against examples computed by hand (the arithmetic is in each test's comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sitless.analysis.metrics import (
    break_seconds,
    gini,
    period_summary,
    power_law_alpha,
    sitting_bouts,
    w50,
)
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.report import PromptEvent, WeekData, build_report, stretch_of_the_week

SIT, STAND, WALK, LIE, UNK, CYCLE = (
    Posture.SITTING,
    Posture.STANDING,
    Posture.WALKING,
    Posture.LYING,
    Posture.UNKNOWN,
    Posture.CYCLING,
)


def series(*runs: tuple[Posture, int]) -> np.ndarray:
    return np.concatenate([np.full(n, p, np.int8) for p, n in runs])


def test_w50_is_the_bout_length_below_which_half_the_sitting_time_lies() -> None:
    # sorted 1, 2, 3, 4, 10 (S = 20): cumulative shares .05 .15 .30 .50 -> 4 is the first with F >= .5
    assert w50(np.array([10, 3, 1, 4, 2])) == 4
    # ten 1-min bouts and one of 10: the ten short ones already hold half the time
    assert w50(np.array([10] + [1] * 10)) == 1
    assert w50(np.array([])) is None


def test_alpha_is_the_maximum_likelihood_power_law_exponent_with_observed_minimum() -> None:
    # five bouts of 1 min (x_min) and five of e min: sum ln(x/x_min) = 5, alpha = 1 + 10/5 = 3
    fit = power_law_alpha(np.array([1.0] * 5 + [math.e] * 5))
    assert fit is not None
    assert fit.alpha == pytest.approx(3.0)
    assert fit.standard_error == pytest.approx(2.0 / math.sqrt(10))
    assert fit.x_min_min == 1.0 and fit.n == 10


def test_alpha_and_gini_need_ten_bouts_as_in_ggir() -> None:
    nine = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9])
    assert power_law_alpha(nine) is None
    assert gini(nine) is None
    assert power_law_alpha(np.full(10, 5.0)) is None  # all equal: no tail to fit


def test_gini_with_small_sample_correction() -> None:
    # nine bouts of 1 and one of 11: C_k = 1..9, 20; sum C = 65; G = (11 - 2*65/20)/10 = 0.45; x 10/9 = 0.5
    assert gini(np.array([1.0] * 9 + [11.0])) == pytest.approx(0.5)
    assert gini(np.full(12, 7.0)) == pytest.approx(0.0)
    # all time in one bout (the others negligibly short) tends to 1
    assert gini(np.array([1e-9] * 11 + [100.0])) == pytest.approx(1.0, abs=1e-6)


def test_breaks_are_sit_to_upright_transitions_only() -> None:
    codes = series(
        (SIT, 10),  # 0-10
        (STAND, 5),  # 10: break
        (SIT, 10),  # 15-25
        (LIE, 5),  # 25: sitting -> lying is not a break
        (STAND, 5),  # 30: lying -> standing is not a break either
        (SIT, 5),  # 35-40
        (UNK, 30),  # 40-70: a short data gap...
        (WALK, 5),  # 70: ...then walking: a break, dated by the first upright second
        (SIT, 3),  # 75-78
        (UNK, 200),  # 78-278: gap longer than 120 s: we do not know, no break
        (CYCLE, 5),
    )
    assert break_seconds(codes, 1000).tolist() == [1010, 1070]


def test_a_short_data_gap_inside_sitting_does_not_split_the_bout() -> None:
    codes = series((SIT, 600), (UNK, 60), (SIT, 600), (STAND, 10))
    bouts = sitting_bouts(codes, 0)
    assert bouts.start.tolist() == [0] and bouts.end.tolist() == [1260]
    assert bouts.sitting_s.tolist() == [1200]  # the gap is not counted as sitting
    long_gap = sitting_bouts(series((SIT, 600), (UNK, 121), (SIT, 600)), 0)
    assert long_gap.sitting_s.tolist() == [600, 600]


def test_period_summary_counts_prolonged_bouts_breaks_per_hour_and_prompts() -> None:
    codes = series((SIT, 70 * 60), (STAND, 120), (SIT, 35 * 60), (WALK, 60), (SIT, 15 * 60), (STAND, 60))
    bouts = sitting_bouts(codes, 0)
    summary = period_summary(codes, breaks=3, bouts=bouts, prompt_stood_after_s=[60.0, 120.0, 400.0, None])
    assert summary["sitting_min"] == 120.0
    assert summary["breaks_per_sitting_hour"] == 1.5  # 3 breaks / 2 h
    assert summary["bouts_30min"] == 2 and summary["bouts_60min"] == 1
    assert summary["min_in_bouts_30min"] == 105.0
    assert summary["longest_bout_min"] == 70.0
    assert summary["prompts"] == 4 and summary["prompts_heeded"] == 2  # 400 s is over 5 min
    assert summary["median_min_to_stand"] == 1.5  # median of 60 s and 120 s
    assert summary["worn_min"] == 124.0


def _two_day_week(codes: np.ndarray, start: int, prompts: list[PromptEvent] | None = None) -> WeekData:
    return WeekData(
        week="2026-W01",
        timezone="UTC",
        dates=["2026-01-01", "2026-01-02"],
        day_starts=[0, 86400, 172800],
        postures=PostureSeconds(start, codes),
        prompts=prompts or [],
    )


def test_a_bout_over_midnight_is_clipped_into_each_day_and_the_break_lands_on_the_day_it_happens() -> None:
    # sitting 23:30-00:30 then standing: 30 min on each day; the break at 00:30 belongs to day 2
    start = 86400 - 3600
    codes = series((STAND, 1800), (SIT, 3600), (STAND, 1800))
    report = build_report(_two_day_week(codes, start))
    first, second = report["days"]
    assert first["longest_bout_min"] == 30.0 and first["bouts_30min"] == 1 and first["breaks"] == 0
    assert second["longest_bout_min"] == 30.0 and second["bouts_30min"] == 1 and second["breaks"] == 1
    totals = report["week_totals"]
    assert totals["sitting_min"] == 60.0 and totals["bouts_30min"] == 2 and totals["breaks"] == 1
    assert totals["longest_bout_min"] == 30.0
    assert report["previous_week"] is None


def test_seconds_without_data_count_as_neither_worn_nor_nonwear() -> None:
    codes = series((SIT, 600), (UNK, 600), (Posture.NONWEAR, 300))
    day = build_report(_two_day_week(codes, 0))["days"][0]
    assert day["worn_min"] == 10.0 and day["nonwear_min"] == 5.0


def test_stretch_of_the_week_is_the_exercise_prompted_most_often() -> None:
    prompts = [
        PromptEvent(10, "couch stretch", 30),
        PromptEvent(20, "glute bridge", None),
        PromptEvent(30, "glute bridge", 90),
        PromptEvent(40, "couch stretch", None),
        PromptEvent(50, "glute bridge", None),
    ]
    assert stretch_of_the_week(prompts) == {"exercise": "glute bridge", "times_prompted": 3, "tied": []}
    assert stretch_of_the_week([]) is None


def test_no_stretch_of_the_week_is_named_when_exercises_tie() -> None:
    """Eight exercises prompted once each: naming one "prompted 1 time" misled the reader."""
    names = ["couch stretch", "glute bridge", "clam shell", "bird-dog", "plank", "leg swings", "lunges", "donkey kick"]
    prompts = [PromptEvent(10 * i, name, None) for i, name in enumerate(names)]
    assert stretch_of_the_week(prompts) == {"exercise": None, "times_prompted": 1, "tied": names}
