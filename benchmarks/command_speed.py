"""The whole command a user types (issue 12), with the peers in the same run: medians and ratios.

What is measured, each run in a fresh process (wall time; peak RSS and CPU from ``os.wait4``):

1. Start-up: ``sitless --help`` and ``sitless classify --help`` against a bare ``python -c pass``.
2. ``sitless classify IN --out postures.csv`` on one simulated week at 50 Hz (168 h "fullday",
   30.24 M samples) as NPZ, as CSV with epoch timestamps, with ISO-8601 ``...Z`` and with ``+01:00``.
   Peers: acti-motus 2.4 on the NPZ (Features then Activities, as ``benchmarks/speed.py``; once, it
   takes a minute) and pandas reading and parsing the same CSV (``read_csv``, then for ISO
   ``to_datetime(format="ISO8601", utc=True)``), which is the floor a Python tool reaches.
3. Output: the week's postures written as CSV (and Parquet), in process, against pandas ``to_csv`` of
   the same rows.
4. Scale: 1 h, 1 day, 1 week and 4 weeks (``--max-weeks``), NPZ and epoch CSV: time and peak memory of
   the whole command, and the time per hour of data (flat when the cost is linear).

Bytecode: sitless's modules are compiled (``compileall``) before anything is timed, as ``pip install``
does for an installed package and as acti-motus's and pandas' installed modules are. Where
``PYTHONDONTWRITEBYTECODE`` is set (as on the shared development machines) an editable checkout has no
``.pyc`` files, and every run would compile sitless's 31 imported modules again (about 0.06 s).

Inputs are made once in ``--data-dir`` (default: a temporary folder; about 12 GB with 4 weeks) from a
simulated week; longer ones are copies shifted by a week. Targets (issue 12): NPZ week <= 1.2 s and
<= 150 MB; CSV week epoch <= 8 s, ISO <= 1.5x pandas, <= 250 MB; postures CSV <= 0.2 s; start-up
<= 0.3 s. The machine is shared: read the ratios.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_HZ = 50.0
WEEK_S = 7 * 86400
SIZES = {"1 h": 1.0, "1 day": 24.0, "1 week": 168.0, "4 weeks": 672.0}
#: Inputs: NPZ, CSV with epoch, ISO-8601 ``Z`` and ``+01:00`` timestamps (``--formats`` picks some).
FORMATS = ("npz", "csv", "iso", "offset")


# ---- inputs ------------------------------------------------------------------------------------
def make_inputs(folder: Path, max_hours: float, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """week.npz (simulated), then every size and format derived from it (made once, reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    week = folder / "week.npz"
    if not week.exists():
        measured([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--worker", "make", str(week)])
    made = {}
    for label, hours in SIZES.items():
        if hours > max_hours:
            continue
        stem = label.replace(" ", "")
        for kind, suffix, iso in (("npz", ".npz", None), ("csv", ".csv", False), ("iso", "-iso.csv", "Z")):
            if kind not in formats or (kind == "iso" and hours != 168.0):
                continue  # ISO is measured on the week only
            path = folder / f"{stem}{suffix}"
            if not path.exists():
                worker("derive", [str(week), str(path), str(hours), str(iso)])
            made[f"{kind} {label}"] = path
        if hours == 168.0 and "offset" in formats:
            offset = folder / "1week-offset.csv"
            if not offset.exists():
                worker("derive", [str(week), str(offset), str(hours), "+01:00"])
            made["offset 1 week"] = offset
    return made


def derive(week: str, out: str, hours: str, iso: str) -> dict:
    """``hours`` of data from the week (copies shifted by a week beyond it) written to ``out``."""
    from sitless.analysis.samples import SampleChunk
    from sitless.firmware_bridge.recordings import iter_recording, write_recording
    from sitless.firmware_bridge.recordings_csv import HEADER, format_csv_rows

    wanted = int(float(hours) * 3600 * RATE_HZ)

    def chunks():
        left, copy = wanted, 0
        while left > 0:
            for chunk in iter_recording(week, 1 << 18):
                piece = chunk.slice(0, left)
                left -= len(piece)
                yield SampleChunk(piece.t + copy * WEEK_S, piece.xyz)
                if left <= 0:
                    return
            copy += 1

    if iso in ("None", "False", "Z"):
        write_recording(out, chunks(), iso=iso == "Z")
        return {}
    # ISO with an offset: what a phone app in Central Europe exports. The writer makes only Z, so the
    # times are shifted by an hour and the Z replaced by +01:00.
    with open(out, "wb") as handle:
        handle.write((HEADER + "\n").encode())
        for chunk in chunks():
            local = SampleChunk(chunk.t + 3600.0, chunk.xyz)
            handle.write(format_csv_rows(local, iso=True).replace(b"Z,", iso.encode() + b","))
    return {}


# ---- workers (fresh processes) -------------------------------------------------------------------
def pandas_read(path: str) -> dict:
    import pandas as pd

    frame = pd.read_csv(path)
    if frame["timestamp"].dtype == object:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    return {"rows": len(frame)}


def actimotus(path: str) -> dict:
    sys.argv = [sys.argv[0]]
    from benchmarks.speed import worker_peer

    return worker_peer(Path(path))


def outputs(postures: str, scratch: str) -> dict:
    """Writing the week's postures: CSV and Parquet (ours) and pandas ``to_csv`` of the same rows."""
    import numpy as np
    import pandas as pd

    from sitless.analysis.postures import POSTURE_LABELS
    from sitless.posture_csv import read_posture_csv, write_posture_csv, write_posture_parquet

    series = read_posture_csv(postures)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.arange(series.start, series.end), unit="s", utc=True),
            "posture": np.array(POSTURE_LABELS)[series.codes.astype(np.intp)],
        }
    )
    times: dict[str, list[float]] = {"csv": [], "parquet": [], "pandas": []}
    for _ in range(5):
        for name, write in (
            ("csv", lambda: write_posture_csv(Path(scratch) / "p.csv", series)),
            ("parquet", lambda: write_posture_parquet(Path(scratch) / "p.parquet", series)),
            ("pandas", lambda: frame.to_csv(Path(scratch) / "pandas.csv", index=False)),
        ):
            started = time.perf_counter()
            write()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()} | {"rows": len(series)}


