"""The daemon's wiring: source -> classifier -> store -> policy -> outbox -> MQTT.

One asyncio task does everything in data order, so the data time is the clock: a replay at
``--speed max`` runs a day in seconds and prompts at the same data seconds as live. The pieces each
own one responsibility and are handed in (or built) at construction:

- ``SourceFeed`` (``sitless.source_feed``): the source protocol, resume after a restart, retry, battery;
- ``PostureBatch`` (``sitless.posture_batch``): postures written to the store with the policy's state,
  every ``SAVE_EVERY_S`` data seconds in one transaction instead of one per second;
- ``AlertPolicy.apply(command, now)``: what a command means, and its limits;
- ``WeeklyPublisher`` (``sitless.weekly_publisher``): Monday's retained report;
- ``OutcomeRecorder`` (``sitless.outcomes``): each prompt's outcome, stored and on ``prompt/outcome``;
- ``MeetingCalendar`` (``sitless.meetings``, optional): busy calendar intervals around the data time,
  handed to the policy (fetched on a thread of its own, never here);
- ``MqttPublisher``: the connection, built with the store as its outbox and ``CommandInbox.put`` as
  its command callback. paho is driven from this same asyncio loop (no network thread), so a command
  is a plain call that lands in the inbox and wakes the pipeline: it is applied at once (a replay
  applies it between chunks). A command the policy refuses is answered on ``error``, like a malformed
  one. Each completed second and the timer make the pipeline the publisher's watchdog (``ensure_running``).
  ``sitless.pipeline_setup`` builds the inbox, the restored policy and the publisher.

Live mode sleeps, it does not poll: the timer task waits until the policy's next moment
(``AlertPolicy.wake_at``: a prompt falling due while the classifier still confirms the last seconds,
the gap bridge running out), or until a command arrives or new data makes that moment earlier, or at
most ``WATCHDOG_EVERY_S``.

Nothing is lost: a prompt goes into the store's outbox before it is published and leaves it on the
broker's PUBACK. After ``kill -9``, the policy's saved state and the stored postures let a restart
continue the sitting spell: the source is re-read from where the policy stopped (a replay skips ahead,
a live sensor simply goes on; the postures it had not stored yet, at most ``SAVE_EVERY_S`` seconds, are
lost with it), and prompt ids are derived from the data, so a prompt made twice is the
same prompt (the store and receivers keep one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sitless.alerts.mqtt import MqttPublisher, MqttSettings, topics_for
from sitless.alerts.payloads import Command, dumps, prompt_payload, state_payload
from sitless.alerts.policy import AlertPolicy, PolicyError, PromptDue, PromptOutcome, SpellEnded
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.outcomes import OutcomeRecorder
from sitless.pipeline_setup import CommandInbox, make_publisher, policy_state_key, restore_policy
from sitless.posture_batch import PostureBatch
from sitless.source_feed import WARMUP_S, SampleSource, SourceFeed
from sitless.store import Store
from sitless.weekly_publisher import WeeklyPublisher

__all__ = [
    "WARMUP_S",
    "WATCHDOG_EVERY_S",
    "CommandInbox",
    "Pipeline",
    "PipelineStatus",
    "make_publisher",
    "restore_policy",
]

log = logging.getLogger(__name__)

#: The policy state is saved at least this often (data seconds) and after every prompt.
SAVE_EVERY_S = 10
#: The retained state topic is refreshed this often (data seconds) and on every posture change.
STATE_EVERY_S = 60
#: Live mode: the longest the timer sleeps without data, commands or a due moment (the watchdog's beat).
WATCHDOG_EVERY_S = 5.0


@dataclass
class PipelineStatus:
    data_time: float
    posture: Posture
    since: float
    sitting_spell_s: float
    prompts_sent: int
    battery_percent: int | None
    connected: bool


class Pipeline:
    """See the module docstring. ``live_clock`` (e.g. ``time.time``) is for live sources only: it lets
    the policy notice a sensor that went silent; replays leave it None. ``timezone`` (resolved once by
    the caller) enables the weekly report when there is a publisher."""

    def __init__(
        self,
        *,
        source: SampleSource,
        store: Store,
        classifier,
        policy: AlertPolicy,
        publisher: MqttPublisher | None,
        device_id: str,
        commands: CommandInbox | None = None,
        timezone: tzinfo | None = None,
        on_status: Callable[[PipelineStatus], None] | None = None,
        on_prompt: Callable[[dict], None] | None = None,
        live_clock: Callable[[], float] | None = None,
        retry_source: bool | None = None,
        meetings=None,
    ) -> None:
        self.store = store
        self.classifier = classifier
        self.policy = policy
        self.publisher = publisher
        self.device_id = device_id
        self.commands = commands or CommandInbox()
        self.on_status = on_status
        self.on_prompt = on_prompt
        self.live_clock = live_clock
        self.source = source
        self.sensor_id = source.sensor_id or device_id
        self.topics = publisher.topics if publisher else topics_for(MqttSettings(), device_id)
        self.feed = SourceFeed(
            source,
            resume_at=self._resume_point(),
            retry=live_clock is not None if retry_source is None else retry_source,
        )
        self.weekly = (
            WeeklyPublisher(
                store=store,
                topic=self.topics.report_weekly,
                timezone=timezone,
                device_id=device_id,
                sensor_id=self.sensor_id,
                kick=publisher.kick,
                busy=meetings.feeds.busy if meetings else None,
            )
            if publisher is not None and timezone is not None
            else None
        )
        self.outcomes = OutcomeRecorder(
            store=store,
            topic=self.topics.prompt_outcome if publisher else None,
            timezone=timezone or datetime.now().astimezone().tzinfo,
            kick=publisher.kick if publisher else None,
        )
        self.meetings = meetings
        self.prompts_sent = 0
        self._data_time: float | None = None
        self._last_saved = -1.0
        self._last_state = -1.0
        self._state_posture: Posture | None = None
        self._newest: tuple[float, float] | None = None  # (newest sample time, monotonic when it came)
        self._postures = PostureBatch(store, self.sensor_id)  # written with the policy's state
        self._timer_at: float | None = None  # when the live timer wakes next (the pipeline's clock)

    # ------------------------------------------------------------------ set-up
    def _resume_point(self) -> int | None:
        """First second still to process: where the policy stopped, else after the stored postures."""
        if self.policy.resume_after is not None:
            return self.policy.resume_after
        last = self.store.last_posture_second(self.sensor_id)
        return None if last is None else last + 1

    @property
    def resume_at(self) -> int | None:
        return self.feed.resume_at

    async def run(self) -> None:
        if self.publisher:
            self.publisher.start()  # idempotent: the daemon started it to check the login early
            self.publisher.kick()  # prompts left in the outbox by an earlier run
        if self.resume_at is not None:
            log.info(
                "continuing from %s (data seconds before it were processed by an earlier run)",
                self.resume_at,
            )
        session = None
        timer = asyncio.create_task(self._wake_on_time()) if self.live_clock else None
        if self.meetings:
            self.meetings.start()
        try:
            async for chunk in self.feed.chunks():
                if session is None and len(chunk):
                    session = self.store.start_session(self.sensor_id, self.source.name, float(chunk.t[0]))
                if self.feed.retry:
                    try:
                        self.process_chunk(chunk)
                    except Exception:  # noqa: BLE001 - live: log, drop the chunk, keep watching
                        log.exception("a chunk of %d samples could not be processed; dropped", len(chunk))
                else:
                    self.process_chunk(chunk)  # a replay fails loudly instead
                await asyncio.sleep(0)
            self._handle_postures(self.classifier.flush())
        finally:
            if timer:
                timer.cancel()
            if self.meetings:
                self.meetings.stop()
            self._apply_commands()
            self._save_policy()
            if session is not None and self._data_time is not None:
                self.store.end_session(session, self._data_time)
            if self.publisher:
                self._publish_state(force=True)
                if not await self.publisher.wait_drained(10.0 if self.publisher.connected else 3.0):
                    pending = len(self.store.outbox_pending())
                    log.warning(
                        "%d message(s) wait in the outbox for the broker; the next run sends them", pending
                    )
                await self.publisher.stop()

    # ------------------------------------------------------------------ the data path
    def process_chunk(self, chunk: SampleChunk) -> None:
        """One chunk through classifier, store and policy (synchronous: benchmarks call it directly)."""
        if len(chunk):
            self._newest = (float(chunk.t[-1]), time.monotonic())
            battery = self.feed.battery_change()
            if battery is not None:
                self.store.add_battery(float(chunk.t[-1]), battery, self.sensor_id)
            # Readings first: they count for the seconds this chunk completes (StreamingClassifier.feed_temperature)
            for timestamps, celsius in self.feed.take_temperatures():
                self.classifier.feed_temperature(timestamps, celsius)
        self._handle_postures(self.classifier.feed(chunk))

    def _handle_postures(self, postures: PostureSeconds) -> None:
        postures = postures.from_second(self.feed.resume_at)  # the warm-up: seen by an earlier run
        self._apply_commands()
        if not len(postures):
            return
        if self.publisher:
            self.publisher.ensure_running()
        self._postures.add(postures)
        self._data_time = float(postures.end)
        self._update_meetings(postures.start)
        self._handle_events(self.policy.receive(postures))
        self._nudge_timer()
        if self.weekly is not None:
            self.weekly.maybe_publish(self._data_time)
        if self._data_time - self._last_saved >= SAVE_EVERY_S:
            self._save_policy()
        self._publish_state()
        self._report_status()

    def _handle_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, PromptDue):
                self._send_prompt(event)
            elif isinstance(event, PromptOutcome):
                self.outcomes.record(event)
            elif isinstance(event, SpellEnded):
                log.debug("sitting spell %s-%s ended (%s)", event.start, event.end, event.reason)
        if any(isinstance(e, PromptDue) for e in events):
            self._save_policy()

    def _send_prompt(self, prompt: PromptDue) -> None:
        payload = prompt_payload(prompt)
        if self.publisher:
            # Outbox first: if we die right after, the next run publishes it (same id).
            self.store.outbox_put(prompt.prompt_id, self.topics.prompt, dumps(payload), qos=1, retain=False)
        self.store.add_prompt(
            prompt.prompt_id, prompt.ts, prompt.sitting_s, prompt.level, prompt.exercise.name
        )
        if self.publisher:
            self.publisher.kick()
        self.prompts_sent += 1
        log.info("prompt %s at %s: sitting %.0f min, level %d, %s", prompt.prompt_id[:8], payload["ts"],
                 prompt.sitting_s / 60, prompt.level, prompt.exercise.name)  # fmt: skip
        if self.on_prompt:
            try:
                self.on_prompt(payload)
            except Exception:  # noqa: BLE001 - a display callback must not stop the daemon
                log.exception("on_prompt callback failed")

    def _save_policy(self) -> None:
        self._postures.write()  # first: a saved state never gets ahead of the stored postures
        self.store.save_state(policy_state_key(self.sensor_id), self.policy.export_state())
        self._last_saved = self._data_time if self._data_time is not None else -1.0

    # ------------------------------------------------------------------ commands and clock
    def _now(self) -> float:
        """The clock: in live mode, the newest sample's time advanced by the wall time since it came
        (immune to an offset between the sensor's clock and ours); otherwise the data time."""
        if self.live_clock:
            if self._newest is None:
                return self.live_clock()
            sample_t, arrived = self._newest
            return sample_t + (time.monotonic() - arrived)
        return self._data_time if self._data_time is not None else time.time()

    def _apply_commands(self) -> None:
        changed = False
        for command in self.commands.take():
            try:
                if self.policy.apply(command, self._now()):
                    changed = True
                elif self.publisher:
                    self.publisher.log_ignored(
                        "%s ignored: not a prompt of the current sitting spell", command
                    )
                else:
                    log.info("%s ignored: not a prompt of the current sitting spell", command)
            except PolicyError as error:
                self._refuse(command, str(error))
        if changed:
            self._save_policy()
            self._publish_state(force=True)

    def _refuse(self, command: Command, reason: str) -> None:
        message = f"cmd/{command.name}: {reason}"
        if self.publisher:
            self.publisher.refuse(self.topics.cmd(command.name), message)  # logs (rate-limited), replies
        else:
            log.warning("rejected command: %s", message)

    def _nudge_timer(self) -> None:
        """Wake the live timer if the policy's next moment is now earlier than the timer's (a later one
        needs nothing: the timer wakes, finds nothing due and sleeps again; once a second, not per packet)."""
        if self._timer_at is not None and (due := self.policy.wake_at()) is not None and due < self._timer_at:
            self.commands.arrived.set()

    async def _wake_on_time(self) -> None:
        """Live mode: sleep until the policy's next moment, a command, or an earlier moment; then tick."""
        while True:
            wake_at = self.policy.wake_at() if self._data_time is not None else None
            timeout = WATCHDOG_EVERY_S if wake_at is None else min(WATCHDOG_EVERY_S, wake_at - self._now())
            self._timer_at = self._now() + max(0.01, timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.commands.arrived.wait(), max(0.01, timeout))
            self.commands.arrived.clear()
            try:
                if self.publisher:
                    self.publisher.ensure_running()
                self._apply_commands()
                if self._newest is not None and time.monotonic() - self._newest[1] >= WATCHDOG_EVERY_S:
                    self._postures.write()  # the sensor went quiet: store what the batch holds
                # A chunk only moves the moment (the policy saw its seconds already): tick when it is due.
                due = self.policy.wake_at() if self._data_time is not None else None
                if due is not None and self._now() >= due:
                    now = self._now()
                    self._update_meetings(now)
                    self._handle_events(self.policy.tick(now))
            except Exception:  # noqa: BLE001 - the timer must outlive a bad moment
                log.exception("policy tick failed")

    def _update_meetings(self, t: float) -> None:
        if self.meetings is not None and (busy := self.meetings.busy_for(t)) is not None:
            self.policy.set_busy(busy)

    # ------------------------------------------------------------------ outputs
    def _publish_state(self, force: bool = False) -> None:
        if not self.publisher or self._data_time is None:
            return
        posture = self.policy.posture
        if (
            not force
            and posture == self._state_posture
            and self._data_time - self._last_state < STATE_EVERY_S
        ):
            return
        payload = state_payload(
            posture=posture,
            since=self.policy.posture_since,
            sitting_spell_s=self.policy.sitting_spell_s(),
            battery=self.feed.battery,
            ts=self._data_time,
            snoozed_until=self.policy.snoozed_until,
            dnd_until=self.policy.dnd_until,
            prompts_heeded_today=self.outcomes.heeded_today(self._data_time),
        )
        self.publisher.publish(self.topics.state, dumps(payload), retain=True)
        self._state_posture, self._last_state = posture, self._data_time

    def _report_status(self) -> None:
        if not self.on_status or self._data_time is None:
            return
        status = PipelineStatus(
            data_time=self._data_time,
            posture=self.policy.posture,
            since=float(self.policy.posture_since or self._data_time),
            sitting_spell_s=self.policy.sitting_spell_s(),
            prompts_sent=self.prompts_sent,
            battery_percent=self.feed.battery,
            connected=bool(self.publisher and self.publisher.connected),
        )
        try:
            self.on_status(status)
        except Exception:  # noqa: BLE001
            log.exception("on_status callback failed")
