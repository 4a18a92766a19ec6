"""``sitless scan``: which Bluetooth LE devices are nearby, and which of them sitless can use."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from sitless.cli import CommandError

DESCRIPTION = """\
Listen for Bluetooth LE advertisements for a few seconds and list every device heard: its name,
address, signal strength (RSSI, dBm: -40 is next to you, -90 is the next room) and, for sensors
sitless supports, the recognised model. Use the address with `sitless record --device` or in the
[sensor] table of the configuration.

Needs BlueZ (bluetoothd) running. Most sensors only advertise when awake and not connected to a
phone app: move the sensor and close the vendor's app before scanning.
"""

EPILOG = """\
examples:
  sitless scan                      5 seconds on the default adapter
  sitless scan --timeout 15         sleepy sensors advertise slowly: listen longer
  sitless scan --adapter hci1       use a USB dongle instead of the built-in radio
  sitless scan --json               for scripts: a list of {name, address, rssi, family, model}
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="find BLE sensors nearby and recognise their model",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="how long to listen (default 5)"
    )
    parser.add_argument(
        "--adapter", metavar="HCI", help="Bluetooth adapter, e.g. hci1 (default: BlueZ's default)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="configuration file; its [sensor.generic] profile lets scan recognise a do-it-yourself board",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sitless.firmware_bridge.ble_common import BleSessionError, generic_profile, scan

    if args.timeout <= 0:
        raise CommandError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    generic = None
    settings = _sensor_settings(args.config)
    if settings is not None:
        try:
            generic = generic_profile(settings)
        except ValueError as error:
            raise CommandError(str(error)) from None
    try:
        found = asyncio.run(scan(timeout=args.timeout, adapter=args.adapter or None, generic=generic))
    except BleSessionError as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps([asdict(sensor) for sensor in found], indent=2))
        return 0
    if not found:
        print(
            f"No Bluetooth LE devices heard in {args.timeout:g} s. Is the adapter powered "
            "(`bluetoothctl show`)? Is the sensor charged and awake (many sleep until moved)? "
            "Close any phone app connected to it, then try `sitless scan --timeout 15`."
        )
        return 0
    rows = [("NAME", "ADDRESS", "RSSI", "MODEL")]
    for sensor in found:
        rssi = "" if sensor.rssi is None else str(sensor.rssi)
        model = f"{sensor.model} [{sensor.family}]" if sensor.family else "unknown"
        rows.append((sensor.name or "(no name)", sensor.address, rssi, model))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
    recognised = [sensor for sensor in found if sensor.family]
    if recognised:
        best = recognised[0]
        print(f"\nRecord from it: sitless record --device {best.address} --out test.csv --seconds 60")
    else:
        print(
            "\nNone of these is a sensor sitless recognises. `sitless sensors` lists the supported ones "
            "and what each needs (e.g. the Movesense GSP firmware app); a do-it-yourself board needs a "
            "[sensor.generic] profile."
        )
    return 0


def _sensor_settings(config_path: Path | None):
    """The [sensor] table, if a config file exists (scan works without one)."""
    from sitless.config import ConfigError, load_config
    from sitless.firmware_bridge.ble_common import SensorSettings

    try:
        return load_config(config_path).section("sensor", SensorSettings)
    except ConfigError as error:
        raise CommandError(str(error)) from None
