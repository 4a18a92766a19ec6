"""Postures reach the store several seconds at a time (issue 12), and that costs no recorded data:
the saved policy state is never ahead of the stored postures (a restart resumes from it), a crash of a
live daemon loses at most ``SAVE_EVERY_S`` seconds of postures, and a sensor that goes quiet has its
last seconds stored anyway."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import numpy as np

import sitless.pipeline
from sitless.alerts.policy import AlertPolicy, AlertSettings
from sitless.analysis.classify import StreamingClassifier
from sitless.analysis.postures import Posture, PostureSeconds
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.pipeline import SAVE_EVERY_S, Pipeline
from sitless.posture_batch import PostureBatch
from sitless.store import Store
from tests.alerts.helpers import MONDAY_8


class Packets:
    """Ten minutes of a simulated thigh at 25 Hz in 10-sample packets; then, if ``then_quiet``, a
    sensor that stays connected and sends nothing more."""

    name, sensor_id, battery_percent = "packets", "thigh", None

    def __init__(self, *, then_quiet: bool = False) -> None:
        self.temperature_readings: list = []
        self.samples = simulate(SimulationConfig(hours=10 / 60, rate_hz=25, seed=5, start=MONDAY_8)).samples
        self.then_quiet = then_quiet

    async def chunks(self, start_at=None):
        for chunk in self.samples.split(10):
            yield chunk
        if self.then_quiet:
            await asyncio.sleep(3600)


def pipeline_on(store: Store, source: Packets, **options) -> Pipeline:
    return Pipeline(
        source=source, store=store, classifier=StreamingClassifier(),
        policy=AlertPolicy(AlertSettings(timezone="UTC")), publisher=None, device_id="batch", **options,
    )  # fmt: skip


def committed(db: Path) -> tuple[int | None, int | None]:
    """What another process (or the next run after ``kill -9``) sees: the last stored second and the
    saved policy state's first unseen second."""
    with sqlite3.connect(db) as other:
        (last,) = other.execute("SELECT last_second FROM sensors WHERE name='thigh'").fetchone() or (None,)
        row = other.execute("SELECT value FROM state WHERE key LIKE 'alerts.policy/%'").fetchone()
    return last, (json.loads(row[0])["data_end"] if row else None)


def test_the_saved_policy_state_is_never_ahead_of_the_stored_postures(tmp_path):
    db = tmp_path / "s.db"
    store = Store.open(db)
    source = Packets()
    pipeline = pipeline_on(store, source)
    checked = 0
    try:
        for index, chunk in enumerate(source.samples.split(10)):
            pipeline.process_chunk(chunk)
            if index % 7 or pipeline._data_time is None:
                continue
            last, resume_at = committed(db)
            if resume_at is not None:
                assert last is not None and resume_at <= last + 1  # a restart finds every second before it
                checked += 1
            stored_end = MONDAY_8 if last is None else last + 1
            assert pipeline._data_time - stored_end <= SAVE_EVERY_S  # what kill -9 would lose
    finally:
        store.close()
    assert checked > 50


def test_a_finished_run_stores_every_second_once_with_spells_as_one_write_per_second_made(tmp_path):
    batched, single = tmp_path / "batched.db", tmp_path / "single.db"
    store = Store.open(batched)
    try:
        asyncio.run(pipeline_on(store, Packets()).run())
    finally:
        store.close()
    postures = StreamingClassifier()
    with Store.open(single) as reference:  # the old way: every completed second its own transaction
        for chunk in Packets().samples.split(10):
            reference.add_postures(postures.feed(chunk), "thigh")
        reference.add_postures(postures.flush(), "thigh")
    tables = "SELECT start, end, posture FROM spells ORDER BY start", "SELECT * FROM minutes ORDER BY minute"
    for query in tables:
        with sqlite3.connect(batched) as a, sqlite3.connect(single) as b:
            assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_a_live_daemon_stores_its_last_seconds_when_the_sensor_goes_quiet(tmp_path, monkeypatch):
    monkeypatch.setattr(sitless.pipeline, "WATCHDOG_EVERY_S", 0.3)
    db = tmp_path / "s.db"
    store = Store.open(db)
    pipeline = pipeline_on(store, Packets(then_quiet=True), live_clock=time.time)

    async def until_stored() -> int | None:
        task = asyncio.create_task(pipeline.run())
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                last, _ = committed(db)
                if pipeline._data_time is not None and last == pipeline._data_time - 1:
                    return last
            return committed(db)[0]
        finally:
            task.cancel()

    try:
        last = asyncio.run(until_stored())
        assert pipeline._data_time is not None and last == pipeline._data_time - 1
    finally:
        store.close()


def test_seconds_either_side_of_a_hole_are_never_joined(tmp_path):
    with Store.open(tmp_path / "s.db") as store:
        batch = PostureBatch(store, "thigh")
        batch.add(PostureSeconds(MONDAY_8, np.full(3, Posture.SITTING, np.int8)))
        batch.add(PostureSeconds(MONDAY_8 + 10, np.full(2, Posture.STANDING, np.int8)))
        assert len(batch) == 2  # the first part went in when the hole showed
        batch.write()
        assert len(batch) == 0
        spells = store.spells_between(MONDAY_8, MONDAY_8 + 60).tolist()
    assert spells == [
        [MONDAY_8, MONDAY_8 + 3, Posture.SITTING],
        [MONDAY_8 + 10, MONDAY_8 + 12, Posture.STANDING],
    ]
