"""paho-mqtt driven from an asyncio loop, as aiomqtt drives it: no network thread, no polling.

paho's "external event loop" interface (paho docs, "External event loop support"): it reports its
socket through ``on_socket_open``/``on_socket_close`` and when it has bytes to send through
``on_socket_register_write``/``on_socket_unregister_write``; the loop then calls ``loop_read`` when the
socket is readable, ``loop_write`` when writable, and ``loop_misc`` about once a second (keep-alive).
paho calls the socket callbacks from whatever thread runs ``connect``/``reconnect`` (the executor,
for the blocking TCP connect and TLS handshake), so they hop to the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger("sitless.alerts.mqtt")


class SocketDriver:
    """Watches one paho client's socket on an asyncio loop; ``lost`` is set when the connection ends."""

    def __init__(self, client: paho.Client) -> None:
        self._client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sock: socket.socket | None = None
        self.lost = asyncio.Event()
        client.on_socket_open = lambda c, u, sock: self._in_loop(self._watch, sock)
        client.on_socket_close = lambda c, u, sock: self._in_loop(self._closed, sock)
        client.on_socket_register_write = lambda c, u, sock: self._in_loop(self._want_write, sock)
        client.on_socket_unregister_write = lambda c, u, sock: self._in_loop(self._done_writing, sock)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._loop_thread = loop, threading.get_ident()

    @property
    def open(self) -> bool:
        return self._sock is not None

    async def keep_alive(self, every_s: float) -> None:
        """paho's ``loop_misc`` (pings, keep-alive timeout) until the connection is gone."""
        while self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            await asyncio.sleep(every_s)
        self.lost.set()

    def forget(self) -> None:
        """Stop watching the socket (it is closed, or about to be replaced)."""
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock)
            self._loop.remove_writer(self._sock)
        self._sock = None

    def _in_loop(self, function: Callable[[socket.socket], None], sock: socket.socket) -> None:
        if threading.get_ident() == self._loop_thread:
            function(sock)
        else:
            self._loop.call_soon_threadsafe(function, sock)  # type: ignore[union-attr]

    def _watch(self, sock: socket.socket) -> None:
        self.forget()
        self._sock = sock
        self._loop.add_reader(sock, self._step, self._client.loop_read)  # type: ignore[union-attr]

    def _closed(self, sock: socket.socket) -> None:
        if sock is self._sock:  # not the previous connection's socket, closed by reconnect()
            self.forget()
            self.lost.set()

    def _want_write(self, sock: socket.socket) -> None:
        if sock is self._sock:
            self._loop.add_writer(sock, self._step, self._client.loop_write)  # type: ignore[union-attr]

    def _done_writing(self, sock: socket.socket) -> None:
        if sock is self._sock:
            self._loop.remove_writer(sock)  # type: ignore[union-attr]

    def _step(self, step: Callable[[], MQTTErrorCode]) -> None:
        try:
            rc = step()
        except Exception:  # noqa: BLE001 - a bug must cost a reconnect, not the connection for good
            log.exception("MQTT: the network loop failed; reconnecting")
            rc = MQTTErrorCode.MQTT_ERR_UNKNOWN
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None:
            sock = self._sock
            self.forget()
            with contextlib.suppress(OSError):
                sock.close()
            self.lost.set()
