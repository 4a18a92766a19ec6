"""``sitless classify DIR_OR_GLOB... --out-dir D``: the cohort path of the classify command.

Kept apart from the single-file path (``sitless/commands/classify.py``), which only hands over to
``run`` when it sees a folder, a pattern, several inputs, ``--out-dir`` or ``--merge``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sitless.cli import CommandError

HELP = """\
cohorts (a study's folder; see docs/cohorts.md):
  sitless classify study/ --out-dir results --workers 4        every recording under study/
  sitless classify 'study/*/*.cwa' --out-dir results            a pattern (quote it)
  sitless classify study/ --out-dir results --shard 3/20        job-array task 3 of 20 (SLURM, SGE)
  sitless classify --merge --out-dir results                    the cohort table after all shards
  sitless classify study/ --out-dir results --scheduler tcp://10.0.0.5:8786   on a Dask cluster
Each recording gets RESULTS/recordings/NAME.postures.csv and NAME.json; RESULTS/cohort.csv has one
row per participant-day. Re-running skips recordings already done whose input did not change.
"""


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("many recordings (a study's folder)")
    group.add_argument("--out-dir", type=Path, metavar="DIR", help="results folder: one set per recording and cohort.csv")
    group.add_argument("--workers", type=int, default=1, metavar="N", help="processes to use (default 1)")
    group.add_argument("--shard", metavar="K/N", help="take every N-th recording from K (K = 0..N-1): a job-array task")
    group.add_argument("--merge", action="store_true", help="only rebuild cohort.csv from every result in --out-dir")
    group.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler (pip install 'sitless[cohort]')")
    group.add_argument("--timezone", default="UTC", metavar="ZONE", help="calendar days of the table (default UTC: a device's own clock)")
    group.add_argument("--redo", action="store_true", help="classify again even recordings already done")


def wants_cohort(args: argparse.Namespace) -> bool:
    inputs = args.input
    if args.out_dir is not None or args.merge or len(inputs) != 1:
        return True
    return Path(inputs[0]).is_dir() or (not Path(inputs[0]).exists() and any(c in inputs[0] for c in "*?["))


def run(args: argparse.Namespace, settings, calibration) -> int:
    from sitless.cohort import (
        CohortError,
        cohort_rows,
        find_recordings,
        is_done,
        load_summaries,
        recording_table,
        settings_key,
        shard,
        write_table,
    )
    from sitless.cohort_run import Progress, run_dask, run_local
    from sitless.weekly import ReportError, resolve_timezone

    if args.out_dir is None:
        raise CommandError("many recordings need --out-dir DIR (one result per recording, and cohort.csv)")
    if args.out is not None:
        raise CommandError("--out is for one recording; with many, results go to --out-dir")
    if args.workers < 1:
        raise CommandError(f"--workers {args.workers}: must be at least 1")
    try:
        resolve_timezone(args.timezone)
    except ReportError as error:
        raise CommandError(f"--timezone: {error}") from None
    if args.merge:
        if args.input:
            raise CommandError("--merge reads only --out-dir; give no INPUT")
        summaries = load_summaries(args.out_dir)
        if not summaries:
            raise CommandError(f"{args.out_dir}: no results to merge")
        path = write_table(args.out_dir, cohort_rows(summaries))
        print(f"{len(summaries)} recording(s), {len(cohort_rows(summaries))} participant-day(s) -> {path}")
        return 0
    if not args.input:
        raise CommandError("give the recordings: a folder, a pattern or files (or --merge)")
    try:
        everything = find_recordings(args.input, exclude=args.out_dir)
        mine = shard(everything, args.shard)
    except CohortError as error:
        raise CommandError(str(error)) from None
    from uuid import uuid4  # here: the one-file path does not need it (uuid costs ~5 ms to import)

    key = settings_key(settings, calibration)
    config = {
        "settings": settings,
        "calibration": calibration,
        "key": key,
        "timezone": args.timezone,
        "redo": args.redo,
        "run_id": uuid4().hex,
    }
    todo = mine if args.redo else [r for r in mine if not is_done(args.out_dir, r, key)]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(todo), not args.no_progress)
    try:
        if args.scheduler:
            summaries = run_dask(todo, args.out_dir, config, args.scheduler, progress)
        else:
            summaries = run_local(todo, args.out_dir, config, args.workers, progress)
    except (RuntimeError, OSError) as error:
        raise CommandError(str(error)) from None
    finally:
        progress.close()
    failed = [s for s in summaries if "error" in s]
    done = load_summaries(args.out_dir, mine)
    skipped = len(mine) - len(todo)
    if args.shard:
        table = f"(shard {args.shard}: run `sitless classify --merge --out-dir {args.out_dir}` after all shards)"
    else:
        table = f"-> {write_table(args.out_dir, cohort_rows(done))}"
    if args.json:
        import json  # here: `sitless classify` of one recording does not need it

        print(json.dumps({
            "recordings": len(mine), "classified": len(todo) - len(failed), "skipped_done": skipped,
            "failed": [{"file": s["source_file"], "error": s["error"]} for s in failed],
            "results": [{k: s[k] for k in ("name", "source_file", "worn_hours", "minutes")} for s in done],
        }, indent=2))
    else:
        print(recording_table(done))
        print(
            f"{len(mine)} recording(s): {len(todo) - len(failed)} classified, {skipped} already done, "
            f"{len(failed)} failed {table}"
        )
    return 1 if failed else 0
