"""The live pipeline in-process: a failing sensor source is retried; a fatal one ends the daemon."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from sitless.alerts.policy import AlertPolicy, AlertSettings
from sitless.analysis.classify import StreamingClassifier
from sitless.analysis.postures import Posture
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.pipeline import Pipeline
from sitless.store import Store
from tests.alerts.helpers import MONDAY_8


class FlakySource:
    """Fails on the first connection, then delivers two minutes of samples."""

    name, sensor_id, battery_percent = "flaky", "flaky", 55

    def __init__(self, error: Exception) -> None:
        self.temperature_readings: list = []
        self.error = error
        self.attempts = 0
        self.samples = simulate(SimulationConfig(hours=2 / 60, rate_hz=12.5, seed=2, start=MONDAY_8)).samples

    async def chunks(self, start_at=None):
        self.attempts += 1
        if self.attempts == 1:
            raise self.error
        for chunk in self.samples.split(125):
            yield chunk


def make(tmp_path, source) -> tuple[Pipeline, Store]:
    store = Store.open(tmp_path / "s.db")
    pipeline = Pipeline(
        source=source,
        store=store,
        classifier=StreamingClassifier(),
        policy=AlertPolicy(AlertSettings(timezone="UTC")),
        publisher=None,
        device_id="live",
        live_clock=time.time,
    )
    return pipeline, store


def test_a_failing_live_source_is_retried_and_the_data_is_stored(tmp_path):
    source = FlakySource(RuntimeError("link lost"))
    pipeline, store = make(tmp_path, source)
    try:
        asyncio.run(asyncio.wait_for(pipeline.run(), 20))
        assert source.attempts == 2
        assert store.last_posture_second("flaky") >= MONDAY_8 + 100
    finally:
        store.close()


def test_a_fatal_source_error_ends_the_daemon_with_its_message(tmp_path):
    class Fatal(Exception):
        fatal = True

    pipeline, store = make(tmp_path, FlakySource(Fatal("BlueZ is not running: start bluetoothd")))
    try:
        with pytest.raises(Fatal, match="BlueZ"):
            asyncio.run(asyncio.wait_for(pipeline.run(), 20))
    finally:
        store.close()


class StillSensorSource:
    """A sensor lying still on a desk (constant gravity on one face, sensor noise), reporting the given
    temperature once a minute through ``temperature_readings`` as BleSource does for a thermometer."""

    name, sensor_id, battery_percent = "desk", "desk", None

    def __init__(self, celsius: float | None, minutes: float = 4.0) -> None:
        self.celsius = celsius
        self.minutes = minutes
        self.temperature_readings: list = []

    async def chunks(self, start_at=None):
        rate = 25.0
        t = MONDAY_8 + np.arange(int(self.minutes * 60 * rate)) / rate
        noise = np.random.default_rng(7).normal(0.0, 0.0025, (len(t), 3))
        xyz = (np.array([0.0, 0.0, 1.0]) + noise).astype(np.float32)
        for start in range(0, len(t), 25):
            piece = SampleChunk(t[start : start + 25], xyz[start : start + 25])
            if self.celsius is not None and start % int(60 * rate) == 0:
                self.temperature_readings.append((piece.t[:1].copy(), np.array([self.celsius])))
            yield piece


def _nonwear_seconds(tmp_path, source) -> int:
    pipeline, store = make(tmp_path, source)
    try:
        asyncio.run(asyncio.wait_for(pipeline.run(), 60))
        _, minutes = store.minutes_between(MONDAY_8, MONDAY_8 + 3600)
        return int(minutes[:, Posture.NONWEAR].sum())
    finally:
        store.close()


def test_a_sensor_colder_than_skin_is_off_the_body_at_once_in_the_daemon(tmp_path):
    """The thermometer's readings reach the classifier through the daemon: a still sensor at room
    temperature is non-wear within seconds; without a thermometer the same stillness is read as worn
    for the classifier's 10-minute wait (a still sitter keeps sitting)."""
    cold = _nonwear_seconds(tmp_path / "cold", StillSensorSource(celsius=21.0))
    unknown = _nonwear_seconds(tmp_path / "none", StillSensorSource(celsius=None))
    assert cold >= 4 * 60 - 15
    assert unknown == 0


def test_a_sensor_at_skin_temperature_stays_worn_however_still(tmp_path):
    assert _nonwear_seconds(tmp_path, StillSensorSource(celsius=33.0)) == 0
