"""A study's folder: `sitless classify DIR --out-dir D` with --workers, --shard + --merge and Dask.

The study is simulated participants (the simulator's thigh, written as an AX3 .cwa, a sitless .npz and a
.csv in a participant's sub-folder) plus one damaged file; every way of running it must give the same
cohort table, byte for byte.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sitless.cli import main
from sitless.cohort import COLUMNS, find_recordings, process_recording, settings_key
from sitless.cohort_run import Progress, run_dask, run_local
from sitless.firmware_bridge.recordings import write_recording
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from tests.devices.cwa_synth import write_cwa

EVENING = 1_795_127_400.0  # 2026-11-19 22:30 UTC: three hours that cross midnight


@pytest.fixture(autouse=True)
def _private_folders(private_data_dir):
    """Every test here runs the commands with private data and config folders (tests/conftest.py)."""


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    for seed, name in ((11, "p01.cwa"), (12, "p02.npz"), (13, "p03/week1.csv"), (14, "p04.cwa")):
        day = simulate(SimulationConfig(hours=3, rate_hz=25.0, seed=seed, start=EVENING + 60 * seed))
        path = root / name
        path.parent.mkdir(exist_ok=True)
        if path.suffix == ".cwa":
            write_cwa(path, [day.samples], 25.0, 8, annotation="_p=right+thigh")
        else:
            write_recording(path, day.samples)
    (root / "p05.cwa").write_bytes(b"not a recording at all" * 100)
    return root


@pytest.fixture(scope="module")
def cluster():
    """A Dask LocalCluster of two worker processes on loopback (one for the module: it takes seconds)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local


def classify(*args: str) -> int:
    return main(["classify", *args, "--no-calibration", "--no-progress"])


def table(out_dir: Path) -> str:
    return (out_dir / "cohort.csv").read_text()


def test_workers_shards_and_a_dask_cluster_give_the_same_cohort_table(study, cluster, tmp_path, capsys):
    assert classify(str(study), "--out-dir", str(tmp_path / "serial")) == 1  # p05 failed, the rest went on
    err = capsys.readouterr().err
    assert f"FAILED {study / 'p05.cwa'}: " in err and "byte 0" in err
    reference = table(tmp_path / "serial")

    assert classify(str(study), "--out-dir", str(tmp_path / "workers"), "--workers", "2") == 1
    assert table(tmp_path / "workers") == reference

    shards = tmp_path / "shards"
    for k in range(3):
        classify(str(study), "--out-dir", str(shards), "--shard", f"{k}/3")
    assert not (shards / "cohort.csv").exists()  # shards leave the table to the merge step
    assert classify("--merge", "--out-dir", str(shards)) == 0
    assert table(shards) == reference

    assert classify(str(study), "--out-dir", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address) == 1
    assert table(tmp_path / "dask") == reference

    rows = list(csv.DictReader(reference.splitlines()))
    assert tuple(rows[0]) == COLUMNS
    parquet = pq.read_table(tmp_path / "serial" / "cohort.parquet").to_pylist()  # the same table, typed
    assert [(r["participant"], r["day"].isoformat(), r["breaks"], r["sitting_min"]) for r in parquet] == [
        (r["participant"], r["day"], int(r["breaks"]), float(r["sitting_min"])) for r in rows
    ]
    assert {r["participant"] for r in rows} == {"p01", "p02", "p03__week1", "p04"}
    assert all(len([r for r in rows if r["participant"] == p]) == 2 for p in ("p01", "p02"))  # 2 days each
    for row in rows:
        worn_min = sum(float(row[c]) for c in ("sitting_min", "standing_min", "walking_min", "cycling_min", "lying_min"))
        assert abs(float(row["worn_hours"]) * 60 - worn_min) < 0.5  # minutes are rounded to 0.1
        assert row["source_file"].startswith(str(study))


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(study, tmp_path, capsys):
    out = tmp_path / "out"
    classify(str(study / "*.npz"), str(study / "p01.cwa"), "--out-dir", str(out))
    capsys.readouterr()
    classify(str(study / "*.npz"), str(study / "p01.cwa"), "--out-dir", str(out), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["classified"], summary["skipped_done"]) == (0, 2)
    changed = study / "p02.npz"
    before = changed.read_bytes()
    try:
        day = simulate(SimulationConfig(hours=3, rate_hz=25.0, seed=99, start=EVENING))
        write_recording(changed, day.samples)
        classify(str(study / "*.npz"), str(study / "p01.cwa"), "--out-dir", str(out), "--json")
        summary = json.loads(capsys.readouterr().out)
        assert (summary["classified"], summary["skipped_done"]) == (1, 1)
    finally:
        changed.write_bytes(before)


