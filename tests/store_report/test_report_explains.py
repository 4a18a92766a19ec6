"""The report explains itself: W50's label is never cut off, ties have no "stretch of the week", the PNG
carries the headline cards, seconds it could not classify are counted, meetings are shown, and an empty
week says where the data are."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.report import WeekData, build_report, day_details
from sitless.analysis.report_figures import distribution_figure, figures_png, headline_figure
from sitless.analysis.report_html import format_minutes, render_html
from sitless.cli import main
from sitless.store import Store

SIT, UP, UNK = Posture.SITTING, Posture.STANDING, Posture.UNKNOWN


def series(*runs: tuple[Posture, int]) -> np.ndarray:
    return np.concatenate([np.full(n, p, np.int8) for p, n in runs])


def week_of(codes: np.ndarray, busy=None) -> WeekData:
    return WeekData(
        week="2026-W01", timezone="UTC", dates=["2026-01-01", "2026-01-02"], day_starts=[0, 86400, 172800],
        postures=PostureSeconds(0, codes), busy=busy,
    )  # fmt: skip


@pytest.mark.parametrize("bouts_min", [[24], [5, 24], [2, 3, 4, 40, 45], [1, 1, 1, 1, 120, 470]])
def test_the_w50_label_lies_inside_the_figure_whatever_the_bouts(bouts_min):
    codes = np.concatenate([series((SIT, 60 * m), (UP, 120)) for m in bouts_min])
    fig = distribution_figure(day_details(week_of(codes)))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    (label,) = [t for t in fig.axes[0].texts if t.get_text().startswith("W50 = ")]
    box, frame = label.get_window_extent(canvas.get_renderer()), fig.bbox
    assert box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1, (
        label.get_text()
    )
    assert label.get_text().endswith(" min")


def test_the_png_opens_with_the_title_dates_and_headline_numbers():
    codes = series((SIT, 3000), (UP, 600), (UNK, 600))
    report = build_report(week_of(codes))
    texts = [t.get_text() for t in headline_figure(report).texts]
    assert "Your sitting week 2026-W01" in texts and any("Thu 01 Jan" in t for t in texts)
    assert format_minutes(report["week_totals"]["sitting_min"]) in texts and "0 of 0" in texts
    png = mpimg.imread(io.BytesIO(figures_png(report, week_of(codes))), format="png")
    top = png[:120, :, :3]
    assert np.mean(np.abs(top - 1.0).sum(axis=2) > 0.3) > 0.005  # ink at the top, not a blank band


def test_seconds_it_could_not_classify_are_counted_and_explained():
    codes = series((SIT, 600), (UNK, 900), (Posture.NONWEAR, 1200))
    report = build_report(week_of(codes))
    day = report["days"][0]
    assert day["nonwear_min"] == 20.0 and day["no_data_min"] == 15.0 + (86400 - 2700) / 60
    page = render_html(report, week_of(codes))
    assert "20 min not worn" in page and "without data" in page and "bedside table" in page


def test_meeting_time_and_sitting_in_meetings_per_day():
    codes = series((SIT, 7200), (UP, 3600))
    report = build_report(week_of(codes, busy=[(1800, 5400), (7000, 9000)]))
    day = report["days"][0]
    assert day["meeting_min"] == round((3600 + 2000) / 60, 1)
    assert day["sitting_in_meetings_min"] == round((3600 + 200) / 60, 1)
    assert build_report(week_of(codes))["days"][0]["meeting_min"] is None  # no calendar: unknown, not 0
    assert "Meetings" in render_html(report, week_of(codes, busy=[(1800, 5400)]))


def test_an_empty_week_names_the_weeks_that_hold_data(tmp_path: Path, capsys):
    db = tmp_path / "s.db"
    monday = 1794787200  # Mon 2026-11-16 00:00 UTC
    with Store.open(db) as store:
        store.add_postures(PostureSeconds(monday + 8 * 3600, np.full(3600, SIT, np.int8)))
    assert main(["report", "--store", str(db), "--week", "2026-W50", "--timezone", "UTC", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["week"] == "2026-W50"
    assert "no data in week 2026-W50" in captured.err and "2026-W47" in captured.err
    assert f"sitless report --store {db} --week 2026-W47" in captured.err


def test_report_shows_the_meeting_time_of_a_real_ics_file(tmp_path: Path, capsys):
    db = tmp_path / "s.db"
    monday = 1794787200
    with Store.open(db) as store:
        store.add_postures(PostureSeconds(monday + 8 * 3600, np.full(4 * 3600, SIT, np.int8)))
    ics = tmp_path / "work.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261116T090000Z\r\nDTEND:20261116T103000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(f'[calendar]\nics = ["{ics}"]\n')
    args = [
        "report",
        "--store",
        str(db),
        "--week",
        "2026-W47",
        "--timezone",
        "UTC",
        "--config",
        str(config),
        "--json",
        "-",
    ]
    assert main(args) == 0
    monday_figures = json.loads(capsys.readouterr().out)["days"][0]
    assert monday_figures["meeting_min"] == 90.0 and monday_figures["sitting_in_meetings_min"] == 90.0
    ics.write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n")
    assert main(args) == 2
    assert "[calendar] ics" in capsys.readouterr().err
