"""Speed and memory: one simulated week at 50 Hz classified by sitless and by acti-motus, same run.

1. The input: a 168-h "fullday" week at 50 Hz (30.24 million samples) as an uncompressed NPZ, made in a
   temporary directory (or ``--data week.npz``, reused if it exists).
2. sitless in a fresh subprocess: reads the NPZ one hour at a time (zip member slices via
   ``np.lib.format``, as ``iter_recording(..., reuse_buffers=True)`` does too), feeds
   ``StreamingClassifier.feed_all`` (reading and summing on a second thread, as ``sitless classify``)
   and keeps only the labels: the classifier's core. The whole command a user
   types is ``benchmarks/command_speed.py``. Wall time and peak RSS (``os.wait4`` rusage of that
   child) are measured; repeated ``--repeats`` times.
3. acti-motus in another subprocess on the same file (``Features().compute`` then
   ``Activities(vendor='Other', orientation=True).compute``), once (it takes about half a minute).
4. The live path: one hour of 50 Hz data fed in 20-sample BLE-sized packets; CPU seconds per hour.

Prints medians and the ratios. Targets: >= 20x faster than acti-motus in wall time, <= 250 MB peak RSS for
the week, <= 2 s of CPU per hour on the live path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WEEK_HOURS = 168.0
RATE_HZ = 50.0
HOUR_SAMPLES = int(3600 * RATE_HZ)


# ---- the input ---------------------------------------------------------------------------------
def make_week(path: Path) -> None:
    """The week as an uncompressed NPZ (``write_recording`` uses ``np.savez``)."""
    from sitless.firmware_bridge.recordings import write_recording
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate_chunks

    config = SimulationConfig(hours=WEEK_HOURS, rate_hz=RATE_HZ, seed=1, schedule="fullday", mounting="front")
    started = time.perf_counter()
    write_recording(path, (part.samples for part in simulate_chunks(config, chunk_hours=6.0)))
    print(
        f"made {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


def iter_npz(path: Path, chunk_samples: int) -> Iterator:
    """Slices of the ``t`` and ``xyz`` arrays of an uncompressed NPZ, without loading it whole.

    The members of an NPZ written by ``np.savez`` are stored, not deflated, so each array's bytes sit at
    a fixed offset in the file: we read them with ``np.fromfile`` (no zipfile CRC pass, no extra copy).
    """
    import numpy as np

    from sitless.analysis.samples import SampleChunk

    with open(path, "rb") as t_file, open(path, "rb") as xyz_file:
        t_shape, t_dtype = _npy_member(path, "t.npy", t_file)
        xyz_shape, xyz_dtype = _npy_member(path, "xyz.npy", xyz_file)
        if t_shape[0] != xyz_shape[0]:
            raise ValueError(f"{path}: t has {t_shape[0]} rows, xyz {xyz_shape[0]}")
        # Two buffers reused for every chunk (the classifier copies the little it keeps), so memory
        # stays flat and the kernel does not fault in fresh pages for each hour.
        t_buffer = np.empty(chunk_samples, t_dtype)
        xyz_buffer = np.empty((chunk_samples, 3), xyz_dtype)
        remaining = t_shape[0]
        while remaining:
            n = min(chunk_samples, remaining)
            t_file.readinto(memoryview(t_buffer[:n]).cast("B"))
            xyz_file.readinto(memoryview(xyz_buffer[:n]).cast("B"))
            remaining -= n
            yield SampleChunk(t_buffer[:n], xyz_buffer[:n])


def _npy_member(path: Path, name: str, handle) -> tuple[tuple[int, ...], object]:
    """Position ``handle`` at the array data of member ``name``; return its shape and dtype."""
    import struct

    import numpy as np

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: {name} is compressed; write the NPZ with np.savez, not savez_compressed")
    handle.seek(info.header_offset)
    local = struct.unpack("<4s5H3L2H", handle.read(30))
    handle.seek(info.header_offset + 30 + local[-2] + local[-1])
    version = np.lib.format.read_magic(handle)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = reader(handle)
    if fortran:
        raise ValueError("Fortran-ordered arrays are not supported")
    return shape, dtype


# ---- workers (run in fresh subprocesses) -------------------------------------------------------
def worker_ours(path: Path) -> dict:
    import numpy as np

    from sitless.analysis.classify import StreamingClassifier
    from sitless.overlap import ahead

    started = time.perf_counter()
    classifier = StreamingClassifier()
    # As `sitless classify` does: reading and summing on a second thread while the seconds are labelled.
    out = classifier.feed_all(iter_npz(path, HOUR_SAMPLES), ahead=ahead)
    counts = np.bincount(out.codes, minlength=8)
    return {"classify_s": time.perf_counter() - started, "seconds": len(out), "counts": counts.tolist()}


def worker_peer(path: Path) -> dict:
    import logging
    import warnings

    import numpy as np

    from benchmarks._peer_actimotus import classify_with_actimotus
    from sitless.analysis.samples import SampleChunk

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    with np.load(path) as data:
        samples = SampleChunk(data["t"], data["xyz"])
    loaded = time.perf_counter()
    labels = classify_with_actimotus(samples)
    done = time.perf_counter()
    return {
        "classify_s": done - loaded,
        "load_s": loaded - started,
        "seconds": len(labels),
        "counts": np.bincount(labels.codes, minlength=8).tolist(),
    }


def worker_live(path: Path) -> dict:
    """CPU seconds per hour of 50 Hz data fed in 20-sample packets (the BLE shape)."""
    from sitless.analysis.classify import StreamingClassifier

    hour = next(iter_npz(path, HOUR_SAMPLES * 2))  # two hours: start, then a full hour in the middle
    packets = hour.split(20)
    classifier = StreamingClassifier()
    started = time.process_time()
    for packet in packets:
        classifier.feed(packet)
    cpu = time.process_time() - started
    return {"cpu_s_per_hour": cpu / (hour.duration_s / 3600.0), "packets": len(packets)}


def worker_idle(path: Path) -> dict:
    import numpy  # noqa: F401
    import scipy.signal  # noqa: F401

    import sitless.analysis.classify  # noqa: F401

    return {}


def worker_make(path: Path) -> dict:
    make_week(path)
    return {}


WORKERS = {
    "ours": worker_ours,
    "peer": worker_peer,
    "live": worker_live,
    "idle": worker_idle,
    "make": worker_make,
}


def run_worker(name: str, path: Path) -> dict:
    """Run one worker in a fresh Python; add its wall time and peak RSS (MB) from wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", name, str(path)], stdout=subprocess.PIPE, cwd=ROOT
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"worker {name} failed with exit code {process.returncode}")
    result = json.loads(output)
    result.update(wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024.0, cpu_s=usage.ru_utime + usage.ru_stime)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="the week NPZ (made there if missing; default: a temp dir)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of sitless and of the live path")
    parser.add_argument("--no-peer", action="store_true", help="skip acti-motus")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.path)))
        return 0

    with tempfile.TemporaryDirectory(prefix="sitless-speed-") as tmp:
        path = args.data or Path(tmp) / "week.npz"
        if not path.exists():
            # In a child process: Linux carries a parent's peak RSS into the children it forks, and
            # making the week needs about 1 GB.
            run_worker("make", path)
        print(f"input: {path}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        idle = run_worker("idle", path)
        ours = [run_worker("ours", path) for _ in range(args.repeats)]
        peer = None if args.no_peer else run_worker("peer", path)
        live = [run_worker("live", path) for _ in range(args.repeats)]
        report(idle, ours, peer, live)
    return 0


def report(idle: dict, ours: list[dict], peer: dict | None, live: list[dict]) -> None:
    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    samples = int(WEEK_HOURS * 3600 * RATE_HZ)
    print(
        f"\none week at {RATE_HZ:g} Hz ({samples / 1e6:.2f} M samples), median of {len(ours)} runs for sitless"
    )
    print(f"{'':<28}{'sitless':>12}{'acti-motus':>14}{'ratio':>9}")
    rows = [
        ("classify wall (s)", median(ours, "classify_s"), peer and peer["classify_s"]),
        ("process wall (s)", median(ours, "wall_s"), peer and peer["wall_s"]),
        ("process CPU (s)", median(ours, "cpu_s"), peer and peer["cpu_s"]),
        ("peak RSS (MB)", median(ours, "peak_rss_mb"), peer and peer["peak_rss_mb"]),
    ]
    for label, mine, theirs in rows:
        ratio = f"{theirs / mine:8.1f}x" if theirs else ""
        theirs_text = f"{theirs:14.1f}" if theirs else f"{'-':>14}"
        print(f"{label:<28}{mine:12.2f}{theirs_text}{ratio}")
    print(f"{'(python+numpy+scipy alone)':<28}{idle['peak_rss_mb']:12.0f}")
    runs = ", ".join(f"{run['classify_s']:.2f} s" for run in ours)
    print(f"sitless runs: {runs}")
    cpu = [r["cpu_s_per_hour"] for r in live]
    print(
        f"live path, 20-sample packets: {statistics.median(cpu):.2f} s CPU per hour of 50 Hz data, "
        f"best {min(cpu):.2f} (runs: {', '.join(f'{c:.2f}' for c in cpu)})"
    )
    if peer:
        print(f"acti-motus load of the NPZ (not counted above): {peer['load_s']:.1f} s")
        same = sum(1 for a, b in zip(ours[0]["counts"], peer["counts"], strict=True) if a and b)
        print(
            f"labels per code, sitless {ours[0]['counts'][:7]}, acti-motus {peer['counts'][:7]} ({same} shared)"
        )


if __name__ == "__main__":
    sys.exit(main())
