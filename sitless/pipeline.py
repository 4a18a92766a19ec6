"""The daemon's wiring: source -> classifier -> store -> policy -> outbox -> MQTT.

One asyncio task does everything in data order, so the data time is the clock: a replay at
``--speed max`` runs a day in seconds and prompts at the same data seconds as live. The MQTT client
lives on its own thread (``sitless.alerts.mqtt``); commands come back from it through a thread-safe queue and
are applied between chunks (and every second in live mode, so a snooze works while the sensor is away).

Nothing is lost: a prompt goes into the store's outbox before it is published and leaves it on the
broker's PUBACK. After ``kill -9``, the policy's saved state and the stored postures let a restart
continue the sitting spell: the source is re-read from where the policy stopped (a replay skips ahead,
a live sensor simply goes on), and prompt ids are derived from the data, so a prompt made twice is the
same prompt (the store and receivers keep one).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sitless import __version__
from sitless.alerts.discovery import discovery_messages
from sitless.alerts.mqtt import MqttPublisher, MqttSettings, topics_for
from sitless.alerts.payloads import (
    AckCommand,
    Command,
    DndCommand,
    SnoozeCommand,
    dumps,
    prompt_payload,
    state_payload,
)
from sitless.alerts.policy import (
    AlertPolicy,
    AlertSettings,
    PolicyError,
    PromptDue,
    PromptOutcome,
    SpellEnded,
)
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.store import Store

log = logging.getLogger(__name__)

POLICY_STATE_KEY = "alerts.policy"
#: The policy state is saved at least this often (data seconds) and after every prompt.
SAVE_EVERY_S = 10
#: The retained state topic is refreshed this often (data seconds) and on every posture change.
STATE_EVERY_S = 60
#: Samples re-read before the resume point after a restart, so the classifier's filters settle.
WARMUP_S = 30
SOURCE_RETRY_MAX_S = 30.0
#: Live mode: how often the policy's clock advances between chunks (a due prompt waits at most this).
TICK_S = 0.25
#: The weekly report goes out on Monday at this local hour (data time).
WEEKLY_HOUR = 7
WEEKLY_STATE_KEY = "pipeline.weekly"


@dataclass
class PipelineStatus:
    data_time: float
    posture: Posture
    since: float
    sitting_spell_s: float
    prompts_sent: int
    battery_percent: int | None
    connected: bool


def policy_state_key(sensor_id: str) -> str:
    """One saved policy per sensor: replaying last month's recording must not rewind the live one."""
    return f"{POLICY_STATE_KEY}/{sensor_id}"


def restore_policy(store: Store, settings: AlertSettings, device_id: str, sensor_id: str) -> AlertPolicy:
    """The policy as the last run left it (a fresh one if there is no usable saved state)."""
    saved = store.load_state(policy_state_key(sensor_id))
    if saved:
        try:
            return AlertPolicy(settings, state=saved, id_scope=device_id)
        except PolicyError as error:
            log.warning("%s: starting the alert policy afresh", error)
    return AlertPolicy(settings, id_scope=device_id)


def make_publisher(settings: MqttSettings, device_id: str) -> MqttPublisher:
    publisher = MqttPublisher(settings, device_id)
    if settings.discovery:
        publisher.set_discovery(
            discovery_messages(
                publisher.topics,
                device_id,
                sw_version=__version__,
                discovery_prefix=settings.discovery_prefix,
            )
        )
    return publisher


