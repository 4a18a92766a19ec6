"""The weekly report, wired: ISO weeks in the local time zone, store queries, files, one-shot MQTT publish.

``sitless.analysis.report`` does the arithmetic on arrays; this module owns the time zone (weeks and days are
local: a "Monday" is the user's Monday), the store and the files. The daemon's Monday 07:00 publish calls
``build_weekly_report(store, None, tz)``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from sitless.analysis.metrics import BRIDGE_UNKNOWN_S
from sitless.analysis.postures import PostureSeconds
from sitless.analysis.report import PromptEvent, WeekData, build_report
from sitless.config import Config, ConfigError
from sitless.firmware_bridge.private_files import private_output
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


def paint_spells(spells: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """Per-second codes for ``[t0, t1)`` from (start, end, posture) rows; UNKNOWN where no spell is."""
    codes = np.zeros(max(0, t1 - t0), np.int8)
    if not len(spells):
        return codes
    spells = spells[np.argsort(spells[:, 0], kind="stable")]
    starts = np.clip(spells[:, 0], t0, t1) - t0
    ends = np.clip(spells[:, 1], t0, t1) - t0
    if np.all(starts[1:] >= ends[:-1]):  # one sensor: spells never overlap, paint in one go
        lengths = np.empty(2 * len(spells) + 1, np.int64)
        lengths[0:-1:2] = starts - np.concatenate(([0], ends[:-1]))
        lengths[1::2] = ends - starts
        lengths[-1] = len(codes) - ends[-1]
        values = np.zeros(len(lengths), np.int8)
        values[1::2] = spells[:, 2]
        return np.repeat(values, lengths)
    for start, stop, posture in zip(starts, ends, spells[:, 2], strict=True):  # several sensors overlapping
        codes[start:stop] = posture
    return codes


def load_week(store: Store, monday: dt.date, tz: dt.tzinfo, *, days: int = 7, busy=None) -> WeekData:
    """Query the store for one week (or its first ``days`` days) and paint the spells into seconds.

    ``busy(start, end)``, when given, returns the busy calendar intervals (``CalendarFeeds.busy``).
    """
    dates = [monday + dt.timedelta(days=i) for i in range(days)]
    day_starts = [local_midnight(d, tz) for d in dates] + [
        local_midnight(dates[-1] + dt.timedelta(days=1), tz)
    ]
    lead = day_starts[0] - BRIDGE_UNKNOWN_S - 1
    end = day_starts[-1]
    codes = paint_spells(store.spells_between(lead, end), lead, end)
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
        busy=None if busy is None else [(b.start, b.end) for b in busy(day_starts[0], end)],
    )


def load_report_weeks(
    store: Store, week: str | None, tz: dt.tzinfo | str | None, now: float | None = None, *, busy=None
) -> tuple[WeekData, WeekData]:
    """This week (only the days so far when it is the current week) and the full week before."""
    zone = resolve_timezone(tz)
    monday, current = resolve_week(week, zone, now)
    days = 7
    if current:
        today = dt.datetime.fromtimestamp(time.time() if now is None else now, zone).date()
        days = (today - monday).days + 1
    this_week = load_week(store, monday, zone, days=days, busy=busy)
    previous = load_week(store, monday - dt.timedelta(days=7), zone, busy=busy)
    return this_week, previous


def weeks_with_data(store: Store, tz: dt.tzinfo | str | None, *, limit: int = 12) -> list[str]:
    """The ISO weeks (local time) that hold postures, oldest first; at most the newest ``limit``."""
    zone = resolve_timezone(tz)
    span = store.posture_span()
    if span is None:
        return []
    first = dt.datetime.fromtimestamp(span[0], zone).date()
    last = dt.datetime.fromtimestamp(max(span[0], span[1] - 1), zone).date()
    monday = last - dt.timedelta(days=last.weekday())
    found: list[str] = []
    while monday + dt.timedelta(days=7) > first and len(found) < limit:
        start = local_midnight(monday, zone)
        if store.has_postures_between(start, local_midnight(monday + dt.timedelta(days=7), zone)):
            found.append(week_label(monday))
        monday -= dt.timedelta(days=7)
    return found[::-1]


def build_weekly_report(
    store: Store, week: str | None, tz: dt.tzinfo | str | None, now: float | None = None, *, busy=None
) -> dict:
    """The JSON summary for ``week`` ("2026-W47", "current", or "last"/None = the last complete week);
    ``busy(start, end)`` gives the busy calendar intervals for the meeting figures (None: no calendar)."""
    this_week, previous = load_report_weeks(store, week, tz, now, busy=busy)
    return build_report(this_week, previous, generated=round(time.time() if now is None else now, 3))


def report_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` created 0600 (a report is health data), atomically via a temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with private_output(path) as handle:
        handle.write(data)


# ---------------------------------------------------------------- terminal
def terminal_summary(report: dict) -> str:
    """A compact table for the terminal: one line per day, then the week."""
    from sitless.analysis.report_text import format_minutes

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
        if stretch["exercise"]:
            lines.append(f"stretch of the week: {stretch['exercise']} ({stretch['times_prompted']}x)")
        else:
            lines.append(
                f"stretch of the week: none stands out ({len(stretch['tied'])} exercises, {stretch['times_prompted']}x each)"
            )
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
def weekly_topic(config: Config) -> str:
    """``<prefix>/report/weekly`` exactly as the daemon names it (``[mqtt] prefix`` or
    ``sitless/<device_id>/``, the device id being ``[mqtt] device_id`` or the host name)."""
    from sitless.alerts.mqtt import default_device_id, topics_for

    settings = _mqtt_settings(config)
    return topics_for(settings, default_device_id(settings)).report_weekly


def _mqtt_settings(config: Config, broker: str | None = None):  # noqa: ANN202 - alerts.mqtt.MqttSettings
    from sitless.alerts.mqtt import MqttSettings

    try:
        settings = config.section("mqtt", MqttSettings)
        return replace(settings, url=broker) if broker else settings
    except ConfigError as error:
        raise ReportError(str(error)) from None
    except ValueError as error:
        raise ReportError(f"--broker: {error}") from None


def publish_report(
    config: Config, topic: str, payload: str, *, broker: str | None = None, timeout: float = 10.0
) -> str:
    """Publish ``payload`` once, QoS 1, retained, waiting for the broker's PUBACK; returns the broker address.

    Uses ``sitless.alerts.mqtt.publish_retained`` (its own client id and a clean session, so it never takes over
    the daemon's session); credentials come from [mqtt] or SITLESS_MQTT_USERNAME / SITLESS_MQTT_PASSWORD.
    """
    from sitless.alerts.mqtt import MqttError, parse_broker_url, publish_retained

    settings = _mqtt_settings(config, broker)
    try:
        publish_retained(settings, topic, payload, timeout=timeout)
    except MqttError as error:
        raise ReportError(str(error)) from None
    return str(parse_broker_url(settings.url)) if settings.url else "?"
