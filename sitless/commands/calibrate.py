"""``sitless calibrate``: record the upright reference (stand still 5 s) and save it for the classifier."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from sitless.analysis.calibration import Calibration, CalibrationError, calibrate_standing
from sitless.analysis.samples import SampleChunk
from sitless.calibration_file import (  # noqa: F401 - re-exported for `classify` and the tests
    CalibrationFileError,
    calibration_path,
    load_calibration,
    save_calibration,
)
from sitless.cli import CommandError

DESCRIPTION = """\
Tell sitless which way is "up along your thigh" for the way you wear the sensor: put it on, stand
upright and still, and record 5 seconds.

You do not have to: sitless learns the upright direction from your own walking within a few steps, and
re-learns it each time you put the sensor back on. Calibrating helps for the minutes before your first
walk (the classifier otherwise assumes the sensor's x axis runs along the thigh, either way up) and after
you put the sensor back on in a different orientation.

The reference is saved as JSON (mode 0600) in the data directory and used by `sitless run`, `replay`
and `classify`. Delete it with --reset.
"""

EPILOG = """\
examples:
  sitless calibrate --device C0:FF:EE:00:00:01    stand still for 5 s while the sensor records
  sitless calibrate --from standing.csv           from a recording of standing still (>= 4 s)
  sitless calibrate --simulate --mounting pocket  try it with the simulated sensor
  sitless calibrate --show                        print the saved reference
  sitless calibrate --reset                       forget it (learn from walking only)
"""

#: Seconds recorded from a live sensor; the last 5 are used (people settle after pressing enter).
LIVE_SECONDS = 7.0
USE_SECONDS = 5.0


#: The longest recording `--from` accepts as "standing still" (a deliberate clip, not a day).
MAX_FROM_FILE_S = 120.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="record your upright reference (stand still 5 s)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--device", metavar="ADDR", help="record 5 s from this BLE sensor")
    source.add_argument("--from", dest="from_file", type=Path, metavar="FILE", help="a recording (.csv, .npz, or a device file: .cwa, .gt3x, .bin)")
    source.add_argument("--simulate", action="store_true", help="use the simulated sensor standing still")
    source.add_argument("--show", action="store_true", help="print the saved reference")
    source.add_argument("--reset", action="store_true", help="delete the saved reference")
    parser.add_argument(
        "--mounting",
        default="front",
        help="with --simulate: front, side, pocket, upside_down or random (default front)",
    )
    parser.add_argument("--seed", type=int, default=1, help="with --simulate: random seed (default 1)")
    parser.add_argument("--out", type=Path, help=f"where to save (default {calibration_path()})")
    parser.add_argument("--config", type=Path, help="config file with a [sensor] table (for --device)")
    parser.add_argument("--json", action="store_true", help="print the reference as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.out or calibration_path()
    if args.reset:
        existed = path.exists()
        path.unlink(missing_ok=True)
        print(f"removed {path}" if existed else f"no calibration at {path}")
        return 0
    if args.show:
        try:
            calibration = load_calibration(path)
        except CalibrationFileError as error:
            raise CommandError(str(error)) from None
        if calibration is None:
            raise CommandError(f"no calibration at {path}; the classifier learns from walking")
        _report(calibration, path, args.json)
        return 0
    if args.from_file:
        samples = _read_file(args.from_file)
        if samples.duration_s > MAX_FROM_FILE_S:
            # Its last seconds could be anything (sitting, the sensor on a desk); only the person knows
            # they stood still, so only a short clip made for the purpose is trusted.
            raise CommandError(
                f"{args.from_file} lasts {samples.duration_s / 60:.1f} min; --from wants a short recording "
                f"(at most {MAX_FROM_FILE_S:.0f} s) of you standing still, e.g. "
                "`sitless record --device ADDR --seconds 10 --out stand.csv`"
            )
    elif args.simulate:
        samples = _simulated_standing(args.mounting, args.seed)
    else:
        samples = _record_live(args)
    samples = _last_seconds(samples, USE_SECONDS)
    try:
        calibration = replace(calibrate_standing(samples), created=time.time())  # the clock is the shell's
    except CalibrationError as error:
        raise CommandError(str(error)) from None
    save_calibration(calibration, path)
    _report(calibration, path, args.json)
    return 0


def _report(calibration: Calibration, path: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**calibration.to_dict(), "path": str(path)}, indent=2))
        return
    x, y, z = calibration.up
    angle = float(np.degrees(np.arccos(np.clip(x, -1.0, 1.0))))
    print(f"upright reference (sensor frame): x={x:+.3f} y={y:+.3f} z={z:+.3f}")
    print(f"  {angle:.0f} deg from the sensor's +x axis; saved to {path}")


def _last_seconds(samples: SampleChunk, seconds: float) -> SampleChunk:
    if len(samples) < 2:
        return samples
    keep = samples.t >= samples.t[-1] - seconds
    return SampleChunk(samples.t[keep], samples.xyz[keep])


def _read_file(path: Path) -> SampleChunk:
    from sitless.firmware_bridge.recordings import RecordingError, read_recording

    try:
        return read_recording(path)
    except RecordingError as error:
        raise CommandError(str(error)) from None


def _simulated_standing(mounting: str, seed: int) -> SampleChunk:
    """Six seconds of the simulated person standing still with the chosen mounting."""
    from sitless.firmware_bridge.simulate import SimulationConfig, Simulator

    try:
        config = SimulationConfig(hours=1.0, mounting=mounting, seed=seed)
    except ValueError as error:
        raise CommandError(str(error)) from None
    simulator = Simulator(config)
    schedule = simulator.schedule
    from sitless.analysis.postures import Posture

    for index in np.flatnonzero(schedule.posture == int(Posture.STANDING)):
        begin = float(schedule.start[index]) + 2.0
        end = float(schedule.start[index + 1]) if index + 1 < len(schedule.start) else schedule.duration_s
        if end - begin >= 8.0:
            return simulator.recording(begin, begin + 6.0).samples
    raise CommandError("the simulated hour has no long enough standing spell; try another --seed")


def _record_live(args: argparse.Namespace) -> SampleChunk:
    import asyncio

    from sitless.config import ConfigError, load_config
    from sitless.firmware_bridge.ble import BleSource
    from sitless.firmware_bridge.ble_common import SensorSettings

    try:
        settings = load_config(args.config).section("sensor", SensorSettings)
        settings = replace(settings, address=args.device)
    except (ConfigError, ValueError) as error:
        raise CommandError(str(error)) from None

    async def record() -> SampleChunk:
        source = BleSource(settings, bluez_required=True)
        chunks: list[SampleChunk] = []
        try:
            async for chunk in source.chunks():
                chunks.append(chunk)
                whole = SampleChunk.concat(chunks)
                if whole.duration_s >= LIVE_SECONDS:
                    return whole
        finally:
            await source.close()
        return SampleChunk.concat(chunks)

    print(f"stand upright and still; recording {LIVE_SECONDS:.0f} s from {args.device} ...")
    try:
        return asyncio.run(asyncio.wait_for(record(), timeout=60.0))
    except TimeoutError:
        raise CommandError(f"no {LIVE_SECONDS:.0f} s of data from {args.device} within 60 s") from None
    except Exception as error:  # noqa: BLE001 - any session failure is the user's to see, in one line
        raise CommandError(f"{args.device}: {error}") from None
