"""Where the pipeline's samples come from: the source protocol, resume after a restart, retry, battery.

Split from the pipeline so that "what a sensor source is" is written down once (``SampleSource``, a
``typing.Protocol``: ``BleSource``, ``SimulatedSource`` and ``ReplaySource`` all match it, and so does
any test double) and the pipeline never probes a source with ``getattr``/``hasattr``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np

from sitless.analysis.samples import SampleChunk

log = logging.getLogger(__name__)

#: Samples a live source re-reads before the resume point after a restart, so the classifier's
#: filters settle (a recording is re-read from its start instead: see ``SourceFeed``).
WARMUP_S = 30
#: A failing live source is retried after 2, 4, 8 ... seconds, at most this long.
SOURCE_RETRY_MAX_S = 30.0


class SampleSource(Protocol):
    """A sensor, a simulated one, or a recording, as the daemon sees it.

    ``chunks(start_at)`` yields ``SampleChunk`` objects in time order for as long as the source has
    data; ``start_at`` (epoch seconds) lets a recording skip what an earlier run already processed
    (a live sensor ignores it: it cannot go back). A recording also takes ``fast_until``: data before
    it is delivered at once, without pacing (``SourceFeed`` passes it to a replay only). An exception
    whose ``fatal`` attribute is true is a problem retrying cannot fix (BlueZ missing): the daemon
    ends with its message.
    """

    #: What a person calls it ("replay of day.csv", the sensor's advertised name).
    name: str
    #: Names the sensor in the store ("" until a scanning BLE source has found one).
    sensor_id: str
    #: The sensor's last reported battery level, None if it does not report one.
    battery_percent: int | None
    #: Temperature readings (epoch seconds, deg C) the daemon has not taken yet, oldest first: evidence of
    #: wear for the classifier (a sensor colder than skin is off the body). Sources without a thermometer
    #: leave it empty; the daemon empties it (``SourceFeed.take_temperatures``).
    temperature_readings: list[tuple[np.ndarray, np.ndarray]]

    def chunks(self, start_at: float | None = None) -> AsyncIterator[SampleChunk]: ...


def is_fatal(error: BaseException) -> bool:
    """True for a source error that retrying cannot fix (see ``SampleSource``)."""
    return bool(getattr(error, "fatal", False))


class SourceFeed:
    """The source's chunks from the resume point on; a live source is retried after errors.

    ``resume_at`` is the first data second still to process (None: from the start); the pipeline
    drops the seconds before it, the classifier sees them.

    A replay (``retry`` False) is re-read from the start of the recording, unpaced up to
    ``resume_at``: the classifier then reaches the resume point in exactly the state an
    uninterrupted run had (its IIR filters, the learned upright reference and the non-wear windows
    all remember more than any warm-up), so a resumed replay gives the same postures, spells and
    prompt ids as one never interrupted, wherever it was killed (issue 13 item 9: a 30-s warm-up
    moved posture changes near the resume point by a second, and with them every later prompt of
    the spell). The cost is re-classifying what was done before, a few seconds per recorded day.
    A live source cannot go back: it is asked for ``WARMUP_S`` before the resume point (a simulated
    one can), and chunks ending before that are dropped.
    """

    def __init__(self, source: SampleSource, *, resume_at: int | None, retry: bool) -> None:
        self.source = source
        self.resume_at = resume_at
        self.retry = retry
        self._battery: int | None = None

    @property
    def start_at(self) -> float | None:
        if self.resume_at is None or not self.retry:
            return None
        return float(self.resume_at - WARMUP_S)

    def _source_chunks(self) -> AsyncIterator[SampleChunk]:
        if self.resume_at is not None and not self.retry:
            return self.source.chunks(None, fast_until=float(self.resume_at))  # type: ignore[call-arg]
        return self.source.chunks(self.start_at)

    async def chunks(self) -> AsyncIterator[SampleChunk]:
        failures = 0
        while True:
            try:
                async for chunk in self._source_chunks():
                    failures = 0
                    if self.start_at is not None and len(chunk) and chunk.t[-1] < self.start_at:
                        continue
                    yield chunk
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not self.retry or is_fatal(error):
                    raise  # a replay's bad file, or a live problem retrying cannot fix (no BlueZ)
                failures += 1
                delay = min(SOURCE_RETRY_MAX_S, 2.0**failures)
                log.error("sensor source failed (%s); retrying in %.0f s", error, delay)
                await asyncio.sleep(delay)

    def battery_change(self) -> int | None:
        """The source's battery level if it changed since the last call (to be stored), else None."""
        battery = self.source.battery_percent
        if battery is None or battery == self._battery:
            return None
        self._battery = int(battery)
        return self._battery

    def take_temperatures(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The source's temperature readings since the last call (each once)."""
        readings = self.source.temperature_readings
        if not readings:
            return []
        taken = list(readings)
        readings.clear()
        return taken

    @property
    def battery(self) -> int | None:
        """The last battery level seen (what the state topic shows)."""
        return self._battery
