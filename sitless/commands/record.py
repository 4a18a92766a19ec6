"""``sitless record``: stream a real sensor into a recording file (CSV or NPZ), for replay and testing.

The Bleak session runs in a background thread with its own event loop; the main thread streams chunks
into ``write_recording`` as they arrive. Ctrl-C only sets a flag (a signal handler), so it never lands in
the middle of a write: the file is completed and renamed into place with everything received so far.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from sitless.cli import CommandError

DESCRIPTION = """\
Connect to a BLE accelerometer and write what it measures to a recording: CSV (timestamp,x,y,z;
epoch seconds and g) or NPZ, chosen by the file name. A live line shows samples received, the rate,
the battery level and malformed packets. The session reconnects on its own if the link drops (the gap
stays visible as a jump in the timestamps). Stop with Ctrl-C: everything received is kept.

The recording plays back with `sitless replay FILE` and classifies with `sitless classify FILE`.
"""

EPILOG = """\
examples:
  sitless record --device C0:FF:EE:00:00:01 --out thigh.csv              until Ctrl-C
  sitless record --device C0:FF:EE:00:00:01 --out thigh.csv --seconds 600
  sitless record --device E4:A1:3F:11:22:33 --family movesense --rate 52 --out m.npz
  sitless record --out diy.csv --config board.toml     the [sensor] table names the board
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record a real sensor to a CSV/NPZ file",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--device", metavar="ADDR", help="sensor address from `sitless scan` (default: [sensor] address)"
    )
    parser.add_argument(
        "--out", metavar="FILE", type=Path, required=True, help="recording to write (.csv or .npz)"
    )
    parser.add_argument(
        "--family", help="sensor family (default: recognised from the advertisement; see `sitless sensors`)"
    )
    parser.add_argument(
        "--seconds", type=float, metavar="N", help="stop after N seconds of samples (default: Ctrl-C)"
    )
    parser.add_argument(
        "--rate", type=float, metavar="HZ", help="sampling rate to ask for (default: [sensor] rate_hz, 25)"
    )
    parser.add_argument("--adapter", metavar="HCI", help="Bluetooth adapter, e.g. hci1")
    parser.add_argument(
        "--config", metavar="FILE", type=Path, help="configuration file with a [sensor] table"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from sitless.config import ConfigError, load_config
    from sitless.firmware_bridge.ble_common import SensorSettings

    try:
        settings = load_config(args.config).section("sensor", SensorSettings)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    overrides = {
        "address": args.device,
        "family": args.family,
        "adapter": args.adapter,
        "rate_hz": args.rate,
    }
    try:
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as error:
        raise CommandError(str(error)) from None


class _Recorder:
    """The session thread and what the main thread needs from it (chunks, a status line, the outcome)."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.chunks: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.source = None
        self.thread = threading.Thread(target=self._thread, name="sitless-record-ble", daemon=True)

    def _thread(self) -> None:
        try:
            asyncio.run(self._session())
        except BaseException as error:  # reported by the main thread
            self.error = error

    async def _session(self) -> None:
        from sitless.firmware_bridge.ble import BleSource

        source = BleSource(self.settings, bluez_required=True)
        self.source = source

        async def consume() -> None:
            async for chunk in source.chunks():
                self.chunks.put(chunk)

        task = asyncio.create_task(consume())
        while not self.stop.is_set() and not task.done():
            await asyncio.sleep(0.05)
        await source.close()
        try:
            await asyncio.wait_for(task, 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()

    def status(self, samples: int, seconds: float) -> str:
        source = self.source
        rate = samples / seconds if seconds > 0 else 0.0
        battery = "?" if source is None or source.battery_percent is None else f"{source.battery_percent}%"
        malformed = 0 if source is None else source.stats.malformed
        reconnects = 0 if source is None else source.stats.reconnects
        return (
            f"{samples} samples, {rate:.1f} Hz, battery {battery}, malformed {malformed}, "
            f"reconnects {reconnects}"
        )


def run(args: argparse.Namespace) -> int:
    from sitless.firmware_bridge.recordings import write_recording

    if args.out.suffix.lower() not in (".csv", ".npz"):
        raise CommandError(f"--out {args.out}: the file name must end in .csv or .npz")
    if args.seconds is not None and args.seconds <= 0:
        raise CommandError(f"--seconds must be positive, got {args.seconds:g}")
    if not args.out.parent.is_dir():
        raise CommandError(f"--out {args.out}: directory {args.out.parent} does not exist")
    settings = _settings(args)
    recorder = _Recorder(settings)
    interrupts = 0

    def on_sigint(signum, frame) -> None:
        nonlocal interrupts
        interrupts += 1
        recorder.stop.set()
        if interrupts > 1:
            raise KeyboardInterrupt

    previous = (
        signal.signal(signal.SIGINT, on_sigint)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    counts = {"samples": 0, "seconds": 0.0}
    recorder.thread.start()
    try:
        write_recording(args.out, _chunks(recorder, args.seconds, counts))
    finally:
        recorder.stop.set()
        recorder.thread.join(10)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return _finish(args, recorder, counts)


def _chunks(recorder: _Recorder, seconds: float | None, counts: dict) -> Iterator:
    """Chunks as they arrive, until --seconds, Ctrl-C, or the session ends; prints the live line."""
    tty = sys.stderr.isatty()
    first_arrival: float | None = None
    next_status = time.monotonic() + (0.5 if tty else 10.0)
    while True:
        try:
            chunk = recorder.chunks.get(timeout=0.1)
        except queue.Empty:
            chunk = None
        if chunk is not None:
            if first_arrival is None:
                first_arrival = time.monotonic()
            counts["samples"] += len(chunk)
            yield chunk
        now = time.monotonic()
        counts["seconds"] = now - first_arrival if first_arrival is not None else 0.0
        if now >= next_status:
            line = recorder.status(counts["samples"], counts["seconds"])
            print(f"\r{line}   " if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            next_status = now + (0.5 if tty else 10.0)
        if seconds is not None and counts["seconds"] >= seconds:
            recorder.stop.set()
        if chunk is None and (recorder.stop.is_set() or not recorder.thread.is_alive()):
            recorder.stop.set()
            recorder.thread.join(10)
            while not recorder.chunks.empty():  # the last chunks of a closing session
                late = recorder.chunks.get()
                counts["samples"] += len(late)
                yield late
            if tty:
                print(file=sys.stderr)
            return


def _finish(args: argparse.Namespace, recorder: _Recorder, counts: dict) -> int:
    from sitless.firmware_bridge.ble_common import BleSessionError

    samples = counts["samples"]
    error = recorder.error
    if not samples:
        args.out.unlink(missing_ok=True)  # no empty recording left behind
        if isinstance(error, BleSessionError):
            raise CommandError(str(error))
        if error is not None:
            raise CommandError(f"recording failed: {error!r}")
        raise CommandError("nothing recorded: no samples arrived (is the sensor on and in range?)")
    source = recorder.source
    summary = {
        "file": str(args.out),
        "samples": samples,
        "seconds": round(counts["seconds"], 3),
        "device": getattr(source, "sensor_id", None) or args.device,
        "family": getattr(source, "family", None),
        "battery_percent": getattr(source, "battery_percent", None),
        "malformed": source.stats.malformed if source else 0,
        "reconnects": source.stats.reconnects if source else 0,
        "gaps": len(source.stats.gaps) if source else 0,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"wrote {samples} samples ({counts['seconds']:.1f} s) to {args.out}")
    if error is not None:
        print(f"sitless record: the session ended early: {error}", file=sys.stderr)
        return 1
    return 0