WORKERS = {"derive": derive, "pandas": pandas_read, "actimotus": actimotus, "outputs": outputs}


def measured(argv: list[str]) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {code}")
    return {
        "wall_s": wall,
        "peak_mb": usage.ru_maxrss / 1024.0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "stdout": out,
    }


def worker(name: str, args: list[str]) -> dict:
    result = measured([sys.executable, __file__, "--worker", name, *args])
    result.update(json.loads(result.pop("stdout") or b"{}"))
    return result


def compile_bytecode() -> None:
    """Compile sitless's sources as an install does (the packages behind ``sitless``'s symlinks too:
    ``compileall`` does not follow links)."""
    import compileall

    for package in ("sitless", "analysis", "firmware_bridge", "alerts"):
        compileall.compile_dir(ROOT / package, quiet=1)


def sitless_command() -> list[str]:
    script = Path(sys.executable).with_name("sitless")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sitless"]


def classify(path: Path, out: Path) -> dict:
    return measured(
        [*sitless_command(), "classify", str(path), "--out", str(out), "--no-calibration", "--no-progress"]
    )


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


# ---- the report ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, help="where the inputs are made and kept (default: temporary)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each sitless command (median)")
    parser.add_argument("--max-weeks", type=float, default=4.0, help="largest input of the scale table")
    parser.add_argument("--no-peer", action="store_true", help="skip acti-motus (a minute or more)")
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help="inputs to measure, comma-separated from npz,csv,iso,offset (default: all)",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*args.rest)))
        return 0
    with tempfile.TemporaryDirectory(prefix="sitless-command-") as tmp:
        folder = args.data_dir or Path(tmp)
        args.formats = tuple(name for name in args.formats.split(",") if name)
        unknown = set(args.formats) - set(FORMATS)
        if unknown:
            parser.error(f"unknown --formats {', '.join(sorted(unknown))}; choose from {', '.join(FORMATS)}")
        inputs = make_inputs(folder, args.max_weeks * 168.0, args.formats)
        scratch = Path(tmp) / "out"
        scratch.mkdir()
        compile_bytecode()
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; inputs in {folder}")
        print("sitless's modules compiled to bytecode first, as an install has them")
        report_startup(args.repeats * 3)
        week = report_week(inputs, scratch, args)
        report_outputs(scratch / "postures.csv", scratch)
        report_scale(inputs, scratch, args.repeats)
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}; {week}")
    return 0


def report_startup(repeats: int) -> None:
    bare, top, sub = [], [], []
    for _ in range(repeats):  # interleaved, so load changes hit all three alike
        bare.append(measured([sys.executable, "-c", "pass"]))
        top.append(measured([*sitless_command(), "--help"]))
        sub.append(measured([*sitless_command(), "classify", "--help"]))
    base = median_of(bare, "wall_s")
    print(f"\nstart-up, median of {repeats} (target <= 0.3 s)")
    for label, runs in (("python -c pass", bare), ("sitless --help", top), ("sitless classify --help", sub)):
        wall = median_of(runs, "wall_s")
        print(f"  {label:<26}{wall:7.3f} s  (+{wall - base:.3f} s over bare Python)")