class Pipeline:
    """See the module docstring. ``live_clock`` (e.g. ``time.time``) is for live sources only: it lets
    the policy notice a sensor that went silent; replays leave it None."""

    def __init__(
        self,
        *,
        source,
        store: Store,
        classifier,
        policy: AlertPolicy,
        publisher: MqttPublisher | None,
        device_id: str,
        on_status: Callable[[PipelineStatus], None] | None = None,
        on_prompt: Callable[[dict], None] | None = None,
        live_clock: Callable[[], float] | None = None,
        retry_source: bool | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.classifier = classifier
        self.policy = policy
        self.publisher = publisher
        self.device_id = device_id
        self.on_status = on_status
        self.on_prompt = on_prompt
        self.live_clock = live_clock
        self.retry_source = live_clock is not None if retry_source is None else retry_source
        self.sensor_id = str(getattr(source, "sensor_id", "") or device_id)
        self.topics = publisher.topics if publisher else topics_for(MqttSettings(), device_id)
        self.prompts_sent = 0
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._data_time: float | None = None
        self._last_saved = -1.0
        self._last_state = -1.0
        self._state_posture: Posture | None = None
        self._battery: int | None = None
        self._newest: tuple[float, float] | None = None  # (newest sample time, monotonic when it came)
        self._resume_at = self._resume_point()

    # ------------------------------------------------------------------ set-up
    def _resume_point(self) -> int | None:
        """First second still to process: where the policy stopped, else after the stored postures."""
        if self.policy.resume_after is not None:
            return self.policy.resume_after
        last = self.store.last_posture_second(self.sensor_id)
        return None if last is None else last + 1

    @property
    def resume_at(self) -> int | None:
        return self._resume_at

    async def run(self) -> None:
        if self.publisher:
            self.publisher.outbox = self.store
            self.publisher.on_command = self._commands.put
            self.publisher.start()
            self.publisher.kick()  # prompts left in the outbox by an earlier run
        if self._resume_at is not None:
            if hasattr(self.source, "start_at"):  # lets a replay skip ahead without pacing through it
                self.source.start_at = self._resume_at - WARMUP_S
            log.info(
                "continuing from %s (data seconds before it were processed by an earlier run)",
                self._resume_at,
            )
        session = None
        ticker = asyncio.create_task(self._tick_forever()) if self.live_clock else None
        try:
            async for chunk in self._chunks():
                if session is None and len(chunk):
                    session = self.store.start_session(
                        self.sensor_id, getattr(self.source, "name", None), float(chunk.t[0])
                    )
                if self.retry_source:
                    try:
                        self.process_chunk(chunk)
                    except Exception:  # noqa: BLE001 - live: log, drop the chunk, keep watching
                        log.exception("a chunk of %d samples could not be processed; dropped", len(chunk))
                else:
                    self.process_chunk(chunk)  # a replay fails loudly instead
                await asyncio.sleep(0)
            self._handle_postures(self.classifier.flush())
        finally:
            if ticker:
                ticker.cancel()
            self._apply_commands()
            self._save_policy()
            if session is not None and self._data_time is not None:
                self.store.end_session(session, self._data_time)
            if self.publisher:
                self._publish_state(force=True)
                if not self.publisher.wait_drained(10.0 if self.publisher.connected else 3.0):
                    pending = len(self.store.outbox_pending())
                    log.warning(
                        "%d message(s) wait in the outbox for the broker; the next run sends them", pending
                    )
                self.publisher.stop()

    async def _chunks(self):
        """The source's chunks, from the resume point; a live source is retried after errors."""
        failures = 0
        while True:
            try:
                async for chunk in self.source.chunks():
                    failures = 0
                    if (
                        self._resume_at is not None
                        and len(chunk)
                        and chunk.t[-1] < self._resume_at - WARMUP_S
                    ):
                        continue
                    yield chunk
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not self.retry_source or getattr(error, "fatal", False):
                    raise  # a replay's bad file, or a live problem retrying cannot fix (no BlueZ)
                failures += 1
                delay = min(SOURCE_RETRY_MAX_S, 2.0**failures)
                log.error("sensor source failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)

    # ------------------------------------------------------------------ the data path
    def process_chunk(self, chunk: SampleChunk) -> None:
        """One chunk through classifier, store and policy (synchronous: benchmarks call it directly)."""
        if len(chunk):
            self._newest = (float(chunk.t[-1]), time.monotonic())
        battery = getattr(self.source, "battery_percent", None)
        if battery is not None and battery != self._battery and len(chunk):
            self._battery = int(battery)
            self.store.add_battery(float(chunk.t[-1]), self._battery, self.sensor_id)
        self._handle_postures(self.classifier.feed(chunk))

    def _handle_postures(self, postures: PostureSeconds) -> None:
        if self._resume_at is not None and len(postures) and postures.start < self._resume_at:
            skip = min(len(postures), self._resume_at - postures.start)
            postures = PostureSeconds(postures.start + skip, postures.codes[skip:])
        self._apply_commands()
        if not len(postures):
            return
        self.store.add_postures(postures, self.sensor_id)
        self._data_time = float(postures.end)
        self._handle_events(self.policy.receive(postures))
        self._maybe_weekly()
        if self._data_time - self._last_saved >= SAVE_EVERY_S:
            self._save_policy()
        self._publish_state()
        self._report_status()

    def _handle_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, PromptDue):
                self._send_prompt(event)
            elif isinstance(event, PromptOutcome):
                if event.stood is not None:
                    self.store.set_prompt_outcome(
                        event.prompt_id, event.stood_after_s if event.stood else None
                    )
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
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            now = self._now()
            try:
                if isinstance(command, SnoozeCommand):
                    self.policy.snooze(now, command.minutes)
                elif isinstance(command, AckCommand):
                    if not self.policy.ack(command.prompt_id):
                        log.info(
                            "ack for %s ignored: not a prompt of the current sitting spell", command.prompt_id
                        )
                elif isinstance(command, DndCommand):
                    until = None if command.off else (command.until or now + 60.0 * (command.minutes or 0.0))
                    self.policy.set_dnd(until)
                changed = True
            except PolicyError as error:
                log.warning("command %s rejected: %s", command, error)
        if changed:
            self._save_policy()
            self._publish_state(force=True)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self._apply_commands()
                if self._data_time is not None:
                    self._handle_events(self.policy.tick(self._now()))
            except Exception:  # noqa: BLE001 - the ticker must outlive a bad moment
                log.exception("policy tick failed")

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
            battery=self._battery,
            ts=self._data_time,
            snoozed_until=self.policy.snoozed_until,
            dnd_until=self.policy.dnd_until,
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
            battery_percent=self._battery,
            connected=bool(self.publisher and self.publisher.connected),
        )
        try:
            self.on_status(status)
        except Exception:  # noqa: BLE001
            log.exception("on_status callback failed")

    def _maybe_weekly(self) -> None:
        """Monday 07:00 (local, data time): publish last week's report, retained, through the outbox."""
        if not self.publisher or self._data_time is None:
            return
        week = self._weekly_due()
        if week is None:
            return
        try:
            from sitless.weekly import build_weekly_report, report_json

            report = build_weekly_report(self.store, week, self.policy.settings.timezone, now=self._data_time)
            message_id = f"weekly-{self.device_id}-{week}"
            self.store.outbox_put(
                message_id, self.topics.report_weekly, report_json(report), qos=1, retain=True
            )
            self.publisher.kick()
            log.info("weekly report %s queued for %s", week, self.topics.report_weekly)
        except Exception:  # noqa: BLE001 - a report problem must not stop the prompts
            log.exception("weekly report for %s failed", week)

    def _weekly_due(self) -> str | None:
        """The ISO week label to publish now, once per week (remembered in the store)."""
        from sitless.weekly import resolve_timezone, week_label

        zone = resolve_timezone(self.policy.settings.timezone)
        local = datetime.fromtimestamp(self._data_time, zone)  # type: ignore[arg-type]
        if local.weekday() != 0 or local.hour < WEEKLY_HOUR:
            return None
        last_monday = local.date() - timedelta(days=7)
        week = week_label(last_monday)
        done = self.store.load_state(WEEKLY_STATE_KEY) or {}
        if done.get("week") == week:
            return None
        start = datetime.combine(last_monday, datetime.min.time(), tzinfo=zone).timestamp()
        if not self.store.has_postures_between(int(start), int(start) + 7 * 86400):
            return None  # nothing to report (a first run, a replay of one day)
        self.store.save_state(WEEKLY_STATE_KEY, {"week": week})
        return week
