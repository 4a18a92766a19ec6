"""The daemon's ``[calendar]``: calendars fetched on a thread of their own, busy intervals handed to the policy.

The policy only ever sees intervals (``AlertPolicy.set_busy``); reading files and URLs, which can take
seconds or hang on a dead server, happens here on a background thread and never in the data path. The
intervals cover a window around the *data* time, so a replay of last month's recording respects last
month's meetings, and are recomputed from the cached copies (no I/O) when the data time leaves the
window or a refresh brought a changed calendar.
"""

from __future__ import annotations

import logging
import threading
import time

from sitless.alerts.calendar import CalendarError, CalendarFeeds, CalendarSettings

log = logging.getLogger(__name__)

#: Busy intervals are computed for [t - BEFORE_S, t + AFTER_S) around the data time t.
BEFORE_S = 6 * 3600
AFTER_S = 36 * 3600


class MeetingCalendar:
    def __init__(self, settings: CalendarSettings, zone, *, live: bool) -> None:
        """Reads every calendar once (raises ``CalendarError`` for a missing or broken file)."""
        self.feeds = CalendarFeeds(settings, zone)
        self.feeds.check()
        self.settings = settings
        self.live = live
        self._window: tuple[float, float] | None = None
        self._version = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Live: re-read the calendars every ``refresh_min`` on a background thread."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._refresh_forever, name="sitless-calendar", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _refresh_forever(self) -> None:
        while not self._stop.wait(60 * self.settings.refresh_min):
            try:
                self.feeds.refresh(force=True)
            except Exception:  # noqa: BLE001 - a calendar problem must never stop the prompts
                log.exception("calendar refresh failed; keeping the last good copies")

    def busy_for(self, t: float) -> list | None:
        """New busy intervals when the policy needs them (data time ``t`` near the window's end, or a
        changed calendar), else None (nothing to change)."""
        window = self._window
        if window is not None and self._version == self.feeds.version and window[0] <= t < window[1] - 12 * 3600:
            return None
        start, end = t - BEFORE_S, t + AFTER_S
        started = time.monotonic()
        try:
            busy = self.feeds.busy(start, end)
        except CalendarError as error:  # pragma: no cover - copies were checked when taken
            log.warning("calendar: %s", error)
            return None
        self._window, self._version = (start, end), self.feeds.version
        log.debug("calendar: %d busy interval(s) around %s (%.0f ms)", len(busy), t, 1000 * (time.monotonic() - started))
        return busy
