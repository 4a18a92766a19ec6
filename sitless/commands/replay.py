"""``sitless replay``: a recording through the same pipeline as the daemon, the data's time as the clock."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from sitless.alerts.mqtt import default_device_id
from sitless.cli import CommandError
from sitless.commands._options import add_broker_option, add_config_option, add_store_option, parse_speed
from sitless.daemon import build_pipeline, load_settings, open_store, run_until_done
from sitless.firmware_bridge.recordings import RecordingError
from sitless.firmware_bridge.sources import ReplaySource

DESCRIPTION = """\
Play a recording (CSV or NPZ, as written by `sitless record` or `sitless simulate`) through the same
classifier, alert policy, store and MQTT publisher as `sitless run`. The recording's own timestamps
drive the clock, so a prompt fires at the data moment it would have fired live, whatever the speed.

The store is always written (postures, prompts and their outcomes). Prompts are published only when a
broker is given (--broker or [mqtt] url in the config file), on the same topics as the daemon: while
`sitless run` is running, replay with a config that sets another [mqtt] device_id. Replaying the same
file again continues where the last replay stopped (an interrupted replay resumes; a finished one has
nothing left to do).
"""

EPILOG = """\
examples:
  sitless replay day.csv                          as fast as possible, store only
  sitless replay day.npz --broker mqtt://localhost:1883
  sitless replay day.csv --speed 60 --broker mqtt://localhost:1883   a minute of data per second
  sitless replay day.csv --store /tmp/test.db --json                  a summary for scripts
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="play a recording through the pipeline (prompts, store, MQTT)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="the recording: .csv, .npz, .cwa, .gt3x, .bin")
    parser.add_argument(
        "--speed", default="max", help="data seconds per wall second: 1 = real time, 60, ... or max (default)"
    )
    add_broker_option(parser, "publish to this broker (without one: store only)")
    add_config_option(parser)
    add_store_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary (prompts with their data times)"
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    speed = parse_speed(args.speed)
    if not args.input.exists():
        raise CommandError(f"{args.input}: no such file")
    settings = load_settings(args.config, broker=args.broker)
    device_id = default_device_id(settings.mqtt)
    # Its own (stable) client id: sharing the daemon's would make the broker drop one for the other.
    settings.mqtt = replace(
        settings.mqtt, client_id=f"{settings.mqtt.client_id or 'sitless-' + device_id}-replay"
    )
    prompts: list[dict] = []
    store = open_store(settings, args.store)
    try:
        source = ReplaySource(args.input, speed)
        pipeline = build_pipeline(
            settings, store, source, device_id=device_id, live=False, on_prompt=prompts.append
        )
        try:
            run_until_done(pipeline)
        except RecordingError as error:
            raise CommandError(str(error)) from None
        if not store.catch_up():  # the disk filled up: what is kept in memory dies with this process
            raise CommandError(
                f"the disk holding {store.path} is full: {store.waiting} could not be stored. Everything "
                "stored before is intact; free some space and run the same replay again (it continues "
                "where the store stopped)"
            )
        waiting = len(store.outbox_pending()) if pipeline.publisher else 0
    finally:
        store.close()
    summary = {
        "input": str(args.input),
        "speed": "max" if math.isinf(speed) else speed,
        "resumed_at": pipeline.resume_at,
        "prompts": [
            {"id": p["id"], "ts": p["ts"], "level": p["level"], "sitting_min": p["sitting_min"],
             "waited_for": p.get("waited_for")}
            for p in prompts
        ],
        "published": pipeline.publisher is not None and waiting == 0,
        "waiting_in_outbox": waiting,
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        if not pipeline.publisher:
            where = " (no broker: store only)"
        elif waiting:
            where = (
                f", NOT all sent: {waiting} message(s) wait in the outbox for {settings.mqtt.url} "
                "(the next replay or `sitless run` with that broker sends them)"
            )
        else:
            where = f", published to {settings.mqtt.url}"
        print(f"{args.input.name}: {len(prompts)} prompt(s){where}")
        for p in prompts:
            print(
                f"  {p['ts']}  level {p['level']}  sitting {p['sitting_min']:.0f} min  {p['exercise']['name']}"
            )
    return 0
