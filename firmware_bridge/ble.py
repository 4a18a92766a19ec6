"""The live source: one Bleak session to a thigh sensor that keeps itself alive for days.

Bleak maintainers' advice, followed here: a fresh ``BleakClient`` per connection; never reconnect from
inside ``disconnected_callback`` (it only wakes the loop below); ``org.bluez.Error.InProgress`` on Connect
is stale BlueZ state, so wait briefly and retry; and keep our own "no data for N seconds" watchdog,
because Bleak fires no callback when bluetoothd itself dies. Each connection gets a fresh decoder, so a
reconnect shows as a timestamp jump (plus a ``gap`` event) and no sample is ever invented to bridge it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.ble_common import (
    BATTERY_LEVEL_UUID,
    MAX_NOTIFICATION_BYTES,
    BleSessionError,
    BlueZUnavailable,
    FoundSensor,
    SensorNotFound,
    SensorSettings,
    SessionEvent,
    SessionStats,
    describe_error,
    explain_bluez_error,
    registry_module,
    scan,
)
from sitless.firmware_bridge.ble_connect import (
    choose_decoder,
    connect_fresh_client,
    find_sensor,
    generic_profile_or_fatal,
)
from sitless.firmware_bridge.ble_gatt import BATTERY_SERVICE_UUID, NOTIFY, READ, WRITE, find_characteristic
from sitless.firmware_bridge.ble_report import SensorStopped, SessionReporter
from sitless.firmware_bridge.decoders.base import Command, ProtocolError, SensorDecoder

__all__ = ["BleSessionError", "BleSource", "BlueZUnavailable", "FoundSensor", "SensorNotFound"]
__all__ += ["SensorSettings", "SessionEvent", "SessionStats", "scan"]

log = logging.getLogger(__name__)
_LINK_LOST = object()  # queued by the disconnected callback, after every sample that arrived before it


class BleSource(SessionReporter):
    """``async for chunk in BleSource(settings).chunks()``: connect, start, decode, reconnect, forever.

    Same shape as ``sitless.firmware_bridge.sources.SimulatedSource``. ``on_event`` receives every
    ``SessionEvent`` (also logged). ``registry`` replaces the decoder registry (tests).
    ``bluez_required``: raise ``BlueZUnavailable`` instead of retrying when BlueZ is missing before the
    first connection (a command run by hand should say so and exit; the daemon should wait for it).
    """

    def __init__(
        self,
        settings: SensorSettings,
        *,
        on_event: Callable[[SessionEvent], None] | None = None,
        registry: ModuleType | Any | None = None,
        bluez_required: bool = False,
    ) -> None:
        self.settings = settings
        self._bluez_required = bluez_required  # commands: no BlueZ before the first connection is fatal
        self.sensor_id: str = (settings.address or "").upper()  # BlueZ spells addresses in capitals
        self.name: str = settings.address or "BLE sensor"
        self.family: str | None = settings.family
        self.battery_percent: int | None = None
        self.temperature_c: float | None = (
            None  # the latest Temperature event's value, if the sensor sends one
        )
        self.temperature_readings: list[tuple[np.ndarray, np.ndarray]] = []  # for the daemon to take
        self.stats = SessionStats()
        self._on_event = on_event
        self._registry = registry
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._client: BleakClient | None = None
        self._decoder: SensorDecoder | None = None
        self._generation = 0  # bumped per connection; callbacks from older clients are ignored
        self._closed = asyncio.Event()
        self._last_t: float | None = None
        self._last_data = 0.0  # loop time of the last decoded sample (the watchdog's clock)
        self._new_link = False
        self._battery_warned = False
        self._command_lock = asyncio.Lock()
        self._command_tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ public
    async def chunks(self, start_at: float | None = None) -> AsyncIterator[SampleChunk]:
        """Decoded chunks for as long as the source is open. Raises only ``BleSessionError(fatal=True)``.

        ``start_at`` (the daemon resuming) is ignored: a live sensor cannot go back, it simply goes on."""
        failures = 0  # consecutive failed connects: the backoff exponent
        misses = 0  # consecutive scans that did not see the sensor
        while not self._closed.is_set():
            try:
                await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                explained = explain_bluez_error(error, self.settings.adapter)
                if (
                    isinstance(explained, BlueZUnavailable)
                    and self._bluez_required
                    and not self.stats.connects
                ):
                    explained.fatal = True
                if explained is not None and explained.fatal:
                    self._emit("error", str(explained), reason=str(explained))
                    raise explained from None
                reason = str(explained) if explained else describe_error(error)
                if isinstance(error, SensorNotFound):
                    # Listening costs nothing and the scan itself was the wait: scan again at once, so a
                    # sensor coming back into range is caught within an advertising interval. Only the
                    # log is backed off (a sensor switched off overnight is not worth 3000 lines).
                    misses += 1
                    await self._backoff(misses, reason, delay=0.0, quiet=misses & (misses - 1) != 0)
                else:
                    failures += 1
                    await self._backoff(failures, reason)
                continue
            failures = misses = 0
            reason = "closed"
            if self._closed.is_set():  # closed while connecting: the sentinel went to the old queue
                self._queue.put_nowait(_LINK_LOST)
            link_ended = False
            try:
                async for chunk in self._stream():
                    yield chunk
                reason = self._end_reason
                link_ended = True
            finally:
                # Tell the sensor to stop unless the link ended by itself (lost, or silent past the
                # watchdog). That covers close() and also a consumer that stops iterating: the daemon's
                # SIGTERM cancels this generator mid-await, and by the time anyone could call close()
                # the client is already gone (a MetaMotion would go on sampling on its battery).
                await self._release(stop_streaming=self._closed.is_set() or not link_ended)
            if not self._closed.is_set():
                failures = 1
                await self._backoff(failures, reason)

    async def close(self) -> None:
        """Stop streaming, disconnect, and end ``chunks()``."""
        self._closed.set()
        self._queue.put_nowait(_LINK_LOST)
        await self._release(stop_streaming=True)

    # ------------------------------------------------------------------ connecting
    def _generic_profile(self) -> Any | None:
        return generic_profile_or_fatal(self.settings)

    def _choose_decoder(self, device: BLEDevice, adv: AdvertisementData) -> SensorDecoder:
        decoder = choose_decoder(self.settings, self._registry or registry_module(), device, adv)
        self.family = decoder.family
        return decoder

    async def _connect(self) -> None:
        device, adv = await find_sensor(
            self.settings, self._registry or registry_module(), self._generic_profile()
        )
        decoder = self._choose_decoder(device, adv)
        self.sensor_id = device.address
        self.name = adv.local_name or device.name or device.address
        self._generation += 1
        generation = self._generation
        self._queue = asyncio.Queue()
        client = await connect_fresh_client(
            device, self.settings, lambda: self._on_disconnected(generation), self.stats
        )
        self._client, self._decoder = client, decoder
        try:
            await self._start_streaming(client, decoder, generation)
        except BaseException:
            await self._release(stop_streaming=False)
            raise
        self._last_data = asyncio.get_running_loop().time()
        self._new_link = True
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self._emit("connected", f"connected to {self.name} ({self.sensor_id}) as {decoder.display_name}")

    async def _start_streaming(self, client: BleakClient, decoder: SensorDecoder, generation: int) -> None:
        battery = find_characteristic(
            client.services, BATTERY_LEVEL_UUID, service_uuid=BATTERY_SERVICE_UUID, properties=READ
        )
        if battery is not None:  # optional: a battery that cannot be read never fails a connect
            try:
                self._on_battery(generation, await client.read_gatt_char(battery))
                if "notify" in battery.properties:
                    await client.start_notify(battery, lambda _c, data: self._on_battery(generation, data))
            except Exception as error:
                log.info("battery level of %s unavailable: %s", self.sensor_id, describe_error(error))
        for uuid in decoder.notify_uuids:
            char = find_characteristic(
                client.services, uuid, service_uuid=decoder.service_uuid, properties=NOTIFY
            )
            if char is None:
                raise BleSessionError(
                    f"{self.sensor_id} has no characteristic {uuid}, which {decoder.display_name} streams on: "
                    f"is family={decoder.family!r} right for this sensor? (see `sitless sensors`)"
                )
            await client.start_notify(char, lambda c, data: self._on_notification(generation, c, data))
        for uuid in decoder.optional_notify_uuids:  # e.g. a thermometer the firmware may leave out
            char = find_characteristic(client.services, uuid, properties=NOTIFY)
            if char is not None:
                await client.start_notify(char, lambda c, data: self._on_notification(generation, c, data))
        await self._run_commands(client, decoder, generation, decoder.start_commands())

    async def _run_commands(
        self, client: BleakClient, decoder: SensorDecoder, generation: int, commands: list[Command]
    ) -> None:
        """Write (or read) each command, then whatever the decoder decided on in reply, in order."""
        async with self._command_lock:
            pending = list(commands) + decoder.commands_to_send()
            while pending and generation == self._generation:
                command = pending.pop(0)
                char = find_characteristic(
                    client.services,
                    command.characteristic,
                    service_uuid=decoder.service_uuid,
                    properties=READ if command.read else WRITE,
                )
                if char is None and command.optional:
                    continue
                if char is None:
                    raise BleSessionError(
                        f"{self.sensor_id} has no characteristic {command.characteristic}, which "
                        f"{decoder.display_name} is configured through: is family={decoder.family!r} right?"
                    )
                if command.read:
                    self._on_notification(generation, char, await client.read_gatt_char(char))
                else:
                    await client.write_gatt_char(char, command.data, response=command.response)
                pending.extend(decoder.commands_to_send())

    def _send_later(self, decoder: SensorDecoder, generation: int) -> None:
        """Commands a notification made the decoder queue: written from a task (callbacks cannot await)."""
        client = self._client
        if client is None or not decoder.has_commands_to_send():
            return

        async def send() -> None:
            try:
                await self._run_commands(client, decoder, generation, [])
            except Exception as error:
                if generation == self._generation:
                    self._emit(
                        "rejected",
                        f"could not configure {self.sensor_id}: {describe_error(error)}; reconnecting",
                        error=str(error),
                    )
                    self._queue.put_nowait(_LINK_LOST)

        task = asyncio.get_running_loop().create_task(send())
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def _release(self, *, stop_streaming: bool) -> None:
        client, decoder, self._client = self._client, self._decoder, None
        self._generation += 1
        for task in list(self._command_tasks):
            task.cancel()
        if client is None:
            return
        with contextlib.suppress(Exception):
            if stop_streaming and decoder is not None and client.is_connected:
                for command in decoder.stop_commands():
                    char = find_characteristic(
                        client.services,
                        command.characteristic,
                        service_uuid=decoder.service_uuid,
                        properties=WRITE,
                    )
                    if char is not None:
                        await asyncio.wait_for(
                            client.write_gatt_char(char, command.data, response=command.response), 2
                        )
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception as error:  # BlueZ may be gone: nothing left to disconnect from
            log.debug("disconnecting %s failed: %r", self.sensor_id, error)

    async def _backoff(
        self, attempt: int, reason: str, *, delay: float | None = None, quiet: bool = False
    ) -> None:
        delay = self.settings.backoff_s(attempt) if delay is None else delay
        who = self.settings.address or "a sensor"
        when = f"in {delay:g} s" if delay else "now"
        self._emit(
            "reconnecting",
            f"reconnecting to {who} {when} (attempt {attempt}): {reason}",
            reason=reason,
            attempt=attempt,
            delay_s=delay,
            quiet=quiet,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), delay)

    # ------------------------------------------------------------------ streaming
    async def _stream(self) -> AsyncIterator[SampleChunk]:
        loop = asyncio.get_running_loop()
        watchdog = self.settings.watchdog_s
        while True:
            remaining = watchdog - (loop.time() - self._last_data)
            if remaining <= 0:
                self.stats.watchdog_trips += 1
                self._end_reason = f"no data for {watchdog:g} s"
                self._emit(
                    "watchdog",
                    f"no data for {watchdog:g} s from {self.sensor_id}, reconnecting; if this repeats, check "
                    f"the sensor's battery or run `bluetoothctl remove {self.sensor_id}`",
                    reason=self._end_reason,
                )
                return
            try:
                item = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                continue
            if item is _LINK_LOST:
                if not self._closed.is_set():
                    self._end_reason = "link lost"
                    self._emit(
                        "disconnected",
                        f"lost the link to {self.sensor_id}; reconnecting (samples during the outage are lost "
                        "and the gap is marked). If this happens often, keep the computer's adapter within a "
                        "few metres of the sensor (a USB dongle on an extension cable helps)",
                        reason=self._end_reason,
                    )
                return
            if isinstance(item, SensorStopped):
                self._end_reason = f"the sensor stopped streaming: {item.reason}"
                self._emit(
                    "stopped",
                    f"{self.sensor_id} stopped streaming ({item.reason}); restarting the measurement. If it "
                    "keeps stopping, close other apps that use the sensor and check its battery",
                    reason=self._end_reason,
                )
                return
            chunk = self._continue_timeline(item)
            if len(chunk):
                self.stats.samples += len(chunk)
                yield chunk

    def _continue_timeline(self, chunk: SampleChunk) -> SampleChunk:
        """Mark the gap after a reconnect; drop samples that would step back in time (a resynced clock)."""
        if self._last_t is not None:
            if self._new_link and chunk.t[0] > self._last_t:
                start, end = self._last_t, float(chunk.t[0])
                self.stats.gaps.append((start, end))
                self._emit(
                    "gap",
                    f"{end - start:.1f} s without samples from {self.sensor_id} (reconnected)",
                    start=start,
                    end=end,
                )
            newer = chunk.t >= self._last_t
            if not newer.all():
                self.stats.overlapping_dropped += int((~newer).sum())
                chunk = SampleChunk(chunk.t[newer], chunk.xyz[newer])
        self._new_link = False
        if len(chunk):
            self._last_t = float(chunk.t[-1])
        return chunk

    # ------------------------------------------------------------------ callbacks (Bleak's, in our loop)
    def _on_disconnected(self, generation: int) -> None:
        if generation == self._generation:
            self._queue.put_nowait(_LINK_LOST)  # the loop in chunks() reconnects, never this callback

    def _on_notification(self, generation: int, char: BleakGATTCharacteristic, data: bytearray) -> None:
        decoder = self._decoder
        if generation != self._generation or decoder is None:
            return
        self.stats.packets += 1
        try:
            if len(data) > MAX_NOTIFICATION_BYTES:
                raise ProtocolError(
                    decoder.family, f"oversized notification ({len(data)} bytes)", bytes(data)
                )
            events = decoder.receive_data(char.uuid, bytes(data), time.time())
        except ProtocolError as error:
            self._malformed(error)
            return
        except Exception as error:  # a decoder bug: a daemon running for days survives it, loudly
            self._decoder_bug(decoder, error, bytes(data))
            return
        self._last_data = asyncio.get_running_loop().time()  # the sensor is alive, samples or not
        for event in events:
            self._on_decoder_event(decoder, event)
        self._send_later(decoder, generation)

    _end_reason = "link lost"
