"""Test helpers: fast session settings, a background consumer of ``BleSource.chunks()``, polling waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.ble import BleSource, SensorSettings, SessionEvent


def fast_settings(**overrides: Any) -> SensorSettings:
    """Timings shrunk so a reconnect takes tenths of a second, not the production 1-30 s."""
    values: dict[str, Any] = dict(
        watchdog_s=2.0,
        scan_timeout_s=2.0,
        connect_timeout_s=5.0,
        backoff_initial_s=0.1,
        backoff_max_s=0.4,
        in_progress_retry_s=0.1,
    )
    values.update(overrides)
    return SensorSettings(**values)


@dataclass
class Session:
    """A BleSource consumed in the background; ``chunks`` and ``events`` fill up as the session runs."""

    source: BleSource
    chunks: list[SampleChunk] = field(default_factory=list)
    events: list[SessionEvent] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # monotonic time each chunk reached the consumer
    task: asyncio.Task | None = None
    error: BaseException | None = None
    decoder_bugs_expected: bool = False  # otherwise stop() fails on any decoder_error event

    @classmethod
    def start(cls, settings: SensorSettings, **kwargs: Any) -> Session:
        events: list[SessionEvent] = []
        session = cls(BleSource(settings, on_event=events.append, **kwargs), events=events)
        session.task = asyncio.get_running_loop().create_task(session._consume())
        return session

    async def _consume(self) -> None:
        try:
            async for chunk in self.source.chunks():
                self.chunks.append(chunk)
                self.arrivals.append(time.monotonic())
        except BaseException as error:
            self.error = error
            raise

    @property
    def samples(self) -> SampleChunk:
        return SampleChunk.concat(self.chunks)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    async def stop(self) -> None:
        await self.source.close()
        assert self.task is not None
        try:
            await asyncio.wait_for(self.task, 5)
        except (asyncio.CancelledError, TimeoutError):
            self.task.cancel()
        bugs = [event.message for event in self.events if event.kind == "decoder_error"]
        assert self.decoder_bugs_expected or not bugs, (
            f"a decoder raised something else than ProtocolError: {bugs}"
        )


async def until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait (without blocking the loop) until ``condition()``; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def xyz_mg(n: int, seed: int = 0) -> np.ndarray:
    """Distinct, plausible accelerations in milli-g (a thigh sitting: x ~ 0, z ~ 1 g) as int16 rows."""
    rng = np.random.default_rng(seed)
    base = np.array([30, -120, 980])
    return (base + rng.integers(-400, 400, size=(n, 3))).astype(np.int16)


def polar_refusing_start(bluez, address: str, status: int, subscribed: str) -> Session:
    """A Polar H10 that answers the start command with PMD error ``status`` (control point response
    F0 <op 02 start> <type 02 acc> <status>); the session runs until it reports the refusal.
    ``subscribed`` is the characteristic whose subscription shows the session got as far as starting."""
    from tests.ble_session.peripherals import PMD_CONTROL, polar_h10

    refusing = polar_h10(address)
    refusing.on_write = lambda uuid, data: [(PMD_CONTROL, bytes([0xF0, 0x02, 0x02, status, 0x00]))]
    device = bluez.add_device(refusing)

    async def scenario() -> Session:
        session = Session.start(fast_settings(address=address, rate_hz=50))
        await asyncio.to_thread(bluez.wait_streaming, device, subscribed)
        await until(lambda: "rejected" in session.kinds(), 5, "the refusal to be reported")
        await session.stop()
        return session

    return asyncio.run(scenario())
