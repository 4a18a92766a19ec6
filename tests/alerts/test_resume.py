"""A replay killed with ``kill -9`` and resumed gives the same postures, spells and prompt ids as one
never interrupted (issue 13 item 9), wherever it was killed.

The kill is emulated in-process, exactly: the pipeline is fed chunk by chunk and abandoned at the
crash point, so none of its clean-up runs (no flush, no final save, no session end); what the next run
finds is what the store had committed, as after a real ``kill -9``. That lets the test crash at the
moments that used to go wrong (just after a posture change, mid-spell) instead of wherever a timer
happens to fire. One real ``kill -9`` of ``sitless replay`` is in tests/alerts/test_faults.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sitless.alerts.policy import AlertSettings
from sitless.analysis.classify import StreamingClassifier
from sitless.firmware_bridge.sources import ReplaySource
from sitless.pipeline import Pipeline, restore_policy
from sitless.store import Store

SETTINGS = AlertSettings(timezone="UTC")


def pipeline_on(db: Path, recording: Path) -> tuple[Pipeline, Store]:
    store = Store.open(db)
    source = ReplaySource(recording)
    policy = restore_policy(store, SETTINGS, "resume", source.sensor_id)
    pipeline = Pipeline(
        source=source, store=store, classifier=StreamingClassifier(), policy=policy, publisher=None,
        device_id="resume",
    )  # fmt: skip
    return pipeline, store


def run_to_the_end(db: Path, recording: Path) -> None:
    pipeline, store = pipeline_on(db, recording)
    try:
        asyncio.run(pipeline.run())
    finally:
        store.close()


def run_and_crash(db: Path, recording: Path, crash_at: int) -> None:
    """Feed chunks until the data reaches ``crash_at``, then stop dead (what kill -9 leaves)."""
    pipeline, store = pipeline_on(db, recording)

    async def until_crash() -> None:
        async for chunk in pipeline.feed.chunks():
            pipeline.process_chunk(chunk)
            if len(chunk) and chunk.t[-1] >= crash_at:
                return

    asyncio.run(until_crash())
    store._db.close()  # no Store.close(): a killed process runs no clean-up


def outcome(db: Path) -> dict[str, list]:
    with sqlite3.connect(db) as con:
        return {
            "prompts": con.execute("SELECT prompt_id, ts, level FROM prompts ORDER BY ts").fetchall(),
            "spells": con.execute("SELECT start, end, posture FROM spells ORDER BY start").fetchall(),
            "minutes": con.execute("SELECT * FROM minutes ORDER BY minute").fetchall(),
        }


@pytest.fixture(scope="module")
def uninterrupted(workday, tmp_path_factory) -> dict[str, list]:
    db = tmp_path_factory.mktemp("whole") / "s.db"
    run_to_the_end(db, workday["path"])
    return outcome(db)


def crash_points(result: dict[str, list]) -> list[int]:
    """Just after a posture change (where a warm-up used to shift the change by a second), and a few
    seconds after the first prompt (a prompt made again must keep its id)."""
    changes = [start for start, _, _ in result["spells"]]
    first_prompt = int(result["prompts"][0][1])
    return [changes[1] + 1, first_prompt + 4]


@pytest.mark.fault
def test_a_replay_killed_and_resumed_gives_the_same_spells_and_prompt_ids(workday, uninterrupted, tmp_path):
    assert len(uninterrupted["prompts"]) >= 2
    for crash_at in crash_points(uninterrupted):
        db = tmp_path / f"crash-{crash_at}.db"
        run_and_crash(db, workday["path"], crash_at)
        partial = outcome(db)
        assert partial["spells"] and partial["spells"] != uninterrupted["spells"], "the crash came too late"
        run_to_the_end(db, workday["path"])
        resumed = outcome(db)
        assert resumed["prompts"] == uninterrupted["prompts"], f"crash at {crash_at}"
        assert resumed["spells"] == uninterrupted["spells"], f"crash at {crash_at}"
        assert resumed["minutes"] == uninterrupted["minutes"], f"crash at {crash_at}"
