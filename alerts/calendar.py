"""No prompt inside a meeting: busy intervals from iCalendar files and URLs (table ``[calendar]``).

Two halves, kept apart so the policy stays a pure state machine:
- ``busy_intervals(ics_bytes, start, end)``: pure. The busy events of one calendar between two instants,
  with icalendar (RFC 5545 parsing, VTIMEZONE) and recurring-ical-events (RRULE, RDATE, EXDATE and
  instances moved with RECURRENCE-ID, each with the time zone and DST of its own date).
- ``CalendarFeeds``: the edge. Reads each ``ics`` entry (a path, or an http(s) URL such as a calendar's
  "secret address in iCal format"), keeps the last good copy of each when a URL is unreachable or
  answers garbage (logged, with the age of the copy in use), and refuses a broken file with a message
  naming the file and what is wrong.

What counts as busy (precedent: CalDAV free-busy, RFC 4791 section 7.10, and the "show as" of Outlook
and Google Calendar): a VEVENT with a start time, not all-day (all-day events are holidays, birthdays,
"working from home"), not ``TRANSP:TRANSPARENT`` ("show as free") and not ``STATUS:CANCELLED``. A
declined invitation still counts (telling needs the user's own address): mark it "free" in the calendar.
A time without a zone ("floating", RFC 5545 section 3.3.5) is read in ``[alerts] timezone``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

ENV_ICS = "SITLESS_CALENDAR_ICS"


class CalendarError(ValueError):
    """A calendar that cannot be read; the message names it (redacted when it is a URL) and why."""


@dataclass(frozen=True)
class BusyInterval:
    start: float  # epoch seconds
    end: float

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass
class CalendarSettings:
    """Table ``[calendar]`` of the config file."""

    #: Paths or http(s) URLs of .ics files; also SITLESS_CALENDAR_ICS (whitespace-separated), which replaces these.
    ics: list[str] = field(default_factory=list)
    #: How often the files are read again.
    refresh_min: float = 5
    #: How long to wait for a URL.
    timeout_s: float = 20

    def __post_init__(self) -> None:
        if not isinstance(self.ics, list) or not all(isinstance(s, str) and s.strip() for s in self.ics):
            raise ValueError("ics must be a list of paths or https:// URLs of .ics files")
        if not self.refresh_min > 0 or not self.timeout_s > 0:
            raise ValueError("refresh_min and timeout_s must be > 0")

    def with_environment(self, environ: dict[str, str] | None = None) -> CalendarSettings:
        import os

        env = os.environ if environ is None else environ
        text = env.get(ENV_ICS, "").strip()
        return CalendarSettings(**{**self.__dict__, "ics": text.split()}) if text else self


def redact_source(source: str) -> str:
    """A calendar's secret address is a password: logs show only its host."""
    parts = urlsplit(source)
    if parts.scheme in ("http", "https", "webcal"):
        return f"{parts.scheme}://{parts.hostname}/***"
    return source


# --------------------------------------------------------------------------- pure
def busy_intervals(
    ics: bytes, start: float, end: float, *, zone: dt.tzinfo, source: str = "calendar"
) -> list[BusyInterval]:
    """The busy time of one calendar overlapping [start, end), merged and sorted."""
    import icalendar
    import recurring_ical_events

    try:
        calendar = icalendar.Calendar.from_ical(ics)
    except Exception as error:  # noqa: BLE001 - icalendar raises ValueError and friends
        raise CalendarError(f"{redact_source(source)}: not an iCalendar file ({error})") from None
    if calendar.name != "VCALENDAR":
        raise CalendarError(
            f"{redact_source(source)}: not an iCalendar file (it starts with {calendar.name})"
        )
    window = (dt.datetime.fromtimestamp(start, zone), dt.datetime.fromtimestamp(end, zone))
    try:
        events = recurring_ical_events.of(calendar, components=["VEVENT"]).between(*window)
    except Exception as error:  # noqa: BLE001 - a bad RRULE, a DTSTART without a value, ...
        raise CalendarError(
            f"{redact_source(source)}: cannot expand its events ({type(error).__name__}: {error})"
        ) from None
    spans: list[tuple[float, float]] = []
    for event in events:
        span = _busy_span(event, zone)
        if span and span[1] > start and span[0] < end:
            spans.append(span)
    return merge(spans)


