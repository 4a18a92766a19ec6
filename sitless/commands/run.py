"""``sitless run``: the daemon. Sensor -> postures -> prompts on your phone over MQTT."""

from __future__ import annotations

import argparse
import logging
import math
import time

from sitless.alerts.mqtt import default_device_id
from sitless.cli import CommandError
from sitless.commands._options import add_broker_option, add_config_option, add_store_option
from sitless.config import ConfigError
from sitless.daemon import (
    build_pipeline,
    load_settings,
    open_store,
    run_until_done,
)
from sitless.firmware_bridge.simulate import SimulationConfig
from sitless.firmware_bridge.sources import SimulatedSource
from sitless.source_feed import is_fatal
from sitless.store import StoreError

log = logging.getLogger(__name__)

DESCRIPTION = """\
The sitless daemon: reads the thigh sensor, classifies every second, keeps the store, and when a
sitting spell reaches the limit ([alerts] sit_limit_min, default 30 min) inside working hours, publishes
a prompt with a stretch or strengthening exercise to MQTT (topic sitless/<device_id>/prompt).

Prompts go through an outbox in the store: a broker outage or a restart loses none. A `kill -9` during
a sitting spell is harmless: after a restart the spell continues and the prompt fires on time.
Stop it with Ctrl-C or SIGTERM ("offline" is published on the availability topic).
"""

EPILOG = """\
examples:
  sitless run --device C0:FF:EE:00:00:01 --broker mqtt://localhost:1883
  sitless run                                   sensor and broker from ~/.config/sitless/config.toml
  sitless run --simulate --broker mqtt://localhost:1883    a simulated thigh in real time (no hardware)

credentials: put username/password in [mqtt] of the config file (chmod 600) or set
SITLESS_MQTT_USERNAME / SITLESS_MQTT_PASSWORD; never on the command line.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="the daemon: sensor to prompts on your phone",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--device", metavar="ADDR", help="BLE address of the sensor (default: [sensor] address)"
    )
    source.add_argument("--simulate", action="store_true", help="a simulated thigh sensor, in real time")
    add_broker_option(parser, "where prompts and state go")
    add_config_option(parser)
    add_store_option(parser)
    parser.set_defaults(func=main)


def simulated_source(seed: int = 1) -> SimulatedSource:
    """A simulated office day starting now, released in real time."""
    config = SimulationConfig(hours=24.0, rate_hz=25.0, seed=seed, start=float(math.floor(time.time())))
    return SimulatedSource(config, speed=1.0)


def ble_source(settings, address: str | None):
    try:
        from sitless.firmware_bridge.ble import BleSource, SensorSettings
    except ImportError as error:
        raise CommandError(f"BLE support is not available: {error}") from None
    try:
        sensor = settings.config.section("sensor", SensorSettings)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    if address:
        sensor = SensorSettings(**{**sensor.__dict__, "address": address})
    # No BlueZ at start is not transient (it is not installed, or bluetoothd is stopped): exit with the
    # reason, as `scan` and `record` do; a service manager's Restart= covers a BlueZ still booting.
    # Once connected, a BlueZ restart is waited out like any other dropped link.
    return BleSource(sensor, bluez_required=True)


def main(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, broker=args.broker)
    device_id = default_device_id(settings.mqtt)
    source = simulated_source() if args.simulate else ble_source(settings, args.device)
    if settings.mqtt.url is None:
        log.warning("no broker configured ([mqtt] url or --broker): prompts are stored but not sent")
    store = open_store(settings, args.store)
    try:
        try:
            store.lock_for("sitless run")  # a second daemon on this store refuses to start
        except StoreError as error:
            raise CommandError(str(error)) from None
        pipeline = build_pipeline(settings, store, source, device_id=device_id, live=True)
        try:
            run_until_done(pipeline)
        except Exception as error:
            if is_fatal(error):  # e.g. BlueZ not running: the message says what to do
                raise CommandError(str(error)) from None
            raise
    finally:
        store.close()
    return 0
