"""A year of one person's postures in the store: file size and weekly-report query time.

Targets (the issue): under 50 MB for a year, under 200 ms for the weekly report's queries.

The year is 365 simulated office days (tests/store_report/synthetic.py) written an hour at a time, as
the daemon does, with ~8 prompts a day and a battery reading every 15 minutes. Real classifier output is
more fragmented than the generator's clean spells, so ``--blips`` short (2-10 s) posture flips per worn
hour are added (default 20, i.e. several hundred extra spells a day): a pessimistic size.

Peer: the naive design, one row per second (sensor, second, posture), measured on one week and
scaled to a year.

    .venv/bin/python benchmarks/store_report.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/store_report.py --days 60  # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitless.analysis.postures import Posture, PostureSeconds  # noqa: E402
from sitless.store import Store  # noqa: E402
from sitless.weekly import build_weekly_report, load_week, week_label  # noqa: E402
from tests.store_report.synthetic import simulate_days  # noqa: E402

TZ = ZoneInfo("Europe/Copenhagen")
EXERCISES = ("kneeling hip flexor stretch", "couch stretch", "glute bridge", "leg swings", "clam shells")


def add_blips(codes: np.ndarray, per_worn_hour: int, rng: np.random.Generator) -> np.ndarray:
    """Short flips to a neighbouring posture, as a real classifier's output has them."""
    codes = codes.copy()
    worn = np.flatnonzero((codes >= Posture.SITTING) & (codes != Posture.LYING))
    count = int(len(worn) / 3600 * per_worn_hour)
    for at in rng.choice(worn, size=count, replace=False):
        length = int(rng.integers(2, 11))
        flip = Posture.STANDING if codes[at] == Posture.SITTING else Posture.SITTING
        codes[at : at + length] = flip
    return codes


def file_mb(path: Path) -> float:
    return sum(os.path.getsize(p) for p in path.parent.glob(path.name + "*")) / 1e6


def naive_week_mb(series: PostureSeconds, directory: Path) -> float:
    path = directory / "naive.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE seconds (sensor INTEGER, second INTEGER, posture INTEGER, PRIMARY KEY (sensor, second)) WITHOUT ROWID"
    )
    week = series.codes[: 7 * 86400]
    rows = ((1, series.start + i, int(c)) for i, c in enumerate(week) if c != Posture.UNKNOWN)
    db.executemany("INSERT INTO seconds VALUES (?, ?, ?)", rows)
    db.commit()
    db.execute("VACUUM")
    db.close()
    return os.path.getsize(path) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--blips", type=int, default=20, help="short posture flips per worn hour")
    parser.add_argument("--repeats", type=int, default=30, help="weekly reports to time")
    parser.add_argument("--keep", type=Path, help="keep the store at this path")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    first = dt.date(2025, 11, 24)  # a Monday
    t = time.perf_counter()
    series, _truth = simulate_days(first, args.days, TZ, seed=7)
    series = PostureSeconds(series.start, add_blips(series.codes, args.blips, rng))
    spells_per_day = len(series.spells()) / args.days
    print(f"simulated {args.days} days in {time.perf_counter() - t:.1f} s: {spells_per_day:.0f} spells/day")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "sitless.db"
        if path.exists():
            path.unlink()
        store = Store.open(path)
        t = time.perf_counter()
        for offset in range(0, len(series), 3600):
            store.add_postures(PostureSeconds(series.start + offset, series.codes[offset : offset + 3600]))
        insert_s = time.perf_counter() - t
        for day in range(args.days):
            base = series.start + day * 86400
            for k in range(8):
                pid = f"{day}-{k}"
                store.add_prompt(
                    pid, base + 9 * 3600 + k * 3600, 1800.0, 1, EXERCISES[int(rng.integers(0, 5))]
                )
                store.set_prompt_outcome(pid, None if rng.random() < 0.3 else float(rng.uniform(10, 290)))
            for q in range(96):
                store.add_battery(base + q * 900, 100 - (q % 96))
        store.close()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = file_mb(path)
        print(
            f"wrote {len(series) / 3600:.0f} hourly chunks in {insert_s:.1f} s ({insert_s / (len(series) / 3600) * 1e3:.2f} ms per hour of data)"
        )
        print(
            f"store file: {size:.1f} MB for {args.days} days -> {size * 365 / args.days:.1f} MB per year (target < 50 MB)"
        )

        store = Store.open(path)
        mondays = [first + dt.timedelta(days=7 * w) for w in range(1, args.days // 7)]
        picks = [mondays[i] for i in rng.integers(0, len(mondays), size=args.repeats)]
        query_ms, report_ms = [], []
        for monday in picks:
            t = time.perf_counter()
            load_week(store, monday, TZ)
            load_week(store, monday - dt.timedelta(days=7), TZ)
            query_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            report = build_weekly_report(store, week_label(monday), TZ)
            report_ms.append((time.perf_counter() - t) * 1e3)
        store.close()
        assert report["week_totals"]["days_with_data"] == 7
        print(
            f"weekly report over {args.repeats} random weeks: store queries (this + previous week) median "
            f"{statistics.median(query_ms):.1f} ms (max {max(query_ms):.1f}); whole JSON report median "
            f"{statistics.median(report_ms):.1f} ms (max {max(report_ms):.1f}) (target < 200 ms)"
        )
        naive = naive_week_mb(series, Path(tmp))
        print(
            f"peer, one row per second: {naive:.1f} MB per week -> {naive * 365 / 7:.0f} MB per year, "
            f"{naive * 365 / 7 / (size * 365 / args.days):.0f}x the spell + per-minute store"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
