"""Drive the asyncio publisher from a plain test: its loop runs in a thread of its own.

The daemon runs ``MqttPublisher`` inside its asyncio loop; these tests talk to it from the test's
thread, so they hand each call to the loop (``call_soon_threadsafe`` / ``run_coroutine_threadsafe``)
and wait for the answer. Callbacks (``on_command``) run on the loop's thread, as in the daemon.
"""

from __future__ import annotations

import asyncio
import threading


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function, *args, **kwargs):
        async def call():
            return function(*args, **kwargs)

        return self.run(call())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class SyncPublisher:
    """``MqttPublisher``'s methods, called from the test's thread."""

    def __init__(self, publisher, loop: LoopThread) -> None:
        self.publisher, self.loop = publisher, loop

    def __getattr__(self, name: str):  # topics, connected, permanent_error, last_error, delivered
        return getattr(self.publisher, name)

    def start(self) -> None:
        self.loop.call(self.publisher.start)

    def wait_connected(self, timeout: float) -> None:
        self.loop.run(self.publisher.wait_connected(timeout), timeout + 10)

    def publish(self, *args, **kwargs) -> None:
        self.loop.call(self.publisher.publish, *args, **kwargs)

    def set_discovery(self, messages) -> None:
        self.loop.call(self.publisher.set_discovery, messages)

    def kick(self) -> None:
        self.loop.call(self.publisher.kick)

    def ensure_running(self) -> bool:
        return self.loop.call(self.publisher.ensure_running)

    def wait_drained(self, timeout: float) -> bool:
        return self.loop.run(self.publisher.wait_drained(timeout), timeout + 10)

    def stop(self) -> None:
        self.loop.run(self.publisher.stop(), 30)
