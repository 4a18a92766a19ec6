"""The live pipeline in-process: a failing sensor source is retried; a fatal one ends the daemon."""

from __future__ import annotations

import asyncio
import time

import pytest

from sitless.alerts.policy import AlertPolicy, AlertSettings
from sitless.analysis.classify import StreamingClassifier
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.pipeline import Pipeline
from sitless.store import Store
from tests.alerts.helpers import MONDAY_8


class FlakySource:
    """Fails on the first connection, then delivers two minutes of samples."""

    name, sensor_id, battery_percent = "flaky", "flaky", 55

    def __init__(self, error: Exception) -> None:
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
