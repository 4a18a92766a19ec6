"""The weekly report, wired: ISO weeks in the local time zone, store queries, files, one-shot MQTT publish.

``analysis.report`` does the arithmetic on arrays; this module owns the time zone (weeks and days are
local: a "Monday" is the user's Monday), the store and the files. The daemon's Monday 07:00 publish calls
``build_weekly_report(store, None, tz)``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from analysis.metrics import BRIDGE_UNKNOWN_S
from analysis.postures import PostureSeconds
from analysis.report import PromptEvent, WeekData, build_report
from sitless.store import Store

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


class ReportError(Exception):
    """A week label, time zone or output the user gave is wrong; the message says which."""


@dataclass(frozen=True)
class ReportSettings:
    """TOML ``[report]``."""

    timezone: str | None = None  # IANA name such as "Europe/Copenhagen"; default: the machine's


def local_timezone() -> dt.tzinfo:
    """The machine's zone, as an IANA zone when it can be found (so DST changes inside a week are right)."""
    if name := os.environ.get("TZ"):
        try:
            return ZoneInfo(name.lstrip(":"))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    tz = dt.datetime.now().astimezone().tzinfo
    return tz if tz is not None else dt.UTC


def resolve_timezone(tz: dt.tzinfo | str | None) -> dt.tzinfo:
    if tz is None:
        return local_timezone()
    if isinstance(tz, dt.tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(
            f"unknown time zone {tz!r} (expected an IANA name such as Europe/Copenhagen)"
        ) from None


def timezone_name(tz: dt.tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def parse_week(label: str) -> dt.date:
    """The Monday of ISO week ``YYYY-Www``."""
    match = WEEK_PATTERN.match(label.strip())
    if not match:
        raise ReportError(f"week {label!r} is not an ISO week like 2026-W47")
    year, week = int(match[1]), int(match[2])
    try:
        return dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ReportError(f"week {label!r} does not exist ({year} has no week {week})") from None


def week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def resolve_week(week: str | None, tz: dt.tzinfo, now: float | None = None) -> tuple[dt.date, bool]:
    """(Monday, is_current) for ``week``: an ISO label, ``"current"``, or ``"last"``/None (last complete week)."""
    today = dt.datetime.fromtimestamp(time.time() if now is None else now, tz).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    if week == "current":
        return this_monday, True
    if week in (None, "last"):
        return this_monday - dt.timedelta(days=7), False
    monday = parse_week(week)
    return monday, monday == this_monday


def local_midnight(day: dt.date, tz: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp())


def load_week(store: Store, monday: dt.date, tz: dt.tzinfo, *, days: int = 7) -> WeekData:
    """Query the store for one week (or its first ``days`` days) and paint the spells into seconds."""
    dates = [monday + dt.timedelta(days=i) for i in range(days)]
    day_starts = [local_midnight(d, tz) for d in dates] + [
        local_midnight(dates[-1] + dt.timedelta(days=1), tz)
    ]
    lead = day_starts[0] - BRIDGE_UNKNOWN_S - 1
    end = day_starts[-1]
    codes = np.zeros(end - lead, np.int8)
    for start, stop, posture in store.spells_between(lead, end):
        codes[max(start, lead) - lead : min(stop, end) - lead] = posture
    prompts = [
        PromptEvent(p.ts, p.exercise, p.stood_after_s if p.outcome_known else None)
        for p in store.prompts_between(day_starts[0], end)
    ]
    return WeekData(
        week=week_label(monday),
        timezone=timezone_name(tz),
        dates=[d.isoformat() for d in dates],
        day_starts=day_starts,
        postures=PostureSeconds(lead, codes),
        prompts=prompts,
    )


def load_report_weeks(
    store: Store, week: str | None, tz: dt.tzinfo | str | None, now: float | None = None
) -> tuple[WeekData, WeekData]:
    """This week (only the days so far when it is the current week) and the full week before."""
    zone = resolve_timezone(tz)
    monday, current = resolve_week(week, zone, now)
    days = 7
    if current:
        today = dt.datetime.fromtimestamp(time.time() if now is None else now, zone).date()
        days = (today - monday).days + 1
    this_week = load_week(store, monday, zone, days=days)
    previous = load_week(store, monday - dt.timedelta(days=7), zone)
    return this_week, previous


def build_weekly_report(
    store: Store, week: str | None, tz: dt.tzinfo | str | None, now: float | None = None
) -> dict:
    """The JSON summary for ``week`` ("2026-W47", "current", or "last"/None = the last complete week)."""
    this_week, previous = load_report_weeks(store, week, tz, now)
    return build_report(this_week, previous, generated=round(time.time() if now is None else now, 3))


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` created 0600 (a report is health data), atomically via a temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- terminal
def terminal_summary(report: dict) -> str:
    """A compact table for the terminal: one line per day, then the week."""
    from analysis.report_html import format_minutes

    def row(label: str, d: dict) -> str:
        bph = "–" if d["breaks_per_sitting_hour"] is None else f"{d['breaks_per_sitting_hour']:.2f}"
        return (
            f"{label:<11} {format_minutes(d['worn_min']):>13} {format_minutes(d['sitting_min']):>13} "
            f"{d['breaks']:>6} {bph:>6} {d['bouts_30min']:>5} {format_minutes(d['longest_bout_min']):>13} "
            f"{d['prompts_heeded']:>3}/{d['prompts']:<3}"
        )

    t = report["week_totals"]
    lines = [
        f"sitless week {report['week']} ({report['timezone']}), {t['days_with_data']} day(s) with data",
        f"{'day':<11} {'worn':>13} {'sitting':>13} {'breaks':>6} {'/sit h':>6} {'≥30m':>5} {'longest':>13} heeded",
    ]
    for d in report["days"]:
        lines.append(row(dt.date.fromisoformat(d["date"]).strftime("%a %d %b"), d))
    lines.append(row("week", t))
    alpha = "–" if t["alpha"] is None else f"{t['alpha']:.2f} (x_min {t['alpha_x_min_min']:.1f} min)"
    gini = "–" if t["gini"] is None else f"{t['gini']:.2f}"
    lines.append(f"bouts: {t['n_bouts']}, W50 {format_minutes(t['w50_min'])}, alpha {alpha}, Gini {gini}")
    if stretch := report.get("stretch_of_the_week"):
        lines.append(f"stretch of the week: {stretch['exercise']} ({stretch['times_prompted']}x)")
    previous = report.get("previous_week")
    if previous:
        lines.append(
            f"previous week {previous['week']}: sitting {format_minutes(previous['sitting_min'])} over "
            f"{previous['days_with_data']} day(s), {previous['breaks']} breaks, {previous['bouts_30min']} bouts ≥ 30 min"
        )
    else:
        lines.append("previous week: no data")
    return "\n".join(lines)


# ---------------------------------------------------------------- MQTT one-shot publish
@dataclass(frozen=True)
class PublishTarget:
    host: str
    port: int
    tls: bool
    topic: str
    username: str | None = None
    password: str | None = None

    @property
    def safe_url(self) -> str:
        """The broker URL without credentials (for messages and logs)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def publish_target(config: object, *, broker: str | None = None, topic: str | None = None) -> PublishTarget:
    """Broker and topic from ``--broker``/``--topic``, else the ``[mqtt]`` table, else localhost.

    Credentials come from ``SITLESS_MQTT_USERNAME``/``SITLESS_MQTT_PASSWORD`` or the ``[mqtt]`` table, never
    from the command line.
    """
    from urllib.parse import urlsplit

    table = getattr(config, "tables", {}).get("mqtt", {}) or {}
    url = broker or table.get("url") or "mqtt://localhost:1883"
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ReportError(f"broker {url!r} is not a URL like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ReportError(f"broker {url!r} has an invalid port") from None
    if topic is None:
        prefix = table.get("prefix") or f"sitless/{table.get('device_id') or _default_device_id()}"
        topic = f"{str(prefix).rstrip('/')}/report/weekly"
    return PublishTarget(
        host=parts.hostname,
        port=port,
        tls=tls,
        topic=topic,
        username=os.environ.get("SITLESS_MQTT_USERNAME") or table.get("username"),
        password=os.environ.get("SITLESS_MQTT_PASSWORD") or table.get("password"),
    )


def _default_device_id() -> str:
    import socket

    name = re.sub(r"[^a-z0-9_-]+", "-", socket.gethostname().lower()).strip("-")
    return name or "sitless"


def publish_report(target: PublishTarget, payload: str, *, timeout: float = 10.0) -> None:
    """Publish ``payload`` once, QoS 1, retained, and wait for the broker's PUBACK (or fail clearly)."""
    import threading

    import paho.mqtt.client as mqtt

    connected, published = threading.Event(), threading.Event()
    failure: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties=None):  # noqa: ANN001
        if reason_code.is_failure:
            failure.append(f"broker refused the connection: {reason_code}")
        connected.set()

    def on_publish(client, userdata, mid, reason_code=None, properties=None):  # noqa: ANN001
        published.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"sitless-report-{os.getpid()}", protocol=mqtt.MQTTv5
    )
    client.on_connect, client.on_publish = on_connect, on_publish
    client.connect_timeout = timeout
    if target.username:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set()
    try:
        client.connect(target.host, target.port, keepalive=30)
    except (OSError, ValueError) as error:
        raise ReportError(f"cannot reach the MQTT broker {target.safe_url}: {error}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise ReportError(f"no answer from the MQTT broker {target.safe_url} within {timeout:.0f} s")
        if failure:
            raise ReportError(f"{target.safe_url}: {failure[0]}")
        client.publish(target.topic, payload, qos=1, retain=True)
        if not published.wait(timeout):
            raise ReportError(
                f"the MQTT broker {target.safe_url} did not acknowledge the report within {timeout:.0f} s"
            )
    finally:
        client.disconnect()
        client.loop_stop()
