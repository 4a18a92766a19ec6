"""Accuracy of the sitless classifier against the simulator's truth, side by side with acti-motus.

For each mounting (front, side, pocket, upside down, and random: any 3-D rotation, drawn from the seed)
and rate (12.5, 25, 50 Hz): simulated office days (8 h: bike commute, desk spells, lunch, one spell with
the sensor left on the desk) with 1 % lost packets and 0.5 disconnects an hour. Both classifiers get the same samples. Scored per second:

* sit-vs-upright: share of worn seconds with data where "sedentary (sitting or lying) or not" agrees;
* sitting F1 over worn seconds with data;
* non-wear -> sed: share of off-body seconds with data called sitting or lying;
* overall: share of seconds with data whose label equals the truth.

Usage: ``python benchmarks/accuracy.py`` (about 5 min with the peer), ``--quick`` (one seed, 25 Hz and
the five mountings, 4-hour days), ``--no-peer``, ``--markdown`` for docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitless.analysis.classify import classify  # noqa: E402
from sitless.analysis.postures import Posture, PostureSeconds  # noqa: E402
from sitless.firmware_bridge.simulate import SimulationConfig, simulate  # noqa: E402

MOUNTINGS = ("front", "side", "pocket", "upside_down", "random")
RATES = (12.5, 25.0, 50.0)
TARGETS = {"sit_upright": 0.995, "sit_f1": 0.99, "nonwear_sed": 0.01}


@dataclass
class Score:
    sit_upright: float
    sit_f1: float
    nonwear_sed: float
    overall: float
    seconds: float  # classification wall time


def _sedentary(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, [Posture.SITTING, Posture.LYING])


def score(predicted: PostureSeconds, truth: PostureSeconds, has_data: np.ndarray, seconds: float) -> Score:
    """``has_data`` is per truth second: whether the recording holds a sample in it."""
    p = np.full(len(truth), Posture.UNKNOWN, np.int8)
    lo, hi = max(predicted.start, truth.start), min(predicted.end, truth.end)
    p[lo - truth.start : hi - truth.start] = predicted.codes[lo - predicted.start : hi - predicted.start]
    t = truth.codes
    worn = has_data & (t != Posture.NONWEAR)
    sit_upright = float((_sedentary(p) == _sedentary(t))[worn].mean())
    true_sit, said_sit = (t == Posture.SITTING) & worn, (p == Posture.SITTING) & worn
    f1 = 2 * float((true_sit & said_sit).sum()) / max(float(true_sit.sum() + said_sit.sum()), 1.0)
    off = has_data & (t == Posture.NONWEAR)
    nonwear_sed = float(_sedentary(p)[off].mean()) if off.any() else float("nan")
    overall = float((p == t)[has_data].mean())
    return Score(sit_upright, f1, nonwear_sed, overall, seconds)


def evaluate(mounting: str, rate: float, seed: int, hours: float, peer: bool) -> tuple[Score, Score | None]:
    config = SimulationConfig(
        hours=hours, rate_hz=rate, seed=seed, mounting=mounting, packet_loss=0.01, disconnects_per_hour=0.5
    )
    recording = simulate(config)
    truth = recording.truth
    seconds = np.floor(recording.samples.t).astype(np.int64) - truth.start
    has_data = np.zeros(len(truth), bool)
    has_data[seconds[(seconds >= 0) & (seconds < len(truth))]] = True
    started = time.perf_counter()
    ours = score(classify(recording.samples), truth, has_data, time.perf_counter() - started)
    theirs = None
    if peer:
        from benchmarks._peer_actimotus import classify_with_actimotus

        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = classify_with_actimotus(recording.samples)
        theirs = score(labels, truth, has_data, time.perf_counter() - started)
    return ours, theirs


def _mean(scores: list[Score]) -> Score:
    return Score(*(float(np.nanmean([getattr(s, f) for s in scores])) for f in Score.__dataclass_fields__))


def _cell(value: float, target_key: str | None = None, higher: bool = True) -> str:
    text = f"{value * 100:6.2f}"
    if target_key:
        target = TARGETS[target_key]
        ok = value >= target if higher else value <= target
        text += " " if ok else "!"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one seed, 25 Hz, 4-hour days")
    parser.add_argument("--seeds", type=int, default=2, help="simulated days per cell (default 2)")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--no-peer", action="store_true", help="skip acti-motus")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)  # acti-motus logs a warning per recording
    rates = (25.0,) if args.quick else RATES
    seeds = range(1, 2 if args.quick else args.seeds + 1)
    hours = 4.0 if args.quick else args.hours
    peer = not args.no_peer
    if peer:
        from benchmarks._peer_actimotus import peer_version

        print(f"peer: acti-motus {peer_version()} (Features + Activities(vendor='Other', orientation=True))")
    print(f"{len(seeds)} simulated {hours:g}-h office day(s) per cell, 1 % packet loss, 0.5 disconnects/h")
    print("figures in %; '!' marks a miss of the target (sit-vs-upright >= 99.5, sitting F1 >= 99,")
    print("non-wear called sitting/lying <= 1)\n")
    if args.markdown:
        print(
            "| mounting | Hz | sit-vs-upright ours / peer | sitting F1 ours / peer | non-wear -> sit/lie ours / peer | overall ours / peer |"
        )
        print("|---|---|---|---|---|---|")
    else:
        print(
            f"{'mounting':<12} {'Hz':>5} | {'sit-vs-upright':^17} | {'sitting F1':^17} | {'nonwear->sed':^17} | {'overall':^15} | {'time s':^11}"
        )
        print(
            f"{'':<12} {'':>5} | {'ours':>7}  {'peer':>7} | {'ours':>7}  {'peer':>7} | {'ours':>7}  {'peer':>7} | {'ours':>6} {'peer':>6} | {'ours':>4} {'peer':>5}"
        )
    all_ours: list[Score] = []
    all_peer: list[Score] = []
    for mounting in MOUNTINGS:
        for rate in rates:
            results = [evaluate(mounting, rate, seed, hours, peer) for seed in seeds]
            ours = _mean([r[0] for r in results])
            theirs = _mean([r[1] for r in results]) if peer else None
            all_ours.append(ours)
            if theirs:
                all_peer.append(theirs)
            _print_row(mounting, rate, ours, theirs, args.markdown)
    _print_row("all", 0.0, _mean(all_ours), _mean(all_peer) if all_peer else None, args.markdown)
    return 0


def _print_row(mounting: str, rate: float, ours: Score, theirs: Score | None, markdown: bool) -> None:
    def peer(field: str) -> str:
        return f"{getattr(theirs, field) * 100:6.2f}" if theirs else "   -  "

    hz = f"{rate:g}" if rate else "-"
    if markdown:
        print(
            f"| {mounting} | {hz} | {ours.sit_upright * 100:.2f} / {peer('sit_upright').strip()} "
            f"| {ours.sit_f1 * 100:.2f} / {peer('sit_f1').strip()} "
            f"| {ours.nonwear_sed * 100:.2f} / {peer('nonwear_sed').strip()} "
            f"| {ours.overall * 100:.1f} / {peer('overall').strip()} |"
        )
        return
    peer_time = f"{theirs.seconds:5.1f}" if theirs else "  -  "
    print(
        f"{mounting:<12} {hz:>5} | {_cell(ours.sit_upright, 'sit_upright')} {peer('sit_upright')} "
        f"| {_cell(ours.sit_f1, 'sit_f1')} {peer('sit_f1')} "
        f"| {_cell(ours.nonwear_sed, 'nonwear_sed', higher=False)} {peer('nonwear_sed')} "
        f"| {ours.overall * 100:6.1f} {peer('overall')} | {ours.seconds:4.1f} {peer_time}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
