"""Running a cohort: on this machine (one process per worker) or on a Dask cluster; progress, retries.

Local: a ``ProcessPoolExecutor`` with ``workers`` processes (recordings are independent and the
classifier is single-threaded numpy, so processes, not threads, use the cores). If a worker process dies
(killed, out of memory), the pool breaks: the results already committed stay, and the recordings that
were in flight are retried in a new pool, up to ``RETRIES`` times each, then reported as failed.

Dask: ``distributed.Client(scheduler)``; each recording is one task (``retries``), so a dead worker's
tasks are rescheduled by Dask itself on the other workers. The workers must see the input files and the
output folder at the same paths (a cluster's shared file system), as SLURM jobs do.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sitless.cohort import Recording, process_recording, run_task

#: Times a recording is retried after its worker died (not after a clean error: that is the file's).
RETRIES = 2

Process = Callable[[Recording, Path, dict], dict]


class Progress:
    """A bar over files on stderr (when it is a terminal), and one clear line per failed file, always."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self._draw()

    def finished(self, summary: dict) -> None:
        self.done += 1
        if "error" in summary:
            self.failed += 1
            self._clear()
            print(f"FAILED {summary['source_file']}: {summary['error']}", file=sys.stderr)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        fraction = self.done / self.total if self.total else 1.0
        bar = "#" * int(fraction * 30)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(
            f"\rclassifying [{bar:<30}] {self.done}/{self.total} files, {self.failed} failed, {elapsed:.0f} s"
        )
        sys.stderr.flush()

    def _clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")

    def close(self) -> None:
        self._clear()


def run_local(
    recordings: list[Recording],
    out_dir: Path,
    config: dict,
    workers: int,
    progress: Progress,
    process: Process = process_recording,
) -> list[dict]:
    """Process ``recordings`` with ``workers`` processes (1: in this process); summaries in input order."""
    results: dict[str, dict] = {}
    if workers <= 1:
        for recording in recordings:
            results[recording.name] = run_task(recording, out_dir, config, process)
            progress.finished(results[recording.name])
        return [results[r.name] for r in recordings]
    attempts = dict.fromkeys((r.name for r in recordings), 0)
    pending = list(recordings)
    while pending:
        broken = False
        with ProcessPoolExecutor(max_workers=min(workers, len(pending))) as pool:
            futures = {pool.submit(run_task, r, out_dir, config, process): r for r in pending}
            pending = []
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    recording = futures.pop(future)
                    try:
                        summary = future.result()
                    except BrokenProcessPool:
                        broken = True
                        attempts[recording.name] += 1
                        if attempts[recording.name] <= RETRIES:
                            pending.append(recording)
                            continue
                        summary = {
                            "name": recording.name,
                            "source_file": str(recording.path),
                            "error": f"its worker process died {attempts[recording.name]} times",
                        }
                    results[recording.name] = summary
                    progress.finished(summary)
        if broken and pending:
            print(
                f"a worker process died; retrying {len(pending)} recording(s) that were in flight",
                file=sys.stderr,
            )
    return [results[r.name] for r in recordings]


def run_dask(
    recordings: list[Recording],
    out_dir: Path,
    config: dict,
    scheduler: str,
    progress: Progress,
    process: Process = process_recording,
) -> list[dict]:
    """Process ``recordings`` as tasks on the Dask cluster at ``scheduler`` (tcp://HOST:PORT)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(
            "--scheduler needs Dask distributed: pip install 'sitless[cohort]'"
        ) from None
    results: dict[str, dict] = {}
    with Client(scheduler, timeout=30) as client:
        futures = [
            client.submit(run_task, recording, out_dir, config, process, key=f"sitless-{recording.name}",
                          pure=False, retries=RETRIES)
            for recording in recordings
        ]
        names = {future.key: recording for future, recording in zip(futures, recordings, strict=True)}
        for future in as_completed(futures):
            recording = names[future.key]
            try:
                summary = future.result()
            except Exception as error:  # noqa: BLE001 - a task that failed every retry: the file's line
                summary = {"name": recording.name, "source_file": str(recording.path), "error": repr(error)}
            results[recording.name] = summary
            progress.finished(summary)
            future.release()  # the scheduler may forget it: a worker dying later does not recompute it
    return [results[r.name] for r in recordings]
