"""A simulated week replayed into a store gives the report numbers the simulator meant.

Tolerance: counts (breaks, bouts, prompts) must be exact; minutes may differ by at most 0.05 min, the
rounding of the JSON to 0.1 min. The ground truth is computed by interval arithmetic on the bouts the
generator decided (tests/store_report/synthetic.py), not by analysis.metrics.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.store import Store
from sitless.weekly import ReportError, build_weekly_report, local_midnight, parse_week, resolve_week

from .synthetic import simulate_days, truth_for_day

TZ = ZoneInfo("Europe/Copenhagen")
#: 2026-W43 (Mon 19 Oct to Sun 25 Oct 2026) ends with the switch from summer time: Sunday has 25 hours.
DST_WEEK, DST_MONDAY = "2026-W43", dt.date(2026, 10, 19)
MINUTES_TOLERANCE = 0.0501  # half the 0.1-min rounding step of the JSON (plus float slack)


def store_in_hourly_chunks(store: Store, series: PostureSeconds) -> None:
    """As the daemon does: an hour at a time, and once an overlapping replay (a restart after a crash)."""
    for offset in range(0, len(series), 3600):
        store.add_postures(PostureSeconds(series.start + offset, series.codes[offset : offset + 3600]))
        if offset == 3600 * 30:
            store.add_postures(PostureSeconds(series.start, series.codes[: offset + 3600]))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, PostureSeconds, object]:
    """Two weeks: the one before the DST week and the DST week itself."""
    series, truth = simulate_days(DST_MONDAY - dt.timedelta(days=7), 14, TZ, seed=11)
    store = Store.open(tmp_path_factory.mktemp("weekly") / "sitless.db")
    store_in_hourly_chunks(store, series)
    yield store, series, truth
    store.close()


def test_each_day_of_a_simulated_week_matches_the_simulators_truth(simulated) -> None:
    store, series, truth = simulated
    report = build_weekly_report(store, DST_WEEK, TZ)
    assert report["week"] == DST_WEEK and [d["date"] for d in report["days"]] == [
        (DST_MONDAY + dt.timedelta(days=i)).isoformat() for i in range(7)
    ]
    for day in report["days"]:
        date = dt.date.fromisoformat(day["date"])
        t0, t1 = local_midnight(date, TZ), local_midnight(date + dt.timedelta(days=1), TZ)
        expected = truth_for_day(truth, series, t0, t1)
        where = f"on {day['date']}"
        assert day["sitting_min"] == pytest.approx(expected["sitting_min"], abs=MINUTES_TOLERANCE), where
        assert day["walking_min"] == pytest.approx(expected["walking_min"], abs=MINUTES_TOLERANCE), where
        assert day["breaks"] == expected["breaks"], where
        assert day["bouts_30min"] == expected["bouts_30min"], where
        assert day["bouts_60min"] == expected["bouts_60min"], where
        assert day["longest_bout_min"] == pytest.approx(
            expected["longest_bout_min"], abs=MINUTES_TOLERANCE
        ), where


def test_the_day_the_clocks_go_back_has_25_hours(simulated) -> None:
    store, series, _truth = simulated
    sunday = build_weekly_report(store, DST_WEEK, TZ)["days"][-1]
    assert sunday["date"] == "2026-10-25"
    t0 = local_midnight(dt.date(2026, 10, 25), TZ)
    t1 = local_midnight(dt.date(2026, 10, 26), TZ)
    assert t1 - t0 == 25 * 3600
    no_data_min = np.sum(series.codes[t0 - series.start : t1 - series.start] == Posture.UNKNOWN) / 60
    assert sunday["worn_min"] + sunday["nonwear_min"] + no_data_min == pytest.approx(25 * 60, abs=0.1)


def test_week_distribution_metrics_match_the_truth_bouts(simulated) -> None:
    store, series, truth = simulated
    totals = build_weekly_report(store, DST_WEEK, TZ)["week_totals"]
    t0, t1 = local_midnight(DST_MONDAY, TZ), local_midnight(DST_MONDAY + dt.timedelta(days=7), TZ)
    bouts = []
    for i in range(7):
        a = local_midnight(DST_MONDAY + dt.timedelta(days=i), TZ)
        b = local_midnight(DST_MONDAY + dt.timedelta(days=i + 1), TZ)
        bouts += truth_for_day(truth, series, a, b)["bout_minutes"]
    x = np.sort(np.array(bouts))
    # W50 by its definition, written independently: walk up the sorted bouts until half the time is covered
    covered, expected_w50 = 0.0, None
    for value in x:
        covered += value
        if covered >= x.sum() / 2:
            expected_w50 = value
            break
    # Gini as the mean absolute difference over twice the mean, with the n/(n-1) correction
    n = len(x)
    expected_gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()) * n / (n - 1)
    expected_alpha = 1 + n / np.log(x / x.min()).sum()
    assert totals["n_bouts"] == n
    assert totals["w50_min"] == pytest.approx(expected_w50, abs=MINUTES_TOLERANCE)
    assert totals["gini"] == pytest.approx(expected_gini, abs=0.001)
    assert totals["alpha"] == pytest.approx(expected_alpha, abs=0.001)
    assert totals["alpha_x_min_min"] == pytest.approx(x.min(), abs=0.001)
    assert totals["sitting_min"] == pytest.approx(
        float(np.sum(series.codes[t0 - series.start : t1 - series.start] == Posture.SITTING)) / 60,
        abs=MINUTES_TOLERANCE,
    )


def test_previous_week_holds_the_totals_of_the_week_before_or_null(simulated) -> None:
    store, _series, _truth = simulated
    report = build_weekly_report(store, DST_WEEK, TZ)
    earlier = build_weekly_report(store, "2026-W42", TZ)
    assert report["previous_week"] == earlier["week_totals"]
    assert earlier["previous_week"] is None  # nothing stored before 2026-W42


def test_prompts_heeded_and_stretch_of_the_week_come_from_the_prompts_table(tmp_path: Path) -> None:
    monday = local_midnight(DST_MONDAY, TZ)
    with Store.open(tmp_path / "s.db") as store:
        store.add_postures(PostureSeconds(monday, np.full(3600 * 10, Posture.SITTING, np.int8)))
        outcomes = [("a", 60.0, "couch stretch"), ("b", 180.0, "glute bridge"), ("c", None, "couch stretch")]
        for i, (pid, stood, exercise) in enumerate(outcomes):
            store.add_prompt(pid, monday + 3600 * (i + 1), 1800.0, 1, exercise)
            store.set_prompt_outcome(pid, stood)
        store.add_prompt("d", monday + 3600 * 5, 1800.0, 1, "couch stretch")  # outcome not known yet
        report = build_weekly_report(store, DST_WEEK, TZ)
    monday_figures = report["days"][0]
    assert monday_figures["prompts"] == 4 and monday_figures["prompts_heeded"] == 2
    assert monday_figures["median_min_to_stand"] == 2.0  # median of 1 min and 3 min
    assert report["stretch_of_the_week"] == {"exercise": "couch stretch", "times_prompted": 3, "tied": []}


def test_the_current_week_covers_monday_to_today(tmp_path: Path) -> None:
    wednesday_noon = dt.datetime(2026, 11, 25, 12, 0, tzinfo=TZ).timestamp()
    with Store.open(tmp_path / "s.db") as store:
        report = build_weekly_report(store, "current", TZ, now=wednesday_noon)
    assert report["week"] == "2026-W48"
    assert [d["date"] for d in report["days"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert report["week_totals"]["days_with_data"] == 0 and report["previous_week"] is None


def test_week_labels_last_week_and_bad_labels() -> None:
    wednesday = dt.datetime(2026, 11, 25, 12, 0, tzinfo=TZ).timestamp()
    assert resolve_week(None, TZ, wednesday) == (dt.date(2026, 11, 16), False)  # last complete week
    assert resolve_week("last", TZ, wednesday) == (dt.date(2026, 11, 16), False)
    assert resolve_week("2026-W48", TZ, wednesday) == (dt.date(2026, 11, 23), True)
    assert parse_week("2026-W01") == dt.date(2025, 12, 29)  # ISO week 1 can start in December
    with pytest.raises(ReportError, match="2026-W54.*does not exist"):
        parse_week("2026-W54")
    with pytest.raises(ReportError, match="not an ISO week like 2026-W47"):
        parse_week("47")


def test_the_firmware_bridge_simulators_week_gives_its_truth_back(tmp_path: Path) -> None:
    """The project's simulator (fullday schedule) as ground truth; expected values from its spells alone."""
    from sitless.analysis.postures import UPRIGHT
    from sitless.firmware_bridge.simulate import SimulationConfig, Simulator

    monday = dt.date(2026, 11, 16)
    start = local_midnight(monday, TZ)
    truth = Simulator(
        SimulationConfig(hours=168, schedule="fullday", start=float(start), rate_hz=25.0)
    ).truth()
    assert truth.start == start and len(truth) == 7 * 86400
    assert not np.any(truth.codes == Posture.UNKNOWN), "no disconnects configured: every second is known"
    with Store.open(tmp_path / "s.db") as store:
        store_in_hourly_chunks(store, truth)
        report = build_weekly_report(store, "2026-W47", TZ)
    spells = truth.spells()
    for i, day in enumerate(report["days"]):
        t0, t1 = start + i * 86400, start + (i + 1) * 86400  # no DST change in this week
        sitting = [min(s.end, t1) - max(s.start, t0) for s in spells if s.posture == Posture.SITTING]
        sitting = [x / 60 for x in sitting if x > 0]
        breaks = sum(
            1
            for before, after in zip(spells, spells[1:], strict=False)
            if before.posture == Posture.SITTING and after.posture in UPRIGHT and t0 <= after.start < t1
        )
        where = f"on {day['date']}"
        assert day["sitting_min"] == pytest.approx(sum(sitting), abs=MINUTES_TOLERANCE), where
        assert day["breaks"] == breaks, where
        assert day["bouts_30min"] == sum(x >= 30 for x in sitting), where
        assert day["bouts_60min"] == sum(x >= 60 for x in sitting), where
        assert day["longest_bout_min"] == pytest.approx(max(sitting, default=0), abs=MINUTES_TOLERANCE), where
    assert report["week_totals"]["breaks"] > 20 and report["week_totals"]["sitting_min"] > 1000


