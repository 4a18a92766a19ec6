"""``sitless demo``: a simulated workday through the real pipeline, with a phone that listens over MQTT.

Nothing in the demo is a stand-in: the simulated thigh feeds the real streaming classifier, the real
alert policy, the real store (its outbox included) and a real Mosquitto; the "phone" is a second MQTT
client that only sees what went through the broker; the report at the end is the real weekly report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from sitless.cli import CommandError
from sitless.commands._options import add_config_option

DESCRIPTION = """\
A simulated 8-hour workday through the whole sitless pipeline in about a minute, no hardware needed.

A simulated thigh sensor (in a trouser pocket at a random rotation, with noise, packet loss and a non-wear spell)
feeds the real classifier; the real alert service decides when a sitting spell is too long and
publishes a prompt with an exercise to a private Mosquitto broker; a second MQTT client plays your
phone and prints every prompt it receives. A status line shows the simulated time, the posture, the
current sitting spell and the prompts sent. At the end the weekly report is written as HTML.

If Mosquitto is not installed, prompts are printed locally and clearly marked as not sent.
"""

EPILOG = """\
examples:
  sitless demo                              the 8-hour day in about a minute
  sitless demo --seconds 20 --seed 7        faster, another day
  sitless demo --broker mqtt://localhost:1883   use your own broker (watch with mosquitto_sub -t 'sitless/#' -v);
                                            what the demo retained there (its Home Assistant device,
                                            state, availability) is removed at the end
  sitless demo --broker mqtt://localhost:1883 --keep-retained   leave the demo device in Home Assistant
  sitless demo --json                       a JSON summary on stdout for scripts