def report_week(inputs: dict[str, Path], scratch: Path, args) -> str:
    out = scratch / "postures.csv"
    print(
        f"\none week at {RATE_HZ:g} Hz (30.24 M samples): `sitless classify IN --out postures.csv`, median of {args.repeats}"
    )
    print(f"  {'input':<34}{'wall s':>8}{'peak MB':>9}{'CPU s':>8}   peer in the same run")
    rows = []
    for kind, label in (
        ("npz", "NPZ"),
        ("csv", "CSV, epoch timestamps"),
        ("iso", "CSV, ISO-8601 ...Z"),
        ("offset", "CSV, ISO-8601 +01:00"),
    ):
        path = inputs.get(f"{kind} 1 week")
        if path is None:
            continue
        ours, peers = [], []
        load_before = os.getloadavg()[0]
        for _ in range(args.repeats):
            ours.append(classify(path, out))
            if kind != "npz":
                peers.append(worker("pandas", [str(path)]))
        if kind == "npz":
            peer = None if args.no_peer else worker("actimotus", [str(path)])
            peer_text = (
                f"acti-motus {peer['wall_s']:.1f} s, {peer['peak_mb']:.0f} MB "
                f"({peer['wall_s'] / median_of(ours, 'wall_s'):.1f}x)"
                if peer
                else "acti-motus skipped"
            )
        else:
            peer_text = pandas_text(ours, peers, load_before)
        size = path.stat().st_size / 1e6
        wall = median_of(ours, "wall_s")
        print(
            f"  {label + f' ({size:.0f} MB)':<34}{wall:8.2f}{median_of(ours, 'peak_mb'):9.0f}"
            f"{median_of(ours, 'cpu_s'):8.2f}   {peer_text}"
        )
        rows.append(f"{label} {wall:.2f} s")
    return "; ".join(rows)


def pandas_text(ours: list[dict], peers: list[dict], load_before: float) -> str:
    """The CSV rows' peer column: pandas' figures, the wall-time ratio (the target) and the CPU ratio,
    which moves less with the load of a shared machine, and the load average over the row. sitless
    parses on one thread per core while it classifies; on a busy machine those cores are taken."""
    pandas_wall = median_of(peers, "wall_s")
    wall_ratio = median_of(ours, "wall_s") / pandas_wall
    cpu_ratio = median_of(ours, "cpu_s") / median_of(peers, "cpu_s")
    return (
        f"pandas reads+parses {pandas_wall:.2f} s, {median_of(peers, 'peak_mb'):.0f} MB, "
        f"{median_of(peers, 'cpu_s'):.1f} s CPU (sitless/pandas wall {wall_ratio:.2f}x, CPU {cpu_ratio:.2f}x; "
        f"load {load_before:.1f}-{os.getloadavg()[0]:.1f})"
    )


def report_outputs(postures: Path, scratch: Path) -> None:
    if not postures.exists():
        return
    result = worker("outputs", [str(postures), str(scratch)])
    print(
        f"\nwriting a week of postures ({result['rows']:,} rows), median of 5, in process (target <= 0.2 s)"
    )
    print(
        f"  sitless CSV {result['csv']:.3f} s, Parquet {result['parquet']:.3f} s; "
        f"pandas to_csv {result['pandas']:.3f} s ({result['pandas'] / result['csv']:.1f}x ours)"
    )


def report_scale(inputs: dict[str, Path], scratch: Path, repeats: int) -> None:
    print(f"\nscale: the whole command, median of {repeats} (linear in time, flat in memory)")
    print(f"  {'size':<10}{'format':<8}{'wall s':>9}{'s per h':>9}{'peak MB':>9}")
    for label, hours in SIZES.items():
        for kind in ("npz", "csv"):
            path = inputs.get(f"{kind} {label}")
            if path is None:
                continue
            runs = [classify(path, scratch / "scale.csv") for _ in range(repeats if hours <= 168 else 1)]
            wall = median_of(runs, "wall_s")
            print(f"  {label:<10}{kind:<8}{wall:9.2f}{wall / hours:9.4f}{median_of(runs, 'peak_mb'):9.0f}")


if __name__ == "__main__":
    sys.exit(main())
