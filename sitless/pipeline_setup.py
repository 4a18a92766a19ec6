"""What a pipeline is built from besides its source: the command inbox, the alert policy as the last
run left it, and the MQTT publisher (split from ``sitless.pipeline``, which re-exports them)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import tzinfo

from sitless import __version__
from sitless.alerts.discovery import discovery_messages
from sitless.alerts.mqtt import MqttPublisher, MqttSettings, topics_for
from sitless.alerts.payloads import Command
from sitless.alerts.policy import AlertPolicy, AlertSettings, PolicyError
from sitless.store import Store

log = logging.getLogger(__name__)

POLICY_STATE_KEY = "alerts.policy"


class CommandInbox:
    """Commands from the MQTT callbacks to the pipeline (same loop, same thread); ``put`` is the
    publisher's ``on_command`` and wakes whoever waits on ``arrived``."""

    def __init__(self) -> None:
        self._commands: deque[Command] = deque()
        self.arrived = asyncio.Event()

    def put(self, command: Command) -> None:
        self._commands.append(command)
        self.arrived.set()

    def take(self) -> list[Command]:
        taken = list(self._commands)
        self._commands.clear()
        return taken


def policy_state_key(sensor_id: str) -> str:
    """One saved policy per sensor: replaying last month's recording must not rewind the live one."""
    return f"{POLICY_STATE_KEY}/{sensor_id}"


def restore_policy(
    store: Store, settings: AlertSettings, device_id: str, sensor_id: str, *, timezone: tzinfo | None = None
) -> AlertPolicy:
    """The policy as the last run left it (a fresh one if there is no usable saved state). ``timezone``:
    the zone the shell resolved (``sitless.daemon`` passes it); None: ``[alerts] timezone``, else UTC."""
    saved = store.load_state(policy_state_key(sensor_id))
    if saved:
        try:
            policy = AlertPolicy(settings, state=saved, id_scope=device_id, timezone=timezone)
        except PolicyError as error:
            log.warning("%s: starting the alert policy afresh", error)
        else:
            for note in policy.restore_notes:
                log.warning("alert state of %s: %s", sensor_id, note)
            return policy
    return AlertPolicy(settings, id_scope=device_id, timezone=timezone)


def make_publisher(
    settings: MqttSettings,
    device_id: str,
    *,
    outbox: Store | None = None,
    on_command: Callable[[Command], None] | None = None,
) -> MqttPublisher:
    discovery = None
    if settings.discovery:
        topics = topics_for(settings, device_id)
        discovery = discovery_messages(
            topics, device_id, sw_version=__version__, discovery_prefix=settings.discovery_prefix
        )
    return MqttPublisher(settings, device_id, outbox=outbox, on_command=on_command, discovery=discovery)
