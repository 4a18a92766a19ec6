"""The report's figures as inline SVG strings for the HTML, or one tall PNG.

matplotlib ``Figure`` + ``FigureCanvasAgg`` directly: no pyplot, no global backend, safe in a daemon thread.

Text in the SVGs is drawn as paths (``svg.fonttype = "path"``), so a page needs no font, no network and
looks the same on every phone; the numbers the figures show are also written out as text in the page.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

from sitless.analysis.metrics import BOUT_BAND_LABELS, w50
from sitless.analysis.postures import UPRIGHT, Posture
from sitless.analysis.report import DayDetail, WeekData, day_details
from sitless.analysis.report_text import HEADLINES, headline_texts, period_text

COLOURS: dict[Posture, str] = {
    Posture.SITTING: "#e4572e",
    Posture.LYING: "#9b72aa",
    Posture.STANDING: "#76b041",
    Posture.WALKING: "#17a398",
    Posture.CYCLING: "#2e86ab",
    Posture.NONWEAR: "#b8b8b8",
    Posture.UNKNOWN: "#f2f2f2",
}
BAND_COLOURS = ("#fcd9cd", "#f7a58a", "#ef7650", "#d0421b", "#8c2a10")
STACK_ORDER = (
    Posture.SITTING,
    Posture.LYING,
    Posture.STANDING,
    Posture.WALKING,
    Posture.CYCLING,
    Posture.NONWEAR,
)
INK = "#2b2b2b"
GRID = "#dddddd"
WIDTH_IN = 4.4

_STYLE = {
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}


def _day_label(date: str) -> str:
    import datetime as dt

    day = dt.date.fromisoformat(date)
    return f"{day:%a} {day.day}"


def _minute_runs(codes: np.ndarray) -> list[tuple[float, float, int]]:
    """(start h, width h, posture) runs of the per-minute majority posture: small SVGs, same picture."""
    n_min = math.ceil(len(codes) / 60)
    padded = np.zeros(n_min * 60, np.int64)
    padded[: len(codes)] = codes
    counts = np.zeros((n_min, len(Posture)), np.int64)
    for p in Posture:
        counts[:, p] = (padded.reshape(n_min, 60) == p).sum(axis=1)
    known = counts[:, 1:].sum(axis=1) > 0
    majority = np.where(known, counts[:, 1:].argmax(axis=1) + 1, 0)
    change = np.flatnonzero(np.diff(majority)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n_min]))
    return [(s / 60.0, (e - s) / 60.0, int(majority[s])) for s, e in zip(starts, ends, strict=True)]


def strip_figure(details: list[DayDetail]) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, 0.36 * len(details) + 1.2))
    ax = fig.add_subplot()
    for row, detail in enumerate(details):
        y = len(details) - 1 - row
        for posture in STACK_ORDER:
            runs = [(s, w) for s, w, p in _minute_runs(detail.codes) if p == posture]
            if runs:
                ax.broken_barh(runs, (y - 0.38, 0.76), facecolors=COLOURS[posture], linewidth=0)
    ax.set_xlim(0, 24)
    ax.set_ylim(-0.6, len(details) - 0.4)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xticklabels([f"{h:02d}" for h in range(0, 25, 3)])
    ax.set_yticks(range(len(details)))
    ax.set_yticklabels([_day_label(d.date) for d in reversed(details)])
    ax.tick_params(length=0)
    ax.grid(axis="x", color="white", linewidth=0.8)
    ax.set_axisbelow(False)
    _legend(fig, STACK_ORDER)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.97, bottom=0.8 / (0.36 * len(details) + 1.2))
    return fig


def _legend(fig: Figure, postures: tuple[Posture, ...]) -> None:
    handles = [Patch(facecolor=COLOURS[p], label=p.label) for p in postures]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=8,
        handlelength=1.2,
        columnspacing=1.0,
    )


def _stacked_day_bars(
    fig: Figure, days: list[dict], layers: list[tuple[str, str, list]], ylabel: str
) -> None:
    """One bar per day, ``layers`` of (label, colour, minutes per day) stacked bottom-up, in hours."""
    ax = fig.add_subplot()
    x = np.arange(len(days))
    bottom = np.zeros(len(days))
    for label, colour, minutes in layers:
        hours = np.array(minutes, dtype=float) / 60.0
        ax.bar(x, hours, 0.7, bottom=bottom, color=colour, label=label)
        bottom += hours
    ax.set_xticks(x, [_day_label(d["date"]) for d in days])
    ax.set_ylabel(ylabel)
    ax.yaxis.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def posture_bars_figure(report: dict) -> Figure:
    days = report["days"]
    fig = Figure(figsize=(WIDTH_IN, 3.0))
    layers = [(p.label, COLOURS[p], [d[f"{p.label}_min"] or 0 for d in days]) for p in STACK_ORDER]
    _stacked_day_bars(fig, days, layers, "hours")
    _legend(fig, STACK_ORDER)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.96, bottom=0.27)
    return fig


def band_bars_figure(report: dict) -> Figure:
    days = report["days"]
    fig = Figure(figsize=(WIDTH_IN, 2.8))
    layers = [
        (label, colour, [d["sitting_min_by_band"][band] for d in days])
        for band, (label, colour) in enumerate(zip(BOUT_BAND_LABELS, BAND_COLOURS, strict=True))
    ]
    _stacked_day_bars(fig, days, layers, "sitting hours")
    fig.legend(loc="lower center", ncol=3, frameon=False, fontsize=8, handlelength=1.2, columnspacing=1.0)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.96, bottom=0.29)
    return fig


#: Hour-grid cell states: no sitting in the hour, sat without a break, sat and broke it (or stayed up).
HOUR_NONE, HOUR_MISSED, HOUR_MET = 0, 1, 2
UPRIGHT_MINIMUM_S = 60


def hour_grid(details: list[DayDetail]) -> np.ndarray:
    """days x 24: MET when the hour has >= 1 min upright, MISSED when it has sitting but not that, else NONE.

    As consumer "stand hours": an hour counts when you were up and about for at least a minute in it.
    Hours are counted from local midnight, so on a 25-hour DST day the last hour is left out.
    """
    grid = np.zeros((len(details), 24), np.int8)
    upright = np.array(sorted(int(p) for p in UPRIGHT), np.int8)
    for row, detail in enumerate(details):
        for hour in range(24):
            part = detail.codes[hour * 3600 : (hour + 1) * 3600]
            if not len(part):
                continue
            if np.isin(part, upright).sum() >= UPRIGHT_MINIMUM_S:
                grid[row, hour] = HOUR_MET
            elif np.any(part == Posture.SITTING):
                grid[row, hour] = HOUR_MISSED
    return grid


def hour_grid_figure(details: list[DayDetail]) -> Figure:
    grid = hour_grid(details)
    fig = Figure(figsize=(WIDTH_IN, 0.3 * len(details) + 1.0))
    ax = fig.add_subplot()
    colours = {HOUR_NONE: "#f2f2f2", HOUR_MISSED: "#e4572e", HOUR_MET: "#76b041"}
    for row in range(grid.shape[0]):
        for hour in range(24):
            y = grid.shape[0] - 1 - row
            ax.add_patch(
                FancyBboxPatch(
                    (hour + 0.08, y + 0.08),
                    0.84,
                    0.84,
                    boxstyle="round,pad=0,rounding_size=0.15",
                    facecolor=colours[int(grid[row, hour])],
                    linewidth=0,
                )
            )
    ax.set_xlim(0, 24)
    ax.set_ylim(0, grid.shape[0])
    ax.set_xticks(np.arange(0, 24, 3) + 0.5, [f"{h:02d}" for h in range(0, 24, 3)])
    ax.set_yticks(np.arange(grid.shape[0]) + 0.5, [_day_label(d.date) for d in reversed(details)])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [
        Patch(facecolor=colours[HOUR_MET], label="up ≥ 1 min"),
        Patch(facecolor=colours[HOUR_MISSED], label="sat, no break"),
        Patch(facecolor=colours[HOUR_NONE], label="no sitting"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8, handlelength=1.2)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.97, bottom=0.6 / (0.3 * len(details) + 1.0))
    return fig


def distribution_figure(details: list[DayDetail]) -> Figure:
    """Share of sitting time in bouts up to x minutes, with W50 (half the sitting time in longer bouts)."""
    minutes = np.sort(np.concatenate([d.bouts.minutes for d in details] or [np.zeros(0)]))
    minutes = minutes[minutes > 0]
    fig = Figure(figsize=(WIDTH_IN, 2.8))
    ax = fig.add_subplot()
    if len(minutes):
        share = np.cumsum(minutes) / minutes.sum() * 100
        ax.step(
            np.concatenate(([minutes[0]], minutes)),
            np.concatenate(([0], share)),
            where="post",
            color=COLOURS[Posture.SITTING],
            linewidth=2,
        )
        ax.set_xscale("log")
        ticks = [
            t for t in (1, 2, 5, 10, 15, 30, 60, 120, 240, 480) if minutes[0] * 0.8 <= t <= minutes[-1] * 1.25
        ]
        ax.set_xticks(ticks, [f"{t // 60} h" if t >= 60 else f"{t}" for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        low, high = max(minutes[0] * 0.8, 0.05), minutes[-1] * 1.25
        ax.set_xlim(low, high)
        mark = w50(minutes)
        if mark is not None:
            ax.axvline(mark, color=INK, linestyle="--", linewidth=1)
            ax.axhline(50, color=GRID, linewidth=0.8)
            # The label goes on the side of the line with room for it: to the right it was cut off at
            # the figure's edge ("W50 = 2") whenever W50 lay near the longest bout.
            where = (np.log(mark) - np.log(low)) / max(np.log(high) - np.log(low), 1e-9)
            left = where > 0.55
            ax.annotate(
                f"W50 = {mark:.0f} min", (mark, 50), xytext=(-6 if left else 6, -14), textcoords="offset points",
                ha="right" if left else "left", color=INK, annotation_clip=False,
            )  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no sitting bouts", ha="center", va="center", transform=ax.transAxes, color=INK)
    ax.set_ylim(0, 102)
    ax.set_xlabel("sitting bout length (minutes, log scale)")
    ax.set_ylabel("% of sitting time")
    ax.yaxis.grid(True, color=GRID, linewidth=0.6)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.95, bottom=0.2)
    return fig


def prompts_figure(report: dict) -> Figure:
    days = report["days"]
    fig = Figure(figsize=(WIDTH_IN, 2.4))
    ax = fig.add_subplot()
    x = np.arange(len(days))
    ax.bar(x - 0.18, [d["prompts"] for d in days], 0.36, color="#c9c9c9", label="prompts")
    ax.bar(
        x + 0.18,
        [d["prompts_heeded"] for d in days],
        0.36,
        color=COLOURS[Posture.STANDING],
        label="stood within 5 min",
    )
    ax.set_xticks(x, [_day_label(d["date"]) for d in days])
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.yaxis.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    fig.legend(loc="lower center", ncol=2, frameon=False, fontsize=8, handlelength=1.2)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.26)
    return fig


FigureMaker = Callable[[dict, list[DayDetail]], Figure]

#: (key, title, builder): the order of the figures in the HTML page and the PNG.
FIGURES: tuple[tuple[str, str, FigureMaker], ...] = (
    ("strip", "Your days, hour by hour", lambda r, d: strip_figure(d)),
    ("postures", "Time per posture each day", lambda r, d: posture_bars_figure(r)),
    ("bands", "Sitting time by bout length", lambda r, d: band_bars_figure(r)),
    ("hours", "Hours with a break", lambda r, d: hour_grid_figure(d)),
    ("distribution", "How long you sit at a stretch", lambda r, d: distribution_figure(d)),
    ("prompts", "Prompts and how you answered them", lambda r, d: prompts_figure(r)),
)


def figure_svgs(report: dict, week: WeekData) -> dict[str, str]:
    """Each figure as an ``<svg>`` element string (no XML prolog), ready to inline."""
    details = day_details(week)
    out = {}
    with matplotlib.rc_context(_STYLE):
        for key, _title, make in FIGURES:
            fig = make(report, details)
            FigureCanvasAgg(fig)
            buffer = io.StringIO()
            with matplotlib.rc_context({"svg.hashsalt": f"sitless-{key}"}):
                fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
            text = buffer.getvalue()
            out[key] = text[text.index("<svg") :]
    return out


def headline_figure(report: dict) -> Figure:
    """The PNG's top: the title, the dates and the headline numbers the HTML page shows as cards, so a
    PNG forwarded on its own still says whose week it is and what it came to."""

    totals = report["week_totals"]
    cells = [(label, fmt(totals.get(key))) for label, key, fmt, _lower, _per_day in HEADLINES]
    cells += headline_texts(report)
    columns = 2  # the PNG is phone-width: two cards a row, as the HTML page shows them there
    rows = -(-len(cells) // columns)
    fig = Figure(figsize=(WIDTH_IN, 1.0 + 0.55 * rows))
    height = fig.get_figheight()
    fig.text(0.02, 1 - 0.28 / height, f"Your sitting week {report['week']}", fontsize=15, fontweight="bold",
             color=INK, va="top")  # fmt: skip
    fig.text(0.02, 1 - 0.62 / height, period_text(report), fontsize=9, color="#6b6b6b", va="top")
    for i, (label, value) in enumerate(cells):
        row, column = divmod(i, columns)
        x = 0.02 + column * (0.96 / columns)
        y = 1 - (1.0 + 0.55 * row) / height
        fig.text(x, y, label.upper(), fontsize=7, color="#6b6b6b", va="top", fontweight="bold")
        fig.text(x, y - 0.2 / height, value, fontsize=11, color=INK, va="top", fontweight="bold", wrap=True)
    return fig


def figures_png(report: dict, week: WeekData, *, dpi: int = 130) -> bytes:
    """The headline cards, then all figures stacked into one tall PNG, each under its title."""
    import matplotlib.image as mpimg

    details = day_details(week)
    images = []
    with matplotlib.rc_context(_STYLE):
        header = headline_figure(report)
        FigureCanvasAgg(header)
        buffer = io.BytesIO()
        header.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        buffer.seek(0)
        images.append(mpimg.imread(buffer, format="png"))
        for _key, title, make in FIGURES:
            fig = make(report, details)
            fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold", color=INK)
            fig.subplots_adjust(top=min(fig.subplotpars.top, 0.86))
            FigureCanvasAgg(fig)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
            buffer.seek(0)
            images.append(mpimg.imread(buffer, format="png"))
    width = max(img.shape[1] for img in images)
    rows = []
    for img in images:
        pad = np.ones((img.shape[0], width - img.shape[1], img.shape[2]), img.dtype)
        rows.append(np.concatenate([img, pad], axis=1))
    tall = np.concatenate(rows, axis=0)
    out = io.BytesIO()
    mpimg.imsave(out, tall, format="png")
    return out.getvalue()