"""

#: The demo's day: Monday 16 November 2026 from 08:00 local time (inside the default working hours).
DEMO_DAY = dt.date(2026, 11, 16)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="a simulated workday through the whole pipeline (no hardware)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--hours", type=float, default=8.0, help="simulated hours from 08:00 (default 8)")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="wall-clock seconds to play the day in (default 60)"
    )
    parser.add_argument("--seed", type=int, default=1, help="which simulated day (default 1)")
    parser.add_argument("--rate", type=float, default=25.0, help="sensor sample rate in Hz (default 25)")
    parser.add_argument(
        "--broker", metavar="URL", help="use this broker instead of starting a private Mosquitto"
    )
    parser.add_argument(
        "--keep-retained",
        action="store_true",
        help="with --broker (or [mqtt] url): leave the demo's retained messages (its Home Assistant device "
        "'sitless demo', its state) on the broker; by default they are removed when the demo ends",
    )
    add_config_option(parser)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path("sitless-demo"),
        metavar="DIR",
        help="where the demo store and report go (default ./sitless-demo; replaced each run)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout at the end")
    parser.set_defaults(func=main)


class Console:
    """One status line on stderr, redrawn in place on a terminal; prompts print above it."""

    def __init__(self, quiet: bool) -> None:
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.lock = threading.Lock()
        self.last_line = ""
        self.last_draw = 0.0
        self.last_logged_slot = -1

    def status(self, line: str, slot: int) -> None:
        """``slot``: the simulated half hour; without a terminal one line per half hour is logged."""
        with self.lock:
            self.last_line = line
            now = time.monotonic()
            if self.tty and now - self.last_draw > 0.1:
                sys.stderr.write("\r\033[K" + line)
                sys.stderr.flush()
                self.last_draw = now
            elif not self.tty and slot != self.last_logged_slot:
                self.last_logged_slot = slot
                print(line, file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        with self.lock:
            out = sys.stderr if self.quiet else sys.stdout
            if self.tty:
                sys.stderr.write("\r\033[K")
            print(text, file=out, flush=True)
            if self.tty and self.last_line:
                sys.stderr.write(self.last_line)
                sys.stderr.flush()

    def done(self) -> None:
        with self.lock:
            if self.tty and self.last_line:
                sys.stderr.write("\r\033[K" + self.last_line + "\n")


def describe_prompt(payload: dict, tz: dt.tzinfo, *, sent: bool) -> str:
    when = dt.datetime.fromisoformat(payload["ts"].replace("Z", "+00:00")).astimezone(tz)
    exercise = payload.get("exercise", {})
    head = "phone received" if sent else "NOT SENT (no broker), prompt"
    return (
        f"\n[{head}] {when:%H:%M}  you have been sitting for {payload['sitting_min']:.0f} min "
        f"(prompt level {payload['level']})\n"
        f"    {exercise.get('name', '?')}: {exercise.get('dosage', '')}\n"
        f"    {exercise.get('instructions', '')}"
    )


class Phone:
    """A second MQTT client that subscribes to the prompt topic, as a phone app would."""

    def __init__(self, mqtt_settings, topic: str, console: Console, tz: dt.tzinfo) -> None:
        from sitless.alerts.mqtt import make_client

        self.received: dict[str, dict] = {}
        self.console, self.tz, self.topic = console, tz, topic
        self.subscribed = threading.Event()
        self.client, address, _ = make_client(mqtt_settings, "sitless-demo-phone", persistent=False)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        self.client.on_message = self._on_message
        try:
            self.client.connect(address.host, address.port, keepalive=30)
        except OSError as error:
            raise CommandError(
                f"cannot reach the broker at {address}: {error.strerror or error}; start it, or leave out "
                "--broker (and [mqtt] url) to let the demo run its own private Mosquitto"
            ) from None
        self.client.loop_start()
        if not self.subscribed.wait(10):
            self.stop()
            raise CommandError(f"the demo phone could not subscribe to {topic} on {address}")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            self.console.message(f"[phone] ignored a message that is not JSON on {message.topic}")
            return
        if payload.get("id") in self.received:  # QoS 1 may deliver twice; the id tells
            return
        self.received[payload["id"]] = payload
        self.console.message(describe_prompt(payload, self.tz, sent=True))

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _clean_up_broker(mqtt, topics, device_id: str, *, keep: bool) -> str:
    """Remove what the demo retained on a user's broker (its Home Assistant device with it), unless told
    to keep it; returns one line saying which happened."""
    from sitless.alerts.discovery import discovery_topic
    from sitless.alerts.mqtt import MqttError, clear_retained

    retained = [topics.availability, topics.state]
    if mqtt.discovery:
        retained.insert(0, discovery_topic(device_id, mqtt.discovery_prefix))
    if keep:
        return f"kept on the broker (--keep-retained): {', '.join(retained)}"
    try:
        clear_retained(mqtt, retained)
    except MqttError as error:
        return f"could not remove the demo's retained messages ({error}); remove {', '.join(retained)} by hand"
    return f"removed the demo's retained messages from the broker (its Home Assistant device '{device_id}' with them)"


def fresh_store_path(out_dir: Path) -> Path:
    """``out_dir/demo.db``, emptied. Folders the demo creates are 0700; an existing one is left as it is."""
    from sitless.firmware_bridge.private_files import make_private_dirs

    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out-dir {out_dir}: is a file, not a folder; name a folder (it is created if missing)")
    try:
        make_private_dirs(out_dir)
    except OSError as error:
        raise CommandError(f"--out-dir {out_dir}: cannot create it: {error.strerror}") from None
    path = out_dir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def main(args: argparse.Namespace) -> int:  # noqa: C901 - a linear script, kept in one piece to read
    from sitless import weekly
    from sitless.alerts.mqtt import topics_for
    from sitless.analysis.postures import SEDENTARY, Posture
    from sitless.analysis.report import build_report
    from sitless.analysis.report_html import render_html
    from sitless.broker import BrokerError, start_private_broker
    from sitless.daemon import build_pipeline, load_settings, open_store, run_until_done
    from sitless.firmware_bridge.simulate import SimulationConfig
    from sitless.firmware_bridge.sources import SimulatedSource

    if not (0 < args.hours <= 24) or not args.seconds > 0:
        raise CommandError("--hours must be in (0, 24] and --seconds > 0")
    settings = load_settings(args.config, broker=args.broker)
    if not args.verbose:  # the status line and the phone say what happens; keep the log for problems
        logging.getLogger("sitless").setLevel(logging.WARNING)
    tz = weekly.resolve_timezone(settings.alerts.timezone)
    console = Console(quiet=args.json)
    start = int(dt.datetime.combine(DEMO_DAY, dt.time(8, 0), tz).timestamp())

    try:  # every argument is checked before a broker starts or a file is touched
        simulation = SimulationConfig(
            hours=args.hours,
            rate_hz=args.rate,
            seed=args.seed,
            mounting="pocket",
            start=float(start),
            packet_loss=0.005,
            disconnects_per_hour=0.25,
        )
    except ValueError as error:
        raise CommandError(f"--rate/--hours: {error}") from None
    store_path = fresh_store_path(args.out_dir)
    speed = args.hours * 3600.0 / args.seconds
    source = SimulatedSource(simulation, speed=speed)

    # What starts from here is stopped by `cleanup` whatever happens (an error, Ctrl-C); if this process
    # is killed outright, the broker dies with it (PrivateBroker.die_with_parent).
    cleanup = contextlib.ExitStack()
    broker = phone = None
    cleanup_note = ""
    try:
        mqtt = settings.mqtt
        if mqtt.url is None:
            try:
                broker = start_private_broker(
                    Path(tempfile.mkdtemp(prefix="sitless-demo-broker-")), die_with_parent=True
                )
                cleanup.callback(broker.close)
                mqtt = replace(mqtt, url=broker.url)
                console.message(f"started a private Mosquitto broker on {broker.url}")
            except BrokerError as error:
                console.message(f"{error}\nGoing on without a broker: prompts are printed here, marked NOT SENT.")
        # Never the configured device's own topics: the demo must not overwrite (or, cleaning up, remove)
        # the state and Home Assistant device of a real sitless on the same broker.
        device_id = f"{mqtt.device_id}-demo" if mqtt.device_id else "demo"
        mqtt = replace(mqtt, device_id=device_id, prefix=None, client_id=None)
        settings = replace(settings, mqtt=mqtt)
        topics = topics_for(mqtt, device_id)
        store = open_store(settings, store_path)
        cleanup.callback(store.close)
        phone = Phone(mqtt, topics.prompt, console, tz) if mqtt.url else None
        if phone:
            cleanup.callback(phone.stop)
    except BaseException:
        cleanup.close()
        raise

    def on_status(status) -> None:
        clock = dt.datetime.fromtimestamp(status.data_time, tz)
        spell = (
            f"sitting spell {status.sitting_spell_s / 60:4.0f} min"
            if status.posture in SEDENTARY or status.sitting_spell_s
            else "sitting spell    -   "
        )
        line = (
            f"{clock:%a %H:%M:%S}  {Posture(status.posture).label:<9}  {spell}  "
            f"prompts sent {status.prompts_sent}  broker {'up' if status.connected else 'down'}"
        )
        console.status(line, slot=int((status.data_time - start) // 1800))

    def on_prompt(payload: dict) -> None:
        if phone is None:
            console.message(describe_prompt(payload, tz, sent=False))

    console.message(
        f"simulating {args.hours:g} h from {dt.datetime.fromtimestamp(start, tz):%a %d %b %H:%M %Z} "
        f"at {speed:.0f}x: the phone prints each prompt it receives\n"
    )
    wall0 = time.monotonic()
    try:
        pipeline = build_pipeline(
            settings, store, source, device_id=device_id, live=False, on_status=on_status, on_prompt=on_prompt
        )
        run_until_done(pipeline)
        console.done()
        if phone:
            phone.wait_for(pipeline.prompts_sent, timeout=10.0)
        week = weekly.week_label(DEMO_DAY)
        this_week, previous = weekly.load_report_weeks(store, week, tz)
        report = build_report(this_week, previous, generated=round(time.time(), 3))
        report_path = (args.out_dir / "report.html").resolve()
        weekly.write_private(report_path, render_html(report, this_week).encode())
    finally:
        cleanup.close()  # the phone, the store, our own broker
        if not broker and mqtt.url:
            cleanup_note = _clean_up_broker(mqtt, topics, device_id, keep=args.keep_retained)

    day = report["days"][0] if report.get("days") else {}
    # The demo's data lie in a fixed week: the plain `sitless report` (this week, the default store)
    # would find nothing. This is the command that shows them.
    report_command = f"sitless report --store {shlex.quote(str(store_path.resolve()))} --week {week}"
    received = len(phone.received) if phone else 0
    summary = {
        "simulated_hours": args.hours,
        "wall_seconds": round(time.monotonic() - wall0, 1),
        "prompts_sent": pipeline.prompts_sent,
        "prompts_received_by_phone": received,
        "sitting_min": day.get("sitting_min"),
        "truth_sitting_min": round(float((source.simulator.truth().codes == Posture.SITTING).sum()) / 60, 1),
        "longest_bout_min": day.get("longest_bout_min"),
        "breaks": day.get("breaks"),
        "store": str(store_path.resolve()),
        "report_html": str(report_path),
        "report_command": report_command,
        "broker_cleanup": cleanup_note or None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        delivered = f", {received} received by the phone" if phone else " (not sent: no broker)"
        print(
            f"\n{summary['wall_seconds']:.0f} s for {args.hours:g} simulated hours: "
            f"{pipeline.prompts_sent} prompts sent{delivered}.\n"
            f"sitting {summary['sitting_min']} min (the simulator's truth: {summary['truth_sitting_min']} min), longest bout {summary['longest_bout_min']} min, "
            f"{summary['breaks']} breaks\n"
            f"store:  {summary['store']}\n"
            f"weekly report (HTML): {report_path}\n"
            f"the demo's week again, any time: {report_command}"
            + (f"\n{cleanup_note}" if cleanup_note else "")
        )
    if phone and received < pipeline.prompts_sent:
        print(f"warning: the phone received {received} of {pipeline.prompts_sent} prompts", file=sys.stderr)
        return 1
    return 0
