"""Sedentary-pattern metrics from per-second postures: bouts, breaks, W50, alpha, Gini, per-day sums.

Pure numpy, no I/O. Every definition (and why it was chosen) is in docs/metrics.md; in short:

* A **sitting bout** is a maximal run of SITTING seconds, as activPAL and ActiPASS count them. A gap of
  UNKNOWN (no data: a BLE dropout) of at most ``BRIDGE_UNKNOWN_S`` between two sitting seconds does not
  end the bout (we do not know the user stood), but only sitting seconds count towards its duration.
  Any other posture ends it: standing, walking or cycling (a *break*), lying or non-wear (not a break).
* A **break** is a sit-to-upright transition: the last second of a sitting bout followed (directly or
  across a bridged gap) by STANDING, WALKING or CYCLING. It is dated by its first upright second.
* Per-day figures use bouts **clipped at local midnight** (the day's seconds only), so that days add up.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from sitless.analysis.postures import UPRIGHT, Posture

#: Longest run of UNKNOWN seconds between two sitting seconds that does not end a bout (the default of
#: ``[alerts] gap_bridge_s``, so that the report and the prompts agree on what a data gap means).
BRIDGE_UNKNOWN_S = 120
#: GGIR computes alpha and Gini only with at least this many bouts.
MIN_BOUTS_FOR_DISTRIBUTION = 10
#: Bout-length bands of the activPAL report, in minutes: [lower, upper).
BOUT_BANDS_MIN: tuple[tuple[float, float], ...] = ((0, 30), (30, 60), (60, 120), (120, 240), (240, math.inf))
BOUT_BAND_LABELS: tuple[str, ...] = ("< 30 min", "30-60 min", "1-2 h", "2-4 h", "≥ 4 h")

_UPRIGHT_CODES = np.array(sorted(int(p) for p in UPRIGHT), np.int8)

#: How long after a prompt standing up counts as responding to it (and the prompt as heeded): 5 min.
#: One definition for the alert policy (which resolves each prompt's outcome), the store and the report.
RESPONSE_WINDOW_S = 300


@dataclass(frozen=True)
class Bouts:
    """Sitting bouts: first second, first second after, and sitting seconds in each (equal arrays)."""

    start: np.ndarray
    end: np.ndarray
    sitting_s: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @property
    def minutes(self) -> np.ndarray:
        return self.sitting_s / 60.0


@dataclass(frozen=True)
class AlphaFit:
    """Maximum-likelihood power-law exponent of bout durations (Chastin & Granat 2010)."""

    alpha: float
    standard_error: float
    x_min_min: float  # the lower bound used: the shortest bout of the set, in minutes
    n: int


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _bridged_sitting(codes: np.ndarray, bridge_s: int) -> np.ndarray:
    """Mask of seconds inside bouts: sitting, plus UNKNOWN gaps of <= bridge_s flanked by sitting."""
    codes = np.asarray(codes, np.int8)
    inside = codes == Posture.SITTING
    if bridge_s <= 0 or not inside.any():
        return inside
    starts, ends = _runs(codes == Posture.UNKNOWN)
    short = (ends - starts <= bridge_s) & (starts > 0) & (ends < len(codes))
    starts, ends = starts[short], ends[short]
    flanked = (codes[starts - 1] == Posture.SITTING) & (codes[ends] == Posture.SITTING)
    for s, e in zip(starts[flanked], ends[flanked], strict=True):
        inside[s:e] = True
    return inside


def sitting_bouts(codes: np.ndarray, start: int = 0, *, bridge_s: int = BRIDGE_UNKNOWN_S) -> Bouts:
    """Sitting bouts of a per-second series beginning at epoch second ``start`` (see module docstring)."""
    codes = np.asarray(codes, np.int8)
    inside = _bridged_sitting(codes, bridge_s)
    begins, ends = _runs(inside)
    sitting = np.cumsum(np.concatenate(([0], codes == Posture.SITTING)))
    return Bouts(
        start=begins.astype(np.int64) + start,
        end=ends.astype(np.int64) + start,
        sitting_s=(sitting[ends] - sitting[begins]).astype(np.int64),
    )


def break_seconds(codes: np.ndarray, start: int = 0, *, bridge_s: int = BRIDGE_UNKNOWN_S) -> np.ndarray:
    """Epoch seconds of the first upright second of each sit-to-upright break."""
    codes = np.asarray(codes, np.int8)
    n = len(codes)
    _, ends = _runs(_bridged_sitting(codes, bridge_s))
    ends = ends[ends < n]
    # The first second with data at or after each bout end: the bout's follower, if it comes soon enough.
    positions = np.where(codes != Posture.UNKNOWN, np.arange(n), n)
    next_known = np.minimum.accumulate(positions[::-1])[::-1]
    follower = next_known[ends]
    soon = (follower < n) & (follower - ends <= bridge_s)
    follower = follower[soon]
    return follower[np.isin(codes[follower], _UPRIGHT_CODES)].astype(np.int64) + start


def w50(durations: np.ndarray) -> float | None:
    """Usual bout duration: the smallest x with F(x) = sum(x_i <= x) / S >= 0.5 (Chastin & Granat 2010)."""
    x = np.sort(np.asarray(durations, np.float64))
    x = x[x > 0]
    if not len(x):
        return None
    share = np.cumsum(x) / x.sum()
    return float(x[int(np.searchsorted(share, 0.5 - 1e-12))])


def power_law_alpha(durations: np.ndarray, *, min_bouts: int = MIN_BOUTS_FOR_DISTRIBUTION) -> AlphaFit | None:
    """alpha = 1 + n / sum(ln(x_i / x_min)), x_min = the shortest bout; SE = (alpha - 1) / sqrt(n).

    None with fewer than ``min_bouts`` bouts (as GGIR) or when all bouts are equally long.
    """
    x = np.asarray(durations, np.float64)
    x = x[x > 0]
    if len(x) < min_bouts:
        return None
    x_min = float(x.min())
    log_sum = float(np.log(x / x_min).sum())
    if log_sum <= 0:
        return None
    alpha = 1.0 + len(x) / log_sum
    return AlphaFit(alpha, (alpha - 1.0) / math.sqrt(len(x)), x_min, len(x))


def gini(durations: np.ndarray, *, min_bouts: int = MIN_BOUTS_FOR_DISTRIBUTION) -> float | None:
    """G = (n + 1 - 2 * sum(C_k) / C_n) / n * n / (n - 1) on bouts sorted ascending (C_k cumulative sums)."""
    x = np.sort(np.asarray(durations, np.float64))
    x = x[x > 0]
    n = len(x)
    if n < max(min_bouts, 2):
        return None
    c = np.cumsum(x)
    g = (n + 1 - 2.0 * c.sum() / c[-1]) / n
    return float(g * n / (n - 1))


def minutes_in_band(durations_min: np.ndarray) -> list[float]:
    """Sitting minutes in each of ``BOUT_BANDS_MIN`` (bouts are assigned whole to their band)."""
    x = np.asarray(durations_min, np.float64)
    return [float(x[(x >= lo) & (x < hi)].sum()) for lo, hi in BOUT_BANDS_MIN]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def period_summary(
    codes: np.ndarray,
    breaks: int,
    bouts: Bouts,
    prompt_stood_after_s: list[float | None],
    *,
    heeded_within_s: float = RESPONSE_WINDOW_S,
) -> dict:
    """The per-day (or per-week) figures of the report from that period's seconds, bouts and prompts.

    ``prompt_stood_after_s`` has one entry per prompt: seconds until the user stood, or None (did not
    stand within 5 minutes, or not known).
    """
    counts = np.bincount(np.asarray(codes, np.int8).astype(np.int64), minlength=len(Posture))
    minutes = {p: counts[p] / 60.0 for p in Posture}
    worn = sum(
        minutes[p]
        for p in (Posture.SITTING, Posture.STANDING, Posture.WALKING, Posture.LYING, Posture.CYCLING)
    )
    bout_min = bouts.minutes
    sitting_h = minutes[Posture.SITTING] / 60.0
    heeded = [s for s in prompt_stood_after_s if s is not None and s <= heeded_within_s]
    return {
        "worn_min": _round(worn),
        "sitting_min": _round(minutes[Posture.SITTING]),
        "lying_min": _round(minutes[Posture.LYING]),
        "standing_min": _round(minutes[Posture.STANDING]),
        "walking_min": _round(minutes[Posture.WALKING]),
        "cycling_min": _round(minutes[Posture.CYCLING]),
        "nonwear_min": _round(minutes[Posture.NONWEAR]),
        "breaks": int(breaks),
        "breaks_per_sitting_hour": _round(breaks / sitting_h, 2) if sitting_h > 0 else None,
        "bouts_30min": int((bout_min >= 30).sum()),
        "min_in_bouts_30min": _round(float(bout_min[bout_min >= 30].sum())),
        "bouts_60min": int((bout_min >= 60).sum()),
        "longest_bout_min": _round(float(bout_min.max())) if len(bout_min) else None,
        "prompts": len(prompt_stood_after_s),
        "prompts_heeded": len(heeded),
        "median_min_to_stand": _round(statistics.median(heeded) / 60.0, 1) if heeded else None,
    }


def distribution_summary(bout_minutes: np.ndarray) -> dict:
    """Week-level distribution of bout lengths: W50, alpha (with its x_min) and Gini."""
    fit = power_law_alpha(bout_minutes)
    return {
        "w50_min": _round(w50(bout_minutes)),
        "alpha": _round(fit.alpha, 3) if fit else None,
        "alpha_se": _round(fit.standard_error, 3) if fit else None,
        "alpha_x_min_min": _round(fit.x_min_min, 3) if fit else None,
        "gini": _round(gini(bout_minutes), 3),
        "n_bouts": int(len(bout_minutes)),
    }