def _dies_once(recording, out_dir, config):
    """Kills its worker process (os._exit, as the OOM killer would) the first time it meets p03, once
    p01's result is committed; records p01's result as it was at that moment."""
    marker = out_dir / "died.json"
    if recording.name.startswith("p03") and not marker.exists():
        first = out_dir / "recordings" / "p01.cwa.json"
        deadline = time.monotonic() + 60
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        marker.write_text(json.dumps({"p01_mtime_ns": first.stat().st_mtime_ns}))
        os._exit(1)
    return process_recording(recording, out_dir, config)


def _config():
    from sitless.analysis.classify import ClassifierSettings

    settings = ClassifierSettings()
    return {"settings": settings, "calibration": None, "key": settings_key(settings, None), "timezone": "UTC"}


def test_a_worker_that_dies_loses_no_written_result_and_its_recordings_are_retried(study, tmp_path, capsys):
    recordings = [r for r in find_recordings([str(study)]) if r.name != "p05.cwa"]
    out = tmp_path / "local"
    summaries = run_local(recordings, out, _config(), 2, Progress(len(recordings), False), _dies_once)
    assert "a worker process died; retrying" in capsys.readouterr().err
    assert all("error" not in s for s in summaries) and len(summaries) == 4
    died = json.loads((out / "died.json").read_text())
    assert (out / "recordings" / "p01.cwa.json").stat().st_mtime_ns == died["p01_mtime_ns"]  # not redone


def test_a_dask_worker_that_dies_has_its_recording_retried_elsewhere(study, cluster, tmp_path):
    recordings = [r for r in find_recordings([str(study)]) if r.name != "p05.cwa"]
    out = tmp_path / "dask"
    (out / "recordings").mkdir(parents=True)
    summaries = run_dask(
        recordings, out, _config(), cluster.scheduler_address, Progress(len(recordings), False), _dies_once
    )
    assert (out / "died.json").exists()
    assert all("error" not in s for s in summaries) and len(summaries) == 4
    died = json.loads((out / "died.json").read_text())
    assert (out / "recordings" / "p01.cwa.json").stat().st_mtime_ns == died["p01_mtime_ns"]


def test_results_inside_the_study_folder_are_not_taken_for_recordings(study, tmp_path, capsys):
    import gzip
    import shutil

    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(study / "p02.npz", small / "p02.npz")
    (small / "p01.cwa.gz").write_bytes(gzip.compress((study / "p01.cwa").read_bytes()))
    for _ in range(2):
        assert classify(str(small), "--out-dir", str(small / "results"), "--json") == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["recordings"] == 2 and summary["failed"] == []
    assert summary["skipped_done"] == 2
    rows = list(csv.DictReader((small / "results" / "cohort.csv").read_text().splitlines()))
    assert {r["participant"] for r in rows} == {"p01", "p02"}  # p01.cwa.gz is participant p01


def test_cohort_mistakes_are_one_clear_line(study, tmp_path, capsys):
    assert classify(str(study), "--out-dir", str(tmp_path), "--shard", "3/3") == 2
    assert "K must be 0 to N-1" in capsys.readouterr().err
    assert classify(str(study)) == 2
    assert "need --out-dir" in capsys.readouterr().err
    assert classify(str(tmp_path / "nothing-*.cwa"), "--out-dir", str(tmp_path)) == 2
    assert "no file matches" in capsys.readouterr().err
