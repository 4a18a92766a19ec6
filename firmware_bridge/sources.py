"""Sample sources that need no hardware: a simulated sensor and a recording file played back.

Both have the shape of ``sitless.firmware_bridge.ble.BleSource`` (the daemon's ``SampleSource`` protocol,
``sitless.source_feed``) so the daemon cannot tell them apart: ``async for chunk in source.chunks()``
yields BLE-packet-sized ``SampleChunk`` objects in time order, and the attributes ``name``,
``sensor_id`` and ``battery_percent`` describe the sensor. ``speed`` is data
seconds per wall-clock second (1.0 = real time, 60 = a minute per second, ``math.inf`` = as fast as the
consumer takes them); sources sleep with ``asyncio.sleep`` so the event loop keeps running.

At real-time pace a chunk is one BLE packet, as from a sensor. Played faster, packets are joined into
chunks of about 50 ms of wall time (at most a minute of data): the classifier gives the same labels for
any chunking, and a replay at ``math.inf`` would otherwise spend its time on per-chunk overhead.
``chunks(start_at=t)`` (the daemon resuming after a restart) skips earlier samples without pacing.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings import RecordingError, iter_recording
from sitless.firmware_bridge.simulate import SimulationConfig, Simulator

#: How often a source at infinite speed yields to the event loop anyway (packets).
_YIELD_EVERY = 64
#: Wall time one chunk may stand for when played fast, and the most data one chunk may hold.
_CHUNK_WALL_S = 0.05
_CHUNK_MAX_DATA_S = 60.0
#: Simulated battery drain, percent per hour of data (a week leaves 16 %).
BATTERY_DRAIN_PER_HOUR = 0.5


class _Pacer:
    """Sleeps so that data time advances at ``speed`` x wall time from the first packet on."""

    def __init__(self, speed: float, fast_until: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive (data seconds per wall second), got {speed}")
        self.speed = speed
        self.fast_until = fast_until  # data before it goes at once (an earlier run already paced it)
        self.origin: tuple[float, float] | None = None
        self.count = 0

    async def wait_until(self, data_time: float) -> None:
        self.count += 1
        if math.isinf(self.speed) or (self.fast_until is not None and data_time < self.fast_until):
            if self.count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            return
        now = time.monotonic()
        if self.origin is None:
            self.origin = (now, data_time)
            return
        due = self.origin[0] + (data_time - self.origin[1]) / self.speed
        if due > now:
            await asyncio.sleep(due - now)
        elif self.count % _YIELD_EVERY == 0:
            await asyncio.sleep(0)


def _chunk_samples(speed: float, rate_hz: float, packet_samples: int) -> int:
    """Whole packets per chunk: one at real time, ~50 ms of wall time when played fast."""
    data_s = min(_CHUNK_MAX_DATA_S, _CHUNK_WALL_S * speed)
    packets = max(1, int(rate_hz * data_s) // packet_samples)
    return packets * packet_samples


def _skip_before(chunk: SampleChunk, start_at: float | None) -> SampleChunk:
    if start_at is None or not len(chunk) or chunk.t[0] >= start_at:
        return chunk
    return chunk.slice(int(np.searchsorted(chunk.t, start_at)), len(chunk))


def _packets(indices: np.ndarray, chunk: SampleChunk, packet_samples: int) -> Iterator[SampleChunk]:
    """Split by BLE packet (sample index // packet_samples), so a lost packet leaves a whole-packet gap."""
    if not len(chunk):
        return
    packet = indices // packet_samples
    cuts = np.flatnonzero(np.diff(packet)) + 1
    bounds = np.concatenate(([0], cuts, [len(chunk)]))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield chunk.slice(int(lo), int(hi))


class SimulatedSource:
    """A simulated thigh sensor streaming ``SimulationConfig`` data packet by packet."""

    def __init__(self, config: SimulationConfig, speed: float = 1.0) -> None:
        self.config = config
        self.speed = speed
        self._pacer = _Pacer(speed)  # validates speed now, not at the first packet
        self.name = f"simulated thigh ({config.mounting}, seed {config.seed})"
        self.sensor_id = f"sim-{config.seed:04d}"
        self.battery_percent: int | None = 100
        self.temperature_readings: list[tuple[np.ndarray, np.ndarray]] = []  # the simulator has no thermometer
        self.samples_sent = 0
        self._simulator: Simulator | None = None

    @property
    def simulator(self) -> Simulator:
        """The underlying simulation (its ``truth()`` is the ground truth of what is streamed)."""
        if self._simulator is None:
            self._simulator = Simulator(self.config)
        return self._simulator

    async def chunks(
        self, start_at: float | None = None, fast_until: float | None = None
    ) -> AsyncIterator[SampleChunk]:
        sim = self.simulator
        pacer = _Pacer(self.speed, fast_until)
        packet_samples = self.config.packet_samples
        per_chunk = _chunk_samples(self.speed, self.config.rate_hz, packet_samples)
        step = max(60 * int(math.ceil(self.config.rate_hz)) * 5, per_chunk)  # >= five minutes at a time
        first = 0
        if start_at is not None:
            first = max(0, int((start_at - self.config.start) * self.config.rate_hz) - packet_samples)
        for n0 in range(first, sim.n_samples, step):
            indices, chunk = sim.sample_range(n0, min(n0 + step, sim.n_samples))
            chunk = _skip_before(chunk, start_at)
            indices = indices[len(indices) - len(chunk) :]
            for packet in _packets(indices, chunk, per_chunk):
                await pacer.wait_until(float(packet.t[-1]))
                hours = (float(packet.t[-1]) - self.config.start) / 3600.0
                self.battery_percent = max(1, round(100 - BATTERY_DRAIN_PER_HOUR * hours))
                self.samples_sent += len(packet)
                yield packet


class ReplaySource:
    """A recording (.csv or .npz) played back as packets of ``packet_samples``.

    Replay stops with ``RecordingError`` at the first bad row (strict) unless ``on_error="skip"``, in
    which case bad rows are skipped and listed in ``problems``.
    """

    def __init__(
        self,
        path: os.PathLike | str,
        speed: float = math.inf,
        *,
        packet_samples: int = 20,
        on_error: str = "raise",
    ) -> None:
        self.path = Path(path)
        self.speed = speed
        _Pacer(speed)
        if packet_samples < 1:
            raise ValueError(f"packet_samples must be >= 1, got {packet_samples}")
        if not self.path.exists():
            raise RecordingError(self.path, None, "no such file")
        self.packet_samples = packet_samples
        self.on_error = on_error
        self.problems: list[RecordingError] = []
        self.name = f"replay of {self.path.name}"
        self.sensor_id = f"replay:{self.path.stem}"
        self.battery_percent: int | None = None
        self.temperature_readings: list[tuple[np.ndarray, np.ndarray]] = []  # recordings carry none (yet)
        self.samples_sent = 0

    async def chunks(
        self, start_at: float | None = None, fast_until: float | None = None
    ) -> AsyncIterator[SampleChunk]:
        pacer = _Pacer(self.speed, fast_until)
        per_chunk: int | None = None
        for block in iter_recording(self.path, 1 << 16, on_error=self.on_error, problems=self.problems):
            block = _skip_before(block, start_at)
            if not len(block):
                continue
            if per_chunk is None:
                rate = block.nominal_rate_hz()
                rate = rate if math.isfinite(rate) and rate > 0 else 25.0
                per_chunk = _chunk_samples(self.speed, rate, self.packet_samples)
            for packet in block.split(per_chunk):
                await pacer.wait_until(float(packet.t[-1]))
                self.samples_sent += len(packet)
                yield packet
