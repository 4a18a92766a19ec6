"""``sitless classify``: second-by-second postures from a recording (CSV or NPZ)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sitless import cohort_cli
from sitless.cli import CommandError
from sitless.commands._options import refuse_overwriting

if TYPE_CHECKING:
    from sitless.analysis.postures import PostureSeconds

DESCRIPTION = """\
Classify a thigh accelerometer recording into one posture per second: sitting, standing, walking,
lying, cycling, nonwear (sensor off the body) or unknown (no data for that second).

The sensor may be on the front or side of the thigh, upside down or loose in a trouser pocket: the
upright direction is learned from your own walking (or from `sitless calibrate`). Until you walk, the
guess is the sensor's long axis: x for a sensor strapped to the thigh; for a phone in a pocket say
--sensor phone (its long side, y, runs along the thigh). The same classifier
runs live in `sitless run`; this command gives exactly the labels the daemon would have given.

INPUT is .csv (timestamp,x,y,z; epoch seconds or ISO-8601 with Z/offset) or .npz (arrays t, xyz),
or a research device's own file, recognised from its content: Axivity .cwa, ActiGraph .gt3x or
ActiLife raw CSV, GENEActiv .bin (see `sitless convert --help`).
Accelerations are in g; a .csv or .npz in m/s^2 or milli-g is recognised from gravity (1 g at rest)
and converted, with a warning that says so (--unit says the unit instead).
OUTPUT is CSV: timestamp,posture with one row per second, e.g. 2026-11-16T08:00:00Z,sitting;
or Parquet if its name ends in .parquet (columns timestamp, UTC seconds, and posture).
A bad input row stops with an error naming the file and line.
"""

EPILOG = """\
examples:
  sitless classify day.csv --out postures.csv                one row per second
  sitless classify day.csv --out postures.csv --summary      ... and minutes per posture
  sitless classify week.npz --out week.csv --summary --json  the summary as JSON for scripts
  sitless classify day.csv --out postures.csv --no-calibration   ignore a saved calibration
  sitless classify phone.csv --out postures.parquet --unit m/s^2 --sensor phone
                                                             a phone export in m/s^2, to Parquet