def test_spells_are_painted_into_seconds_for_one_or_several_sensors() -> None:
    from sitless.weekly import paint_spells

    one = np.array([[10, 15, Posture.SITTING], [15, 18, Posture.STANDING], [20, 30, Posture.LYING]])
    assert paint_spells(one, 12, 22).tolist() == [2, 2, 2, 3, 3, 3, 0, 0, 5, 5]
    # two sensors overlapping (a replaced sensor worn briefly together): the later-starting spell wins
    two = np.array([[0, 10, Posture.SITTING], [5, 8, Posture.STANDING]])
    assert paint_spells(two, 0, 10).tolist() == [2, 2, 2, 2, 2, 3, 3, 3, 2, 2]
    assert paint_spells(np.zeros((0, 3), np.int64), 0, 3).tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_workday_through_the_real_classifier_and_store_reports_close_to_the_truth(
    tmp_path: Path, seed: int
) -> None:
    """Simulated samples -> analysis.classify -> store -> report, against the simulator's truth.

    Looser tolerance, because the classifier is not perfect: sitting within 2 %, breaks within 2,
    bouts of 30 min or more within 1, the longest bout within 15 min (a fidget read as standing splits it).
    Sitting may also include the first ``nonwear_still_min`` minutes of the desk spell: non-wear waits
    that long so that a still sitter is never called off the body (docs/classifier.md, non-wear).
    """
    from sitless.analysis.classify import classify
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate

    start = dt.datetime(2026, 11, 16, 8, 0, tzinfo=TZ).timestamp()
    recording = simulate(SimulationConfig(hours=9, schedule="workday", start=start, rate_hz=12.5, seed=seed))
    classified = classify(chunk for chunk in recording.samples.split(12_500 * 60))
    with Store.open(tmp_path / "classified.db") as store:
        store_in_hourly_chunks(store, classified)
        got = build_weekly_report(store, "2026-W47", TZ)["days"][0]
    with Store.open(tmp_path / "truth.db") as store:
        store_in_hourly_chunks(store, recording.truth)
        want = build_weekly_report(store, "2026-W47", TZ)["days"][0]
    assert want["sitting_min"] > 300 and want["breaks"] >= 5, "the workday has sitting and breaks to find"
    from sitless.analysis.classify import ClassifierSettings
    from sitless.analysis.postures import Posture

    off = np.flatnonzero(np.diff(np.r_[0, (recording.truth.codes == Posture.NONWEAR).astype(int), 0]))
    wait_s = ClassifierSettings().nonwear_still_min * 60
    desk_allowance_min = (
        sum(min(end - begin, wait_s) for begin, end in zip(off[::2], off[1::2], strict=True)) / 60
    )
    assert 0.98 * want["sitting_min"] <= got["sitting_min"] <= 1.02 * want["sitting_min"] + desk_allowance_min
    assert abs(got["breaks"] - want["breaks"]) <= 2
    assert abs(got["bouts_30min"] - want["bouts_30min"]) <= 1
    assert got["longest_bout_min"] == pytest.approx(want["longest_bout_min"], abs=15)
