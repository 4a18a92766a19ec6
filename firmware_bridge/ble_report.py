"""What the user sees of a BLE session: each decoder event and link problem as a ``SessionEvent`` and a
log line that says what happened and what to do next (GUIDE: log lines that say what to do next).

A mixin of ``BleSource`` (which owns the state it reads: ``sensor_id``, ``settings``, ``stats``, the
queue of chunks); kept apart so the session module is about connecting and streaming only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from sitless.firmware_bridge.ble_common import SensorSettings, SessionEvent, SessionStats
from sitless.firmware_bridge.decoders.base import ProtocolError, SensorDecoder
from sitless.firmware_bridge.decoders.events import (
    CommandRefused,
    Event,
    Gap,
    Notice,
    Samples,
    StreamStopped,
    Temperature,
)

log = logging.getLogger("sitless.firmware_bridge.ble")

#: Temperature events kept for a consumer that does not take them (a reading a minute: over two days).
MAX_UNTAKEN_READINGS = 4096


class SensorStopped:
    """Queued when the decoder reports ``StreamStopped``: ends the stream at once (no watchdog wait)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class SessionReporter:
    """Turns decoder events and link problems into samples on the queue, counters and SessionEvents."""

    sensor_id: str
    settings: SensorSettings
    stats: SessionStats
    family: str | None
    battery_percent: int | None
    temperature_c: float | None
    temperature_readings: list[tuple[np.ndarray, np.ndarray]]
    _battery_warned: bool
    _generation: int
    _queue: asyncio.Queue[Any]
    _on_event: Callable[[SessionEvent], None] | None

    def _on_decoder_event(self, decoder: SensorDecoder, event: Event) -> None:
        match event:
            case Samples(chunk=chunk):
                self._queue.put_nowait(chunk)
            case Gap(start=start, end=end, lost_packets=lost):
                self.stats.gaps.append((start, end))
                what = f"{lost} packet{'s' if lost != 1 else ''}" if lost else "packets"
                self._emit(
                    "gap", f"{end - start:.1f} s of {what} lost from {self.sensor_id}", start=start, end=end
                )
            case StreamStopped(reason=reason):
                self._queue.put_nowait(SensorStopped(reason))
            case CommandRefused(reason=reason, advice=advice):
                self.stats.rejected_commands += 1
                what_to_do = advice or (
                    f"try another rate or range (`sitless sensors` lists what {decoder.display_name} supports)"
                )
                self._emit(
                    "rejected",
                    f"{self.sensor_id} refused a command: {reason}. What to do: {what_to_do}. The session "
                    "retries when the watchdog fires",
                    error=reason,
                    reason=event.status,
                )
            case Notice(message=message):
                self._emit("notice", f"{self.sensor_id}: {message}", reason=message)
            case Temperature(t=t, celsius=celsius, where=where):
                self.temperature_c = float(celsius[-1])
                if len(self.temperature_readings) >= MAX_UNTAKEN_READINGS:  # nobody takes them (sitless record)
                    del self.temperature_readings[: MAX_UNTAKEN_READINGS // 2]
                self.temperature_readings.append((np.asarray(t, np.float64), np.asarray(celsius, np.float64)))
                self._emit(
                    "temperature",
                    f"{self.sensor_id} {where} temperature {self.temperature_c:.1f} degrees C",
                    start=float(t[-1]),
                    celsius=self.temperature_c,
                    quiet=True,
                )

    def _decoder_bug(self, decoder: SensorDecoder, error: Exception, data: bytes) -> None:
        self.stats.decoder_errors += 1
        count = self.stats.decoder_errors
        message = (
            f"sitless bug: the {decoder.family} decoder failed on a packet from {self.sensor_id} "
            f"({error!r}, packet {data[:24].hex()}); the session continues. Please report it with this log"
        )
        if count <= 3 or count % 100 == 0:
            log.error("%s", message, exc_info=error)
        self._emit("decoder_error", message, error=repr(error), quiet=True)  # logged above, with traceback

    def _malformed(self, error: ProtocolError) -> None:
        self.stats.malformed += 1
        count = self.stats.malformed
        message = (
            f"malformed packet #{count} from {self.sensor_id}: {error}; the session continues. If this keeps "
            f"happening, check that family={self.family!r} matches the sensor (`sitless sensors`)"
        )
        self._emit(
            "malformed", message, count=count, error=str(error), quiet=not (count <= 3 or count % 100 == 0)
        )

    def _on_battery(self, generation: int, data: bytes | bytearray) -> None:
        if generation != self._generation or len(data) != 1 or data[0] > 100:
            return
        percent = int(data[0])
        low = percent < self.settings.low_battery_percent
        self.battery_percent = percent
        if low and not self._battery_warned:
            message = f"battery of {self.sensor_id} at {percent}% (below {self.settings.low_battery_percent}%): charge it soon"
        else:
            message = f"battery of {self.sensor_id} at {percent}%"
        self._emit("battery", message, percent=percent, low=low, quiet=not (low and not self._battery_warned))
        self._battery_warned = low

    def _emit(self, kind: str, message: str, *, quiet: bool = False, **fields: Any) -> None:
        # "error" is raised to the caller too, who reports it; logging it as well would say it twice
        levels = {
            "connected": logging.INFO,
            "battery": logging.INFO,
            "gap": logging.INFO,
            "notice": logging.INFO,
            "error": logging.DEBUG,
        }
        log.log(logging.DEBUG if quiet else levels.get(kind, logging.WARNING), "%s", message)
        if self._on_event is not None:
            try:
                self._on_event(SessionEvent(kind, self.sensor_id, message, **fields))
            except Exception:
                log.exception("on_event handler failed for %s event", kind)
