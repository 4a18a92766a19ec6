"""The daemon's Monday-morning job: last week's report, retained on ``report/weekly``, through the outbox.

Split from the pipeline so its rules are in one place and tested on their own:

- due on Monday at ``WEEKLY_HOUR`` local time (data time, so a replay publishes at the data moment);
- marked done only after the report is built and queued in the store's outbox (which delivers it
  whatever happens to the broker or the process); a failure is logged and tried again
  ``RETRY_S`` data seconds later, never swallowed;
- remembered per sensor, like the alert policy's state: replaying last month's recording neither
  marks this week done for the live sensor nor is blocked by it;
- never older than what is already on the topic: the topic holds one retained report, and a replay
  of an old recording must not replace this week's with an old one.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, tzinfo

from sitless.store import Store

log = logging.getLogger(__name__)

#: The weekly report goes out on Monday at this local hour (data time).
WEEKLY_HOUR = 7
#: A failed build is tried again after this many data seconds.
RETRY_S = 600
WEEKLY_STATE_KEY = "pipeline.weekly"


def weekly_state_key(sensor_id: str) -> str:
    return f"{WEEKLY_STATE_KEY}/{sensor_id}"


def topic_state_key(topic: str) -> str:
    """The newest week queued for a topic, whichever sensor's data queued it."""
    return f"{WEEKLY_STATE_KEY}.topic/{topic}"


class WeeklyPublisher:
    """See the module docstring. ``kick`` tells the MQTT publisher that the outbox has a new message."""

    def __init__(
        self,
        *,
        store: Store,
        topic: str,
        timezone: tzinfo,
        device_id: str,
        sensor_id: str,
        kick,  # Callable[[], None]
        busy=None,  # Callable[[float, float], list] | None: busy calendar intervals, for meeting time
    ) -> None:
        self.store = store
        self.topic = topic
        self.timezone = timezone
        self.device_id = device_id
        self.sensor_id = sensor_id
        self.kick = kick
        self.busy = busy
        self._settled: str | None = None  # the week known done (or with nothing to report)
        self._retry_at: float | None = None
        self._failures = 0
        self._quiet = (0.0, 0.0)  # [from, until): data times known not to be Monday morning

    def due_week(self, data_time: float) -> str | None:
        """The ISO week to publish at ``data_time``, or None (not Monday morning, or already settled)."""
        from sitless.weekly import week_label

        if self._quiet[0] <= data_time < self._quiet[1]:
            return None  # asked every second live: one zone conversion a week, not 86,400 a day
        local = datetime.fromtimestamp(data_time, self.timezone)
        if local.weekday() == 0 and local.hour >= WEEKLY_HOUR:
            week = week_label(local.date() - timedelta(days=7))
            if week != self._settled:
                return week
        # Nothing can be due before the next Monday 07:00 (this week's is past or settled).
        days = (7 - local.weekday()) % 7 or (7 if local.hour >= WEEKLY_HOUR else 0)
        monday = local.date() + timedelta(days=days)
        self._quiet = (data_time, datetime.combine(monday, time(WEEKLY_HOUR), self.timezone).timestamp())
        return None

    def maybe_publish(self, data_time: float) -> bool:
        """Publish last week's report if it is due; True when one was queued."""
        week = self.due_week(data_time)
        if week is None or (self._retry_at is not None and data_time < self._retry_at):
            return False
        done = self.store.load_state(weekly_state_key(self.sensor_id)) or {}
        if done.get("week") == week:
            self._settled = week
            return False
        newest = (self.store.load_state(topic_state_key(self.topic)) or {}).get("week") or ""
        if newest >= week:  # ISO labels sort in time order
            if newest > week:
                log.info("weekly report %s not published: %s is already on %s", week, newest, self.topic)
            self._settled = week
            return False
        monday = datetime.fromtimestamp(data_time, self.timezone).date() - timedelta(days=7)
        start = int(datetime.combine(monday, datetime.min.time(), tzinfo=self.timezone).timestamp())
        if not self.store.has_postures_between(start, start + 7 * 86400):
            self._settled = week  # nothing to report (a first run, a replay of one day)
            return False
        try:
            self._queue(week, data_time)
        except Exception as error:  # noqa: BLE001 - a report problem must not stop the prompts
            self._failures += 1
            self._retry_at = data_time + RETRY_S
            if self._failures == 1:
                log.exception("weekly report %s could not be built; trying again in %d s", week, RETRY_S)
            else:
                log.error("weekly report %s failed again (%s); trying again in %d s", week, error, RETRY_S)
            return False
        self._failures, self._retry_at, self._settled = 0, None, week
        self.store.save_state(weekly_state_key(self.sensor_id), {"week": week})
        self.store.save_state(topic_state_key(self.topic), {"week": week})
        self.kick()
        log.info("weekly report %s queued for %s", week, self.topic)
        return True

    def _queue(self, week: str, data_time: float) -> None:
        from sitless.weekly import build_weekly_report, report_json

        report = build_weekly_report(self.store, week, self.timezone, now=data_time, busy=self.busy)
        message_id = f"weekly-{self.device_id}-{week}"
        self.store.outbox_put(message_id, self.topic, report_json(report), qos=1, retain=True)
