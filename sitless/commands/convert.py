"""``sitless convert``: any recording sitless reads, written in sitless's own CSV or NPZ format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sitless.cli import CommandError
from sitless.commands._options import refuse_overwriting

DESCRIPTION = """\
Convert a recording into sitless's own format: CSV (timestamp,x,y,z in g, epoch seconds or ISO-8601)
or NPZ (arrays t and xyz), streamed in bounded memory.

INPUT may be any recording sitless reads, recognised from its content (not only its name):
  Axivity AX3/AX6 .cwa (packed or 16-bit; the AX6 gyroscope is left out), ActiGraph .gt3x
  (wGT3X-BT, GT9X), an ActiLife raw CSV export, a GENEActiv .bin, or a sitless .csv / .npz.
Samples keep the device's own times (its local clock, as the device recorded it); gaps (idle sleep,
a damaged block) stay gaps. Damaged blocks are skipped and listed on stderr by block and byte offset.

You rarely need this: classify, replay and calibrate --from read these files directly.
"""

EPILOG = """\
examples:
  sitless convert participant01.cwa --out participant01.npz
  sitless convert subject7.gt3x --out subject7.csv --iso     ISO-8601 times instead of epoch seconds
  sitless convert wrist.bin --out wrist.npz --json           what was read, as JSON
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="a device's recording (.cwa, .gt3x, .bin, ActiLife CSV) as sitless CSV or NPZ",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="the recording to read")
    parser.add_argument("--out", type=Path, required=True, metavar="OUTPUT", help="samples.csv or samples.npz")
    parser.add_argument("--iso", action="store_true", help="CSV: ISO-8601 timestamps (UTC, Z)")
    parser.add_argument("--json", action="store_true", help="print what was read as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sitless.firmware_bridge.recordings import RecordingError, iter_recording, write_recording
    from sitless.firmware_bridge.recordings_native import device_info

    if args.out.suffix.lower() not in (".csv", ".npz"):
        raise CommandError(f"--out {args.out}: sitless writes .csv or .npz")
    refuse_overwriting({"--out": args.out}, {"INPUT": args.input})
    problems: list[RecordingError] = []
    counted = {"samples": 0, "first": None, "last": None}

    def counting(chunks):
        for chunk in chunks:
            if len(chunk):
                counted["samples"] += len(chunk)
                counted["first"] = counted["first"] if counted["first"] is not None else float(chunk.t[0])
                counted["last"] = float(chunk.t[-1])
            yield chunk

    try:
        info = device_info(args.input)
        write_recording(
            args.out,
            counting(iter_recording(args.input, 1 << 18, on_error="skip", problems=problems)),
            iso=args.iso,
        )
    except RecordingError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write: {error.strerror}") from None
    for problem in problems[:20]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(problems) > 20:
        print(f"warning: ... and {len(problems) - 20} more problems", file=sys.stderr)
    if not counted["samples"]:
        raise CommandError(f"{args.input}: no samples")
    summary = {
        **info.as_dict(),
        "input": str(args.input),
        "output": str(args.out),
        "samples": counted["samples"],
        "first_t": counted["first"],
        "last_t": counted["last"],
        "problems": [str(p) for p in problems],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        where = f", worn on the {info.body_location.lower()}" if info.body_location else ""
        span = counted["last"] - counted["first"]
        over = f"{span / 3600.0:.1f} h" if span >= 3600 else f"{span / 60.0:.1f} min"
        print(
            f"{args.input.name}: {info.format} {info.device}{where}, {counted['samples']:,} samples "
            f"over {over} -> {args.out}"
            + (f" ({len(problems)} problem(s), see above)" if problems else "")
        )
    return 0