"""

#: Samples per chunk read from the file: bounded memory whatever the recording's length.
CHUNK_SAMPLES = 1 << 18
#: An NPZ's chunks are larger: each costs the reader's checks, the accumulator's open second and two
#: hand-overs between threads, and 2**19 samples (10 MB, three in flight) took a week 0.1 s less than
#: 2**18 on these 2 cores (2**20 no less again). The CSV reader keeps its own size.
NPZ_CHUNK_SAMPLES = 1 << 19
#: Chunks read and checked ahead on their own thread while the chunk before is summed. A reader that
#: reuses its buffers then needs a set per chunk in flight: summed, waiting, being read.
READ_AHEAD = 1
#: Show a progress bar for inputs larger than this (bytes).
PROGRESS_MIN_BYTES = 20 << 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="per-second postures from a recording",
        description=DESCRIPTION,
        epilog=EPILOG + cohort_cli.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input", nargs="*", metavar="INPUT",
        help="the recording: .csv, .npz, .cwa, .gt3x, .bin (or folders and patterns, with --out-dir)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, metavar="OUTPUT", help="postures to write, .csv or .parquet (one recording)"
    )
    parser.add_argument(
        "--unit",
        choices=("auto", "g", "m/s^2", "milli-g"),
        default="auto",
        help="unit of a .csv or .npz's accelerations (default: auto, recognised from gravity)",
    )
    parser.add_argument(
        "--sensor",
        choices=("thigh", "phone"),
        help="what recorded it: thigh (strapped to the thigh, x along it; the default) or phone (in a "
        "trouser pocket, its long side along the thigh); overrides the config's long_axis",
    )
    parser.add_argument("--summary", action="store_true", help="print minutes per posture")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON (implies --summary)")
    parser.add_argument("--config", type=Path, help="config file with a [classifier] table")
    parser.add_argument(
        "--no-calibration", action="store_true", help="ignore the calibration saved by `sitless calibrate`"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    cohort_cli.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `sitless classify --help` must not wait for numpy and the classifier.
    from sitless.analysis.classify import ClassifierSettings, StreamingClassifier
    from sitless.config import ConfigError, load_config
    from sitless.firmware_bridge.recordings import RecordingError, iter_recording
    from sitless.overlap import ahead
    from sitless.posture_csv import posture_csv_writer, write_posture_parquet

    try:
        settings = load_config(args.config).section("classifier", ClassifierSettings)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    if args.sensor:
        settings = settings.for_sensor(args.sensor)
    calibration = None
    if not args.no_calibration:
        from sitless.commands.calibrate import CalibrationFileError, load_calibration

        try:
            calibration = load_calibration()
        except CalibrationFileError as error:
            raise CommandError(f"{error} (use --no-calibration to ignore it)") from None
    if cohort_cli.wants_cohort(args):
        return cohort_cli.run(args, settings, calibration)
    if args.out is None:
        raise CommandError("--out OUTPUT is required (or --out-dir DIR for many recordings)")
    args.input = Path(args.input[0])
    if not args.input.exists():
        raise CommandError(f"{args.input}: no such file")
    refuse_overwriting({"--out": args.out}, {"INPUT": args.input})
    size = args.input.stat().st_size
    show_progress = not args.no_progress and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
    if show_progress:
        from sitless.firmware_bridge.recordings_native import SAMPLES_PER_BYTE, sniff_format

        try:  # the file's format, not its name, says how many samples a byte holds
            per_byte = SAMPLES_PER_BYTE[sniff_format(args.input)]
        except RecordingError as error:
            raise CommandError(str(error)) from None
    progress = _Progress(size, per_byte) if show_progress else None

    classifier = StreamingClassifier(settings, calibration)
    started = time.monotonic()
    parquet = args.out.suffix.lower() == ".parquet"
    try:
        with contextlib.ExitStack() as output:
            # CSV rows are written as the seconds become final, while the next chunk is summed; the file
            # lands at --out only if everything succeeds.
            emitted = None if parquet else output.enter_context(posture_csv_writer(args.out))
            try:
                # reuse_buffers: the classifier copies the little it keeps (the open second), so the
                # chunks can be read into the same few arrays (no page faults for fresh memory on each
                # chunk). Three stages on three threads: reading and checking, summing per second,
                # labelling (two cores here, four on a Raspberry Pi; NumPy and file reads release the GIL).
                buffers = READ_AHEAD + 2
                size = NPZ_CHUNK_SAMPLES if args.input.suffix.lower() == ".npz" else CHUNK_SAMPLES
                chunks = iter_recording(args.input, size, reuse_buffers=buffers, unit=args.unit)
                series = classifier.feed_all(
                    ahead(chunks, READ_AHEAD), progress.advance if progress else None, ahead, emitted
                )
            except RecordingError as error:
                raise CommandError(str(error)) from None
            finally:
                if progress:
                    progress.close()
            if not len(series):
                raise CommandError(f"{args.input}: no samples")
            if parquet:
                write_posture_parquet(args.out, series)
    except ImportError:
        raise CommandError(f"{args.out}: Parquet needs pyarrow (pip install pyarrow); or write .csv") from None
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write: {error.strerror}") from None
    if args.summary or args.json:
        _print_summary(series, time.monotonic() - started, classifier.dropped_samples, args.json)
    # Everything is written and closed: the process may end without the interpreter's teardown of its
    # ~230 modules (cli.main, for a command line only; 0.035 s of a one-week run's 1.2-s budget).
    args.exit_at_once = True
    return 0


def _print_summary(series: PostureSeconds, seconds: float, dropped: int, as_json: bool) -> None:
    import json  # here: only --json needs it (every import is start-up a user waits for)

    from sitless.analysis.postures import Posture

    minutes = series.minutes_per_posture()
    if as_json:
        print(
            json.dumps(
                {
                    "start": series.start,
                    "seconds": len(series),
                    "minutes": {k: round(v, 2) for k, v in minutes.items()},
                    "dropped_samples": dropped,
                },
                indent=2,
            )
        )
        return
    total = len(series) / 60.0
    print(f"{len(series)} seconds ({total / 60:.1f} h) classified in {seconds:.1f} s")
    for posture in Posture:
        share = 100.0 * minutes[posture.label] / total if total else 0.0
        print(f"  {posture.label:<9} {minutes[posture.label]:8.1f} min  {share:5.1f} %")
    if dropped:
        print(f"  ({dropped} samples dropped: they went back in time)")


class _Progress:
    """A one-line progress bar on stderr counting samples against an estimate of the file's total (its
    size times the format's samples per byte: the readers stream, so bytes read are not known here)."""

    def __init__(self, size_bytes: int, samples_per_byte: float) -> None:
        self.total = size_bytes * samples_per_byte
        self.done = 0
        self.last = 0.0

    def advance(self, samples: int) -> None:
        self.done += samples
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        fraction = min(self.done / max(self.total, 1.0), 1.0)
        bar = "#" * int(fraction * 30)
        sys.stderr.write(f"\rclassifying [{bar:<30}] {fraction * 100:3.0f} %  {self.done:,} samples")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\r" + " " * 72 + "\r")
        sys.stderr.flush()
