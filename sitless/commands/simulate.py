"""``sitless simulate``: a simulated thigh recording (CSV or NPZ) and its true postures, second by second."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sitless.analysis.postures import PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.cli import CommandError
from sitless.commands._options import refuse_overwriting
from sitless.firmware_bridge.recordings import RecordingError, parse_timestamp, write_recording
from sitless.firmware_bridge.simulate import (
    DEFAULT_START,
    MOUNTINGS,
    SCHEDULES,
    SimulationConfig,
    simulate_chunks,
)
from sitless.posture_csv import write_posture_csv

DESCRIPTION = """\
Simulate a thigh-worn accelerometer with known ground truth: an office day (sitting spells of 10-90
minutes, short stands, walks, a bike commute, lunch, the sensor left on the desk for a while) or full
24-hour days (nights lying down or the sensor on its charger, evenings on the sofa, lighter weekends).

The recording has the sensor's imperfections: noise, gain and offset errors, timestamp jitter and, if
asked, lost BLE packets and disconnects (gaps in the data; the true postures still cover every second).
Thigh frame: x along the thigh (knee to hip, +1 g upright), z out of its front. See docs/simulator.md.

The output format follows the suffix: .csv (timestamp,x,y,z; epoch seconds, or ISO with --iso) or .npz
(arrays t, xyz). The truth file has one row per second: timestamp,posture.
"""

EPILOG = """\
examples:
  sitless simulate --out day.csv --truth truth.csv           an 8-hour office day at 50 Hz
  sitless simulate --hours 168 --schedule fullday --out week.npz --truth week-truth.csv
  sitless simulate --mounting pocket --seed 7 --out pocket.csv
  sitless simulate --rate 25 --packet-loss 0.01 --disconnects-per-hour 0.5 --out lossy.csv
  sitless simulate --start 2026-11-16T00:00:00Z --hours 24 --schedule fullday --out day.npz --json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="make a simulated thigh recording with its true postures",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--hours", type=float, default=8.0, help="duration in hours (default 8; 168 = a week)"
    )
    parser.add_argument(
        "--rate", type=float, default=50.0, help="sampling rate in Hz, 12.5 to 100 (default 50)"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed: same seed, same recording (default 1)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the recording: .csv or .npz")
    parser.add_argument(
        "--truth", type=Path, metavar="FILE", help="also write the true posture of every second (CSV)"
    )
    parser.add_argument(
        "--mounting",
        choices=(*MOUNTINGS, "random"),
        default="front",
        help="how the sensor sits on the thigh (default front; random = any rotation from the seed)",
    )
    parser.add_argument(
        "--schedule", choices=SCHEDULES, default="workday", help="workday (default) or fullday"
    )
    parser.add_argument(
        "--start",
        metavar="TIME",
        help="start time, ISO-8601 with zone or epoch seconds (default 2026-11-16T08:00:00Z, a Monday)",
    )
    parser.add_argument(
        "--packet-loss", type=float, default=0.0, metavar="FRACTION", help="BLE packets lost (0-1)"
    )
    parser.add_argument(
        "--disconnects-per-hour",
        type=float,
        default=0.0,
        metavar="N",
        help="disconnects, each losing 5-120 s",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=SimulationConfig.noise_g,
        metavar="G",
        help=f"white noise SD per axis (default {SimulationConfig.noise_g} g, a real MEMS sensor at rest)",
    )
    parser.add_argument(
        "--iso", action="store_true", help="CSV timestamps as ISO-8601 UTC instead of epoch seconds"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (for scripts)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def _start_epoch(text: str | None) -> float:
    if text is None:
        return DEFAULT_START
    try:
        value = parse_timestamp(text)
    except ValueError as error:
        raise CommandError(f"--start: {error}") from None
    if not float(value).is_integer():
        raise CommandError(f"--start must be a whole second, got {text!r}")
    return float(value)


def run(args: argparse.Namespace) -> int:
    for path, what in ((args.out, "--out"), (args.truth, "--truth")):
        if path is not None and not path.parent.exists():
            raise CommandError(f"{what}: directory {path.parent} does not exist")
    refuse_overwriting({"--out": args.out, "--truth": args.truth}, {})
    if args.out.suffix.lower() not in (".csv", ".npz"):
        raise CommandError(f"--out must end in .csv or .npz, got {args.out.name!r}")
    if args.truth is not None and args.truth.suffix.lower() != ".csv":
        raise CommandError(
            f"--truth is written as CSV (one row per second: timestamp,posture); name it .csv, got {args.truth.name!r}"
        )
    try:
        config = SimulationConfig(
            hours=args.hours,
            rate_hz=args.rate,
            seed=args.seed,
            mounting=args.mounting,
            start=_start_epoch(args.start),
            schedule=args.schedule,
            noise_g=args.noise,
            packet_loss=args.packet_loss,
            disconnects_per_hour=args.disconnects_per_hour,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None

    truth_parts: list[PostureSeconds] = []
    counts = {"samples": 0}
    show_progress = not args.quiet and args.hours >= 24
    began = time.monotonic()

    def chunks() -> Iterator[SampleChunk]:
        for part in simulate_chunks(config, chunk_hours=1.0):
            truth_parts.append(part.truth)
            counts["samples"] += len(part.samples)
            if show_progress:
                done = (part.truth.end - int(config.start)) / 3600.0
                if sys.stderr.isatty():
                    print(f"\rsimulated {done:.0f}/{args.hours:g} h", end="", file=sys.stderr, flush=True)
                elif round(done) % 24 == 0:
                    print(f"simulated {done:.0f}/{args.hours:g} h", file=sys.stderr, flush=True)
            yield part.samples

    try:
        write_recording(args.out, chunks(), iso=args.iso)
    except (OSError, RecordingError) as error:
        raise CommandError(f"cannot write {args.out}: {error}") from None
    if show_progress and sys.stderr.isatty():
        print(file=sys.stderr)
    truth = PostureSeconds.concat(truth_parts)
    if args.truth is not None:
        try:
            write_posture_csv(args.truth, truth)
        except OSError as error:
            raise CommandError(f"cannot write {args.truth}: {error}") from None

    minutes = {label: round(value, 2) for label, value in truth.minutes_per_posture().items() if value > 0}
    expected = round(config.duration_s * config.rate_hz)
    summary = {
        "out": str(args.out),
        "truth": str(args.truth) if args.truth else None,
        "samples": counts["samples"],
        "samples_lost": max(0, expected - counts["samples"]),
        "rate_hz": config.rate_hz,
        "start": int(config.start),
        "hours": config.hours,
        "seed": config.seed,
        "mounting": config.mounting,
        "schedule": config.schedule,
        "minutes": minutes,
        "seconds_taken": round(time.monotonic() - began, 2),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        postures = ", ".join(f"{label} {value:.0f} min" for label, value in minutes.items())
        lost = f" ({summary['samples_lost']:,} lost)" if summary["samples_lost"] else ""
        print(
            f"wrote {args.out}: {counts['samples']:,} samples{lost} over {config.hours:g} h; truth: {postures}"
        )
    return 0
