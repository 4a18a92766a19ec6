"""``sitless report``: the weekly sitting report in the terminal, as JSON, HTML, PNG, or over MQTT."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitless.cli import CommandError
from sitless.commands._options import (
    add_broker_option,
    add_config_option,
    add_store_option,
    refuse_overwriting,
)

DESCRIPTION = """\
The weekly sitting report from the store: minutes per posture, breaks from sitting, long sitting
bouts, the bout-length distribution (W50, alpha, Gini), prompts and whether you stood up.

Weeks are ISO weeks (Monday to Sunday) in your local time zone. Without --week or --last the report
covers the current week so far (Monday up to today). Every number is defined, with its source, in
docs/metrics.md.
"""

EPILOG = """\
examples:
  sitless report                          this week so far, in the terminal
  sitless report --last --html week.html  last complete week as one self-contained HTML page
  sitless report --week 2026-W47 --json - the JSON summary on stdout (for scripts)
  sitless report --last --png week.png    the figures as one tall PNG
  sitless report --last --publish         send the JSON, retained, to sitless/<device>/report/weekly
  sitless report --store ./sitless.db --timezone Europe/Copenhagen
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the weekly sitting report (terminal, JSON, HTML, PNG, MQTT)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--week", metavar="YYYY-Www", help="an ISO week, e.g. 2026-W47 (default: the current week so far)"
    )
    which.add_argument("--last", action="store_true", help="the last complete week (Monday to Sunday)")
    add_store_option(parser)
    add_config_option(parser)
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone for days and weeks (default: [report] timezone, else [alerts] timezone, else the machine's)",
    )
    parser.add_argument(
        "--html", metavar="FILE", type=Path, help="write the report as one self-contained HTML page"
    )
    parser.add_argument("--png", metavar="FILE", type=Path, help="write the figures as one tall PNG")
    parser.add_argument("--json", metavar="FILE", help="write the JSON summary to FILE ('-' for stdout)")
    parser.add_argument(
        "--publish", action="store_true", help="publish the JSON summary, retained, to <prefix>/report/weekly"
    )
    add_broker_option(parser, "for --publish")
    parser.add_argument(
        "--topic",
        metavar="TOPIC",
        help="topic for --publish (default: <[mqtt] prefix or sitless/<device_id>/>report/weekly, as the daemon names it)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sitless import weekly
    from sitless.alerts.calendar import CalendarError, CalendarFeeds, CalendarSettings
    from sitless.alerts.policy import AlertSettings
    from sitless.config import ConfigError, load_config
    from sitless.store import Store, StoreError, StoreSettings

    try:
        config = load_config(args.config)
        store_settings = config.section("store", StoreSettings)
        report_settings = config.section("report", weekly.ReportSettings)
        alerts_zone = config.section("alerts", AlertSettings).timezone  # the daemon's Monday report uses it
        calendar = config.section("calendar", CalendarSettings).with_environment()
    except (ConfigError, ValueError) as error:
        raise CommandError(str(error)) from None
    path = args.store.expanduser() if args.store else store_settings.resolved_path()
    refuse_overwriting({"--html": args.html, "--png": args.png, "--json": args.json}, {"the store": path})
    if not path.exists():
        raise CommandError(
            f"no store at {path} (run `sitless run` or `sitless demo` first, or pass --store DB)"
        )
    week = args.week if args.week else ("last" if args.last else "current")
    try:
        tz = weekly.resolve_timezone(args.timezone or report_settings.timezone or alerts_zone)
        store = Store.open(path, create=False, migrate=False)  # a reader: never creates or upgrades
    except (weekly.ReportError, StoreError) as error:
        raise CommandError(str(error)) from None
    feeds = None
    if calendar.ics:  # meeting time per day
        feeds = CalendarFeeds(calendar, tz)
        try:
            feeds.check()
        except CalendarError as error:
            store.close()
            raise CommandError(f"[calendar] ics: {error}") from None
    try:
        this_week, previous = weekly.load_report_weeks(store, week, tz, busy=feeds.busy if feeds else None)
        held = [] if this_week.has_data() else weekly.weeks_with_data(store, tz)
    except weekly.ReportError as error:
        raise CommandError(str(error)) from None
    finally:
        store.close()
    if not this_week.has_data():
        # An empty week is a valid report, but say where the data are (the demo's lie in a fixed week).
        where = (
            f"weeks with data in {path}: {', '.join(held)}; e.g. sitless report --store {path} --week {held[-1]}"
            if held
            else f"{path} holds no postures yet (run `sitless run` or `sitless demo` first)"
        )
        print(f"note: no data in week {this_week.week}; {where}", file=sys.stderr)

    from sitless.analysis.report import build_report

    report = build_report(this_week, previous, generated=round(__import__("time").time(), 3))
    text = weekly.report_json(report)
    try:
        if args.json == "-":
            sys.stdout.write(text)
        elif args.json:
            weekly.write_private(Path(args.json), text.encode())
        if args.html:
            from sitless.analysis.report_html import render_html

            weekly.write_private(args.html, render_html(report, this_week).encode())
        if args.png:
            from sitless.analysis.report_figures import figures_png

            weekly.write_private(args.png, figures_png(report, this_week))
    except OSError as error:
        raise CommandError(f"cannot write {error.filename}: {error.strerror}") from None
    if args.publish:
        try:
            topic = args.topic or weekly.weekly_topic(config)
            where = weekly.publish_report(config, topic, text, broker=args.broker)
        except weekly.ReportError as error:
            raise CommandError(str(error)) from None
        print(f"published {report['week']} to {topic} on {where} (retained)", file=sys.stderr)
    if args.json != "-":
        print(weekly.terminal_summary(report))
        for label, file in (("HTML", args.html), ("PNG", args.png), ("JSON", args.json)):
            if file:
                print(f"{label}: {file}")
    return 0
