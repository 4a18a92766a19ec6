"""A week of Axivity CWA: sitless's reader against actfast's in the same run (time and peak memory).

Writes a synthetic 7-day 100 Hz AX3 recording (packed 10-bit, about 258 MB: the size a real week is),
then runs each contender in its own fresh process, ``--repeat`` times, and prints medians and ratios:

* ``sitless read``: ``iter_recording`` over the file (streaming, every sample decoded and timed), as
  ``classify`` and ``convert`` read it;
* ``actfast read``: ``actfast.read`` (Rust, loads the whole file; the reference reader of the tests);
* ``sitless classify``: the whole command a user types, ``sitless classify week.cwa --out postures.csv``
  (start-up, reading, classifying, writing);
* ``sitless convert``: ``sitless convert week.cwa --out week.npz``.

Peak memory is each process's maximum resident set (``wait4``), start-up included.

    .venv/bin/python benchmarks/cwa_week.py [--days 7] [--repeat 3] [--keep week.cwa]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitless.analysis.samples import SampleChunk  # noqa: E402
from tests.devices.cwa_synth import write_cwa  # noqa: E402

RATE = 100.0
START = 1_795_000_000.0  # 2026-11-18


def synthetic_week(days: float, seed: int = 0):
    """Postures as gravity directions held for 1-40 minutes, 10 mg of noise, 1.5 Hz swing while walking."""
    rng = np.random.default_rng(seed)
    per_chunk = int(RATE * 3600)
    directions = np.array([[1, 0, 0], [0.1, 0, 0.99], [0, 0.7, 0.7], [-1, 0, 0]], np.float64)
    total = int(days * 86400 * RATE)
    spell_end, direction, walking = 0, directions[0], False
    for start in range(0, total, per_chunk):
        n = min(per_chunk, total - start)
        index = np.arange(start, start + n)
        xyz = np.empty((n, 3), np.float64)
        position = 0
        while position < n:
            if start + position >= spell_end:
                spell_end = start + position + int(rng.uniform(60, 2400) * RATE)
                direction = directions[rng.integers(len(directions))]
                walking = rng.random() < 0.2
            stop = min(n, spell_end - start)
            xyz[position:stop] = direction
            if walking:
                xyz[position:stop, 1] += 0.4 * np.sin(2 * np.pi * 1.5 * index[position:stop] / RATE)
            position = stop
        xyz += rng.normal(0, 0.01, xyz.shape)
        yield SampleChunk(START + index / RATE, xyz.astype(np.float32))


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


SITLESS_READ = """
import sys
from sitless.firmware_bridge.recordings import iter_recording
n = sum(len(chunk) for chunk in iter_recording(sys.argv[1], 1 << 18))
print(n)
"""
ACTFAST_READ = """
import sys, actfast
data = actfast.read(sys.argv[1])
print(len(data["timeseries"]["high_frequency"]["datetime"]))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the CWA here instead of a temporary folder")
    args = parser.parse_args()
    python = sys.executable
    sitless = [python, "-m", "sitless"]
    with tempfile.TemporaryDirectory(prefix="sitless-cwa-week-") as scratch:
        path = args.keep or Path(scratch) / "week.cwa"
        if not path.exists():
            started = time.perf_counter()
            blocks = write_cwa(path, synthetic_week(args.days), RATE, 8)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB, {blocks:,} blocks) in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        size_mb = path.stat().st_size / 1e6
        contenders = {
            "sitless read": [python, "-c", SITLESS_READ, str(path)],
            "actfast read": [python, "-c", ACTFAST_READ, str(path)],
            "sitless classify (whole command)": [*sitless, "classify", str(path), "--out",
                                                 str(Path(scratch) / "postures.csv"), "--no-calibration",
                                                 "--no-progress"],
            "sitless convert to .npz": [*sitless, "convert", str(path), "--out", str(Path(scratch) / "week.npz")],
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, command in contenders.items():  # interleaved: machine noise hits all alike
                results[name].append(measure(command))
    print(f"{args.days:g} days at {RATE:g} Hz, AX3 packed, {size_mb:.0f} MB; medians of {args.repeat} runs")
    print(f"{'':34} {'wall s':>8} {'peak MB':>8} {'MB/s':>7}")
    medians = {}
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[1] for r in runs)
        medians[name] = (wall, peak)
        print(f"{name:34} {wall:8.2f} {peak:8.0f} {size_mb / wall:7.0f}")
    (ours_t, ours_m), (ref_t, ref_m) = medians["sitless read"], medians["actfast read"]
    print(f"sitless read vs actfast read: {ours_t / ref_t:.2f}x the time, {ours_m / ref_m:.2f}x the peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