def _busy_span(event, zone: dt.tzinfo) -> tuple[float, float] | None:
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    dtstart = event.get("DTSTART")
    if dtstart is None or not isinstance(dtstart.dt, dt.datetime):
        return None  # all-day (a DATE) or no start
    begin = _aware(dtstart.dt, zone)
    if event.get("DTEND") is not None:
        finish = event["DTEND"].dt
    elif event.get("DURATION") is not None:
        finish = dtstart.dt + event["DURATION"].dt
    else:
        return None  # RFC 5545 3.6.1: a DATE-TIME start alone lasts no time
    if not isinstance(finish, dt.datetime):
        return None
    finish = _aware(finish, zone)
    if finish <= begin:
        return None
    return begin.timestamp(), finish.timestamp()


def _aware(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def merge(spans: list[tuple[float, float]]) -> list[BusyInterval]:
    merged: list[list[float]] = []
    for begin, finish in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], finish)
        else:
            merged.append([begin, finish])
    return [BusyInterval(b, f) for b, f in merged]


# --------------------------------------------------------------------------- the edge
def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https", "webcal")


@dataclass
class _Copy:
    data: bytes
    fetched: float  # time.time() of the read


class CalendarFeeds:
    """Reads the calendars, keeps the last good copy of each; ``busy(start, end)`` merges them all.

    A URL that fails (unreachable, HTTP error, not an iCalendar file) keeps its last good copy in use,
    logged once per failure; a local file that is broken is an error at start (``check()``) and later
    keeps its last good copy too, so editing a file never silences the daemon. ``refresh`` does the I/O
    (call it from a thread of its own in the daemon); ``busy`` only parses the copies, and both may run
    on different threads.
    """

    def __init__(self, settings: CalendarSettings, zone: dt.tzinfo | str | None, *, clock=time.time) -> None:
        self.settings = settings
        self.zone = (
            ZoneInfo(zone) if isinstance(zone, str) else (zone or dt.datetime.now().astimezone().tzinfo)
        )
        self._clock = clock
        self._copies: dict[str, _Copy] = {}
        self._lock = threading.Lock()
        self._next_refresh = 0.0
        #: Counts the changes of the copies, so a caller knows when to recompute busy intervals.
        self.version = 0

    def check(self) -> None:
        """Read every calendar now; raise ``CalendarError`` for a missing or broken local file.

        A URL that fails now is logged and tried again at every refresh: a calendar server that is down
        must not keep the daemon from starting (there is no last good copy yet, so no meeting is known).
        """
        now = self._clock()
        for source in self.settings.ics:
            try:
                data = self._read(source)
                busy_intervals(data, now, now + 86400, zone=self.zone, source=source)
            except CalendarError as error:
                if not _is_url(source):
                    raise
                log.warning(
                    "calendar: %s; no meetings known from it until it answers (tried again every %g min)",
                    error, self.settings.refresh_min,
                )  # fmt: skip
                continue
            with self._lock:
                self._copies[source] = _Copy(data, now)
                self.version += 1
        self._next_refresh = now + 60 * self.settings.refresh_min

    def refresh(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + 60 * self.settings.refresh_min
        for source in self.settings.ics:
            try:
                data = self._read(source)
                busy_intervals(data, now, now + 86400, zone=self.zone, source=source)
            except CalendarError as error:
                kept = self._copies.get(source)
                age = (
                    f"the copy from {(now - kept.fetched) / 60:.0f} min ago"
                    if kept
                    else "no copy yet: no meetings known"
                )
                log.warning("calendar: %s; using %s", error, age)
                continue
            with self._lock:
                changed = source not in self._copies or self._copies[source].data != data
                self._copies[source] = _Copy(data, now)
                self.version += changed

    def busy(self, start: float, end: float) -> list[BusyInterval]:
        """The busy intervals of every calendar's current copy (no I/O)."""
        with self._lock:
            copies = list(self._copies.items())
        spans: list[tuple[float, float]] = []
        for source, copy in copies:
            try:
                spans += [
                    (b.start, b.end)
                    for b in busy_intervals(copy.data, start, end, zone=self.zone, source=source)
                ]
            except CalendarError as error:  # pragma: no cover - checked when the copy was taken
                log.warning("calendar: %s", error)
        return merge(spans)

    def _read(self, source: str) -> bytes:
        parts = urlsplit(source)
        if _is_url(source):
            url = "https" + source[len("webcal") :] if parts.scheme == "webcal" else source
            request = urllib.request.Request(url, headers={"User-Agent": "sitless calendar"})
            try:
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:  # noqa: S310
                    return response.read()
            except urllib.error.HTTPError as error:
                raise CalendarError(f"{redact_source(source)}: HTTP {error.code} {error.reason}") from None
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise CalendarError(f"{redact_source(source)}: unreachable ({reason})") from None
        path = Path(source).expanduser()
        try:
            return path.read_bytes()
        except OSError as error:
            raise CalendarError(f"{path}: cannot read it ({error.strerror})") from None
