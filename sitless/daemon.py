"""Setting up a pipeline from the settings: config, store, publisher, classifier, and running it.

Shared by ``sitless run``, ``sitless replay`` and ``sitless demo`` so all three fail the same clear way
(a broken config, a wrong password, an untrusted certificate) before any data flows. Failures are
``SetupError`` (a ``sitless.errors.UserError``: the command line prints the message, no traceback);
this module imports no command module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sitless.alerts.mqtt import MqttError, MqttPublisher, MqttSettings
from sitless.alerts.policy import AlertSettings
from sitless.analysis.classify import ClassifierSettings, StreamingClassifier
from sitless.config import Config, ConfigError, load_config
from sitless.errors import UserError
from sitless.pipeline import CommandInbox, Pipeline, make_publisher, restore_policy
from sitless.source_feed import SampleSource
from sitless.store import Store, StoreError, StoreSettings

log = logging.getLogger(__name__)

#: How long a starting daemon waits for the broker before going on without it (prompts wait in the outbox).
CONNECT_WAIT_S = 5.0


class SetupError(UserError):
    """The daemon cannot start: the message names the setting, file or broker and what to do."""


@dataclass
class Settings:
    config: Config
    alerts: AlertSettings
    mqtt: MqttSettings
    store: StoreSettings
    classifier: ClassifierSettings

    def timezone(self) -> tzinfo:
        """``[alerts] timezone`` as a zone, resolved once here (None: the machine's zone)."""
        from sitless.weekly import ReportError, resolve_timezone

        try:
            return resolve_timezone(self.alerts.timezone)
        except ReportError as error:
            raise SetupError(f"[alerts] timezone: {error}") from None


def load_settings(path: Path | None, *, broker: str | None = None) -> Settings:
    """All tables the daemon uses, checked before anything starts; ``--broker`` overrides ``[mqtt] url``."""
    try:
        config = load_config(path)
        mqtt = config.section("mqtt", MqttSettings)
        if broker is not None:
            try:
                mqtt = MqttSettings(**{**mqtt.__dict__, "url": broker})
            except ValueError as error:
                raise SetupError(f"--broker: {error}") from None
        return Settings(
            config=config,
            alerts=config.section("alerts", AlertSettings),
            mqtt=mqtt,
            store=config.section("store", StoreSettings),
            classifier=config.section("classifier", ClassifierSettings),
        )
    except ConfigError as error:
        raise SetupError(str(error)) from None


def open_store(settings: Settings, override: Path | None) -> Store:
    path = override if override is not None else settings.store.resolved_path()
    try:
        return Store.open(path)
    except StoreError as error:
        raise SetupError(str(error)) from None


def make_daemon_publisher(
    mqtt: MqttSettings, device_id: str, *, outbox: Store, commands: CommandInbox
) -> MqttPublisher | None:
    """The publisher (not yet connected), or None without a broker; a bad ``[mqtt]`` is a SetupError."""
    if mqtt.url is None:
        return None
    try:
        return make_publisher(mqtt, device_id, outbox=outbox, on_command=commands.put)
    except MqttError as error:
        raise SetupError(str(error)) from None


async def connect_publisher(publisher: MqttPublisher) -> None:
    """Connect before any data flows. A login or TLS problem stops here with a clear error; an
    unreachable broker does not (prompts wait in the outbox until it is back)."""
    publisher.start()
    try:
        await publisher.wait_connected(CONNECT_WAIT_S)
    except MqttError as error:
        if publisher.permanent_error:
            await publisher.stop()
            raise SetupError(str(error)) from None
        log.warning("%s; going on: prompts wait in the outbox until the broker is reachable", error)


def classifier_for(settings: Settings) -> StreamingClassifier:
    from sitless.calibration_file import load_calibration  # written by `sitless calibrate`

    calibration = None
    try:
        calibration = load_calibration()
    except Exception as error:  # noqa: BLE001 - a bad calibration file must not stop the daemon
        log.warning("calibration not used: %s", error)
    return StreamingClassifier(settings.classifier, calibration)


def meeting_calendar(settings: Settings, timezone: tzinfo, *, live: bool):
    """``[calendar]`` read once now (a missing or broken file stops the start with its name), or None."""
    from sitless.alerts.calendar import CalendarError, CalendarSettings
    from sitless.meetings import MeetingCalendar

    try:
        calendar = settings.config.section("calendar", CalendarSettings).with_environment()
    except (ConfigError, ValueError) as error:
        raise SetupError(str(error)) from None
    if not calendar.ics:
        return None
    try:
        meetings = MeetingCalendar(calendar, timezone, live=live)
    except CalendarError as error:
        raise SetupError(f"[calendar] ics: {error}") from None
    log.info("calendar: %d calendar(s); prompts wait for busy events to end", len(calendar.ics))
    return meetings


def build_pipeline(
    settings: Settings, store: Store, source: SampleSource, *, device_id: str, live: bool, **callbacks
) -> Pipeline:
    sensor_id = source.sensor_id or device_id
    timezone = settings.timezone()
    meetings = meeting_calendar(settings, timezone, live=live)
    commands = CommandInbox()
    publisher = make_daemon_publisher(settings.mqtt, device_id, outbox=store, commands=commands)
    return Pipeline(
        source=source,
        store=store,
        classifier=classifier_for(settings),
        policy=restore_policy(store, settings.alerts, device_id, sensor_id, timezone=timezone),
        publisher=publisher,
        device_id=device_id,
        commands=commands,
        timezone=timezone,
        live_clock=time.time if live else None,
        meetings=meetings,
        **callbacks,
    )


def run_until_done(pipeline: Pipeline) -> None:
    """Connect, then run the pipeline; SIGTERM/SIGINT end it cleanly (state saved, "offline" published)."""

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread
                loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            if pipeline.publisher:
                await connect_publisher(pipeline.publisher)
            await pipeline.run()
        except asyncio.CancelledError:
            log.info("stopped")

    asyncio.run(main())
