"""The MQTT publisher: paho-mqtt 2.x (VERSION2 callbacks), MQTT 5 or 3.1.1, QoS 1, persistent session.

Driven from the asyncio loop, as aiomqtt does: no network thread. The client's socket is watched with
``loop.add_reader`` (``loop_read`` when bytes arrive) and, while paho has bytes to send,
``loop.add_writer`` (``loop_write``); ``loop_misc`` runs every second for keep-alive. So paho's
callbacks, the pipeline and this class all run on the loop's one thread (paho's thread safety is
incomplete: issues #354, #346), commands reach the pipeline as plain calls, and nothing polls. Only
the blocking TCP connect and TLS handshake run in the default executor (``reconnect``), as in aiomqtt;
paho calls the socket callbacks from there, so they hop to the loop with ``call_soon_threadsafe``.

Why an outbox: paho queues QoS 1 messages in memory only, so a restart would lose them. Prompts are
written to the store's outbox first; this publisher sends what is pending on every connect and on
``kick()``, and deletes a message from the outbox only when the broker's PUBACK arrives. Messages in
flight when a connection drops are re-sent by paho itself on reconnect (with DUP), so they are
tracked by id and not published twice. Receivers drop the duplicates QoS 1 allows by ``id``.

A bad message must not cut the daemon off: every paho callback is guarded, and a failure while
handling a command is answered on ``error`` (``sitless.alerts.mqtt_commands``). ``ensure_running`` is
the watchdog: the pipeline calls it, and it restarts a connection task or keep-alive that has died.

Credentials come from ``[mqtt]`` in the config file or ``SITLESS_MQTT_USERNAME`` /
``SITLESS_MQTT_PASSWORD``; the password is never logged, not even in error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from sitless.alerts.mqtt_commands import CommandReceiver, Refusal
from sitless.alerts.mqtt_config import (
    BrokerAddress,
    MqttError,
    MqttSettings,
    Topics,
    default_device_id,
    describe_connect_error,
    describe_refusal,
    make_client,
    normalise_device_id,
    parse_broker_url,
    topics_for,
)
from sitless.alerts.mqtt_oneshot import clear_retained, publish_retained, publish_retained_messages
from sitless.alerts.mqtt_socket import SocketDriver
from sitless.alerts.payloads import Command, dumps

__all__ = [
    "BrokerAddress",
    "MqttError",
    "MqttPublisher",
    "MqttSettings",
    "Outbox",
    "Topics",
    "default_device_id",
    "normalise_device_id",
    "parse_broker_url",
    "clear_retained",
    "publish_retained",
    "publish_retained_messages",
    "topics_for",
]

log = logging.getLogger(__name__)

#: Reconnect back-off doubles from 1 s up to this (short: a prompt waiting for a broker is late).
MAX_BACKOFF_S = 10.0
#: Keep-alive bookkeeping (paho's loop_misc) runs this often.
MISC_EVERY_S = 1.0


class Outbox(Protocol):
    """What the publisher needs from the store."""

    def outbox_pending(self) -> list: ...

    def outbox_done(self, message_id: str) -> None: ...


class MqttPublisher:
    """One paho client driven from the running asyncio loop; see the module docstring. Call its
    methods from the loop's thread (``start`` and the waits from inside a coroutine)."""

    def __init__(
        self,
        settings: MqttSettings,
        device_id: str,
        *,
        outbox: Outbox | None = None,
        on_command: Callable[[Command], None] | None = None,
        on_connection: Callable[[bool], None] | None = None,
        discovery: list[tuple[str, str]] | None = None,
    ) -> None:
        self.settings = settings.with_environment()
        self.device_id = device_id
        self.topics = topics_for(self.settings, device_id)
        self.client_id = self.settings.client_id or f"sitless-{device_id}"
        self._client, self.address, self._connect_props = make_client(self.settings, self.client_id)
        self._client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        # Guarded: an exception escaping a paho callback ends paho's loop call (and used to end the
        # network thread for good: a deep-JSON command cut the daemon off the broker).
        self._client.on_connect = self._guarded(self._on_connect)
        self._client.on_disconnect = self._guarded(self._on_disconnect)
        self._client.on_publish = self._guarded(self._on_publish)
        self._client.on_message = self._on_message  # guards itself: it answers on `error`
        self._socket = SocketDriver(self._client)  # paho on the asyncio loop: reader, writer, keep-alive
        self._commands = CommandReceiver(self.topics.cmd(""))
        self.outbox = outbox
        self.on_command = on_command
        self.on_connection = on_connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._misc: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._configured = False
        self._retained: dict[str, str] = {}  # topic -> latest payload, re-sent on every connect
        self._discovery: list[tuple[str, str]] = list(discovery or [])
        self._inflight: dict[int, str] = {}  # paho mid -> outbox message id
        self._refused: set[str] = set()
        self.last_error: str | None = None
        #: True when the last failure needs the user (login refused, TLS not trusted), not patience.
        self.permanent_error = False
        self.delivered = 0

    # ------------------------------------------------------------------ public (the loop's thread)
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start connecting in the background (idempotent; call it inside the running loop)."""
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        self._socket.attach(self._loop)
        self._stopping = False
        if not self._configured:
            kwargs = {"clean_start": False, "properties": self._connect_props} if self._connect_props else {}
            self._client.connect_async(
                self.address.host, self.address.port, self.settings.keepalive_s, **kwargs
            )
            self._configured = True
        self._task = self._loop.create_task(self._run(), name="sitless-mqtt")

    async def wait_connected(self, timeout: float) -> None:
        """Wait until connected; raise ``MqttError`` with the failure after ``timeout``, or at once
        when the failure will not go away by retrying (wrong password, untrusted certificate)."""
        deadline = time.monotonic() + timeout
        while not self._connected.is_set():
            if self.permanent_error or time.monotonic() > deadline:
                raise MqttError(self.last_error or f"{self.address}: not connected after {timeout:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), 0.05)

    def publish(self, topic: str, payload: str, *, retain: bool = False, qos: int = 1) -> None:
        """Fire and forget (state, discovery). Retained payloads are also re-sent on every reconnect."""
        if retain:
            self._retained[topic] = payload
        self._send(topic, payload, qos, retain)

    def set_discovery(self, messages: list[tuple[str, str]]) -> None:
        self._discovery = list(messages)
        self._send_discovery()

    def kick(self) -> None:
        """New messages are in the outbox: send them now if connected."""
        self._drain()

    async def wait_drained(self, timeout: float) -> bool:
        """True once the outbox is empty (everything acknowledged by the broker)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.outbox is None or not [
                m for m in self.outbox.outbox_pending() if m.message_id not in self._refused
            ]:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    def log_ignored(self, message: str, *args: object) -> None:
        """For the pipeline: a command that changed nothing, logged at the accepted commands' rate."""
        self._commands.log_accepted(message, *args)

    def refuse(self, command_topic: str, message: str) -> None:
        """Answer a command that was refused later (by the policy) on ``error``, like a malformed one."""
        self._reply(self._commands.refuse(command_topic, message))

    def ensure_running(self) -> bool:
        """The watchdog: restart a connection task that died, or a keep-alive task that ended.

        Called by the pipeline between chunks and on its timer. True if it had to restart."""
        if self._task is None or self._stopping:
            return False
        dead = self._task.done()
        # The keep-alive task ended while connected (it only ends by losing the connection, which
        # also wakes the connection task): the same loop runs this check, so "slow" is not "dead".
        silent = self._connected.is_set() and self._misc is not None and self._misc.done()
        if not (dead or silent):
            return False
        log.error("MQTT: the network loop had stopped; restarting it (prompts wait in the outbox)")
        if not dead:
            self._task.cancel()
        if self._misc is not None:
            self._misc.cancel()
        self._socket.forget()
        self._set_connected(False)
        self._task = self._loop.create_task(self._run(), name="sitless-mqtt")  # type: ignore[union-attr]
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        """Say "offline" (the will is not sent on a clean disconnect) and disconnect."""
        if self._task is None:
            return
        self._stopping = True  # before disconnecting: the disconnect is not a "lost connection"
        if self._connected.is_set():
            info = self._client.publish(self.topics.availability, "offline", qos=1, retain=True)
            deadline = time.monotonic() + min(2.0, timeout)
            while not info.is_published() and time.monotonic() < deadline and self._socket.open:
                await asyncio.sleep(0.01)
            self._client.disconnect()
            deadline = time.monotonic() + 1.0
            while self._socket.open and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # stopping: nothing left to report
            await self._task
        self._socket.forget()
        self._connected.clear()
        self._task = None

    # ------------------------------------------------------------------ the connection task
    async def _run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            self._socket.lost.clear()
            try:
                await self._loop.run_in_executor(None, self._client.reconnect)  # type: ignore[union-attr]
            except Exception as error:  # noqa: BLE001 - every failure is reported and retried
                self._failed(
                    describe_connect_error(error, self.address), permanent=isinstance(error, ssl.SSLError)
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            self._misc = asyncio.create_task(self._socket.keep_alive(MISC_EVERY_S))
            try:
                await self._socket.lost.wait()
            finally:
                self._misc.cancel()
            was_connected = self._connected.is_set()
            self._set_connected(False)
            if self._stopping:
                return
            if was_connected:
                backoff = 1.0
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _failed(self, message: str, *, permanent: bool = False) -> None:
        self.permanent_error = permanent
        if message != self.last_error:
            log.warning("MQTT: %s (retrying)", message)
        self.last_error = message

    def _set_connected(self, value: bool) -> None:
        if value == self._connected.is_set():
            return
        if value:
            self._connected.set()
        else:
            self._connected.clear()
            if self._stopping:
                return
            log.warning("MQTT: lost connection to %s; retrying, prompts wait in the outbox", self.address)
        if self.on_connection:
            self.on_connection(value)

    def _send(self, topic: str, payload: str, qos: int, retain: bool) -> paho.MQTTMessageInfo | None:
        if not self._connected.is_set():
            return None  # retained ones are re-sent on connect; the rest are best effort
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def _send_discovery(self) -> None:
        for topic, payload in self._discovery:
            self._send(topic, payload, 1, True)

    def _drain(self) -> None:
        if not self._connected.is_set() or self.outbox is None:
            return
        busy = set(self._inflight.values()) | self._refused
        for message in self.outbox.outbox_pending():
            if message.message_id in busy:
                continue
            info = self._client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self._inflight[info.mid] = message.message_id
            else:
                log.warning(
                    "MQTT: cannot queue message %s: %s", message.message_id, paho.error_string(info.rc)
                )

    # ------------------------------------------------------------------ paho callbacks (owner thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._failed(describe_refusal(reason_code, self.address, self.settings.username), permanent=True)
            return
        self.last_error, self.permanent_error = None, False
        log.info(
            "MQTT: connected to %s as %s (session present: %s)",
            self.address,
            self.client_id,
            flags.session_present,
        )
        if self.settings.protocol == "5":  # see sitless.alerts.mqtt_commands: the retained-command rule
            client.subscribe(self.topics.cmd("#"), options=SubscribeOptions(qos=1, retainAsPublished=True))
        else:
            client.subscribe(self.topics.cmd("#"), qos=1)
        if self.settings.discovery:
            client.subscribe(f"{self.settings.discovery_prefix}/status", qos=1)
        self._set_connected(True)
        client.publish(self.topics.availability, "online", qos=1, retain=True)
        for topic, payload in list(self._retained.items()):
            client.publish(topic, payload, qos=1, retain=True)
        self._send_discovery()
        self._drain()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._set_connected(False)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        message_id = self._inflight.pop(mid, None)
        if message_id is None or self.outbox is None:
            return
        if getattr(reason_code, "is_failure", False):
            self._refused.add(message_id)
            log.error("MQTT: the broker refused message %s: %s (kept in the outbox)", message_id, reason_code)
            return
        self.outbox.outbox_done(message_id)
        self.delivered += 1

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args) -> None:
            try:
                callback(*args)
            except Exception:  # noqa: BLE001 - see the constructor
                log.exception("MQTT: %s failed (the connection goes on)", callback.__name__)

        return guarded

    def _on_message(self, client, userdata, message) -> None:
        topic = message.topic
        try:
            self._handle_message(topic, message.payload, bool(message.retain))
        except Exception as error:  # noqa: BLE001 - answer, keep the connection (issue: deep JSON)
            log.exception("MQTT: a message on %s could not be handled", topic[:120])
            self._reply(Refusal(topic[:120], f"could not be handled: {type(error).__name__}"))

    def _handle_message(self, topic: str, payload: bytes, retain: bool) -> None:
        if self.settings.discovery and topic == f"{self.settings.discovery_prefix}/status":
            if payload.strip() == b"online":
                log.info("MQTT: Home Assistant is online; re-publishing discovery")
                self._send_discovery()
            return
        if not topic.startswith(self._commands.cmd_prefix):
            return
        outcome = self._commands.receive(topic, payload, retain)
        if isinstance(outcome, Refusal):
            self._reply(outcome)
        elif outcome is not None:
            self._commands.log_accepted("MQTT: command %s", outcome)
            if self.on_command:
                self.on_command(outcome)

    def _reply(self, refusal: Refusal) -> None:
        # QoS 0: a reply is information, and QoS 1 replies to a flood of bad commands would pile up
        # unacknowledged messages that paho then reads and writes in one long burst per wake-up.
        self._send(self.topics.error, dumps(refusal.payload()), 0, False)
