"""A study's folder of recordings: one result per recording, one cohort table (one row per participant-day).

Results live in the output folder, one set per recording, committed in order: the postures CSV first,
then a JSON summary written atomically. A recording counts as done only when its JSON exists and names the
same input (size, modification time and a hash of the file's first and last MiB) and the same classifier
settings; so a re-run skips what is done, redoes what changed, and a worker that dies mid-recording leaves
no half result that could be taken for a whole one.

The cohort table is built from the JSON summaries alone, so shards of a job array (``--shard K/N``) and
Dask workers need to share only the output folder; ``merge`` rebuilds it from every summary there.
Days are calendar days in ``timezone``: research devices record their local clock, which sitless keeps
as it is, so the default (UTC) puts their days at the wearer's own midnights.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import hashlib
import io
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from sitless.firmware_bridge.recordings_native import RECORDING_SUFFIXES, looks_like_recording

RESULTS = "recordings"
TABLE = "cohort.csv"
#: The cohort table's columns, in order (docs/cohorts.md explains each).
COLUMNS = (
    "participant",
    "day",
    "worn_hours",
    "sitting_min",
    "standing_min",
    "walking_min",
    "cycling_min",
    "lying_min",
    "nonwear_min",
    "sitting_bouts_30min",
    "breaks",
    "source_file",
)
HASH_BYTES = 1 << 20


class CohortError(Exception):
    """A problem with the cohort as a whole (no recordings found, a bad --shard): one clear line."""


@dataclass(frozen=True)
class Recording:
    """One input file and the name its results go by (unique within the cohort)."""

    path: Path
    name: str

    @property
    def participant(self) -> str:
        """The name without its suffix (both of ``.cwa.gz``)."""
        stem = self.name[:-3] if self.name.lower().endswith(".gz") else self.name
        return stem.rsplit(".", 1)[0]


def find_recordings(inputs: list[str], exclude: Path | None = None) -> list[Recording]:
    """Files under the folders, matching the globs, or named; sorted, so every shard sees the same list.

    ``exclude`` (the results folder) is never searched: results kept inside the study's folder are not
    recordings."""
    found: dict[Path, Path] = {}  # file -> the root its name is taken relative to
    skip = exclude.resolve() if exclude is not None else None
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            for file in path.rglob("*"):
                if skip is not None and skip in file.resolve().parents:
                    continue
                if file.is_file() and looks_like_recording(file.name):
                    found.setdefault(file, path)
        elif path.is_file():
            found.setdefault(path, path.parent)
        else:
            matches = sorted(glob.glob(given, recursive=True))
            if not matches:
                raise CohortError(f"{given}: no such file or folder, and no file matches it as a pattern")
            for match in matches:
                if skip is not None and skip in Path(match).resolve().parents:
                    continue
                if Path(match).is_file():
                    found.setdefault(Path(match), _glob_root(given))
    if not found:
        raise CohortError(f"no recordings ({', '.join(RECORDING_SUFFIXES)}) in {' '.join(inputs)}")
    recordings = []
    names: dict[str, Path] = {}
    for file, root in sorted(found.items()):
        try:
            relative = file.relative_to(root)
        except ValueError:
            relative = Path(file.name)
        name = "__".join(relative.parts)
        if name in names:  # the same relative name under two roots
            name = "__".join(file.resolve().parts[1:])
        names[name] = file
        recordings.append(Recording(file, name))
    return recordings


def _glob_root(pattern: str) -> Path:
    """The fixed folder a pattern starts from (``study/**/*.cwa`` -> ``study``): names are relative to it."""
    fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), Path(pattern).parts))
    return Path(*fixed) if fixed else Path(".")


def shard(recordings: list[Recording], spec: str | None) -> list[Recording]:
    """``K/N``: every N-th recording starting at K (K = 0 .. N-1, as job arrays number their tasks)."""
    if spec is None:
        return recordings
    try:
        k_text, n_text = spec.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise CohortError(f"--shard {spec!r}: expected K/N, e.g. 0/10 (task 0 of 10)") from None
    if n < 1 or not 0 <= k < n:
        raise CohortError(f"--shard {spec}: K must be 0 to N-1 (got K={k}, N={n})")
    return recordings[k::n]


def fingerprint(path: Path) -> dict:
    """What identifies an input's content cheaply: size, mtime and a hash of its first and last MiB."""
    info = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(HASH_BYTES))
        if info.st_size > 2 * HASH_BYTES:
            handle.seek(-HASH_BYTES, os.SEEK_END)
            digest.update(handle.read(HASH_BYTES))
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256_ends": digest.hexdigest()}


def settings_key(settings, calibration) -> str:
    """A short hash of what decides the postures: change either and every result is redone."""
    text = json.dumps(
        {
            "settings": repr(settings),
            "calibration": calibration.to_dict() if calibration else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summary_path(out_dir: Path, recording: Recording) -> Path:
    return out_dir / RESULTS / f"{recording.name}.json"


def postures_path(out_dir: Path, recording: Recording) -> Path:
    return out_dir / RESULTS / f"{recording.name}.postures.csv"


def committed(out_dir: Path, recording: Recording, key: str) -> dict | None:
    """The recording's committed summary if it is for this input and these settings, else None."""
    try:
        summary = json.loads(summary_path(out_dir, recording).read_text())
        current = summary.get("settings_key") == key and summary.get("input", {}) == fingerprint(recording.path)
    except (OSError, ValueError):
        return None
    return summary if current and postures_path(out_dir, recording).exists() else None


def is_done(out_dir: Path, recording: Recording, key: str) -> bool:
    return committed(out_dir, recording, key) is not None


def run_task(recording: Recording, out_dir: Path, config: dict, process=None) -> dict:
    """One recording as a worker runs it: a result this run already committed is reused, never redone.

    A retried or recomputed task (its worker died after committing, before the result reached us: Dask
    recomputes results lost with a worker) thus costs nothing and rewrites nothing.
    """
    summary = committed(out_dir, recording, config["key"])
    if summary is not None and (not config.get("redo") or summary.get("run_id") == config.get("run_id")):
        return summary
    return (process or process_recording)(recording, out_dir, config)


def day_rows(series, participant: str, source: str, tz: dt.tzinfo) -> list[dict]:
    """One row per calendar day (in ``tz``) the recording touches; bouts and breaks clipped at midnight."""
    from sitless.analysis.metrics import break_seconds, period_summary, sitting_bouts
    from sitless.weekly import local_midnight

    if not len(series):
        return []
    first = dt.datetime.fromtimestamp(series.start, tz).date()
    last = dt.datetime.fromtimestamp(series.end - 1, tz).date()
    rows = []
    day = first
    while day <= last:
        lo = max(local_midnight(day, tz), series.start)
        hi = min(local_midnight(day + dt.timedelta(days=1), tz), series.end)
        codes = series.codes[lo - series.start : hi - series.start]
        figures = period_summary(codes, len(break_seconds(codes, lo)), sitting_bouts(codes, lo), [])
        rows.append(
            {
                "participant": participant,
                "day": day.isoformat(),
                "worn_hours": round((figures["worn_min"] or 0.0) / 60.0, 3),
                "sitting_min": figures["sitting_min"],
                "standing_min": figures["standing_min"],
                "walking_min": figures["walking_min"],
                "cycling_min": figures["cycling_min"],
                "lying_min": figures["lying_min"],
                "nonwear_min": figures["nonwear_min"],
                "sitting_bouts_30min": figures["bouts_30min"],
                "breaks": figures["breaks"],
                "source_file": source,
            }
        )
        day += dt.timedelta(days=1)
    return rows


def process_recording(recording: Recording, out_dir: Path, config: dict) -> dict:
    """Classify one recording and commit its results (postures, then the JSON summary). Runs in a worker.

    Returns the summary; a bad recording returns ``{"error": ...}`` instead of raising, so one file never
    stops the others.
    """
    from sitless.analysis.classify import StreamingClassifier
    from sitless.analysis.postures import PostureSeconds
    from sitless.firmware_bridge.private_files import private_output
    from sitless.firmware_bridge.recordings import RecordingError, iter_recording
    from sitless.firmware_bridge.recordings_native import device_info
    from sitless.posture_csv import write_posture_csv
    from sitless.weekly import resolve_timezone

    settings, calibration, key = config["settings"], config["calibration"], config["key"]
    problems: list[RecordingError] = []
    try:
        before = fingerprint(recording.path)
        info = device_info(recording.path)
        classifier = StreamingClassifier(settings, calibration)
        parts = [classifier.feed(chunk) for chunk in iter_recording(
            recording.path, 1 << 18, on_error="skip", problems=problems
        )]
        parts.append(classifier.flush())
        series = PostureSeconds.concat(parts)
        if not len(series):
            raise RecordingError(recording.path, None, "no samples")
    except (RecordingError, OSError, ValueError) as error:
        return {"name": recording.name, "source_file": str(recording.path), "error": str(error)}
    (out_dir / RESULTS).mkdir(parents=True, exist_ok=True)
    write_posture_csv(postures_path(out_dir, recording), series)
    tz = resolve_timezone(config["timezone"])
    minutes = series.minutes_per_posture()
    summary = {
        "name": recording.name,
        "participant": recording.participant,
        "source_file": str(recording.path),
        "input": before,
        "settings_key": key,
        "run_id": config.get("run_id"),
        "device": info.as_dict(),
        "start": int(series.start),
        "seconds": len(series),
        "minutes": {label: round(value, 2) for label, value in minutes.items()},
        "worn_hours": round(sum(minutes[p] for p in ("sitting", "standing", "walking", "lying", "cycling")) / 60, 3),
        "problems": [str(p) for p in problems[:100]],
        "problem_count": len(problems),
        "days": day_rows(series, recording.participant, str(recording.path), tz),
    }
    with private_output(summary_path(out_dir, recording)) as handle:
        handle.write(json.dumps(summary, indent=1).encode())
    return summary


def load_summaries(out_dir: Path, recordings: list[Recording] | None = None) -> list[dict]:
    """The committed summaries of ``recordings`` (or of every recording in ``out_dir``), by name."""
    if recordings is None:
        paths = sorted((out_dir / RESULTS).glob("*.json"))
    else:
        paths = [summary_path(out_dir, r) for r in recordings]
    summaries = []
    for path in paths:
        try:
            summaries.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(summaries, key=lambda s: s["name"])


def cohort_rows(summaries: list[dict]) -> list[dict]:
    rows = [row for summary in summaries for row in summary.get("days", [])]
    return sorted(rows, key=lambda row: (row["participant"], row["day"], row["source_file"]))


def write_table(out_dir: Path, rows: list[dict], name: str = TABLE) -> Path:
    from sitless.firmware_bridge.private_files import private_output

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in COLUMNS})
    path = out_dir / name
    with private_output(path) as handle:
        handle.write(text.getvalue().encode())
    _write_parquet(path.with_suffix(".parquet"), rows)
    return path


#: Parquet types of the columns: days as dates, minutes as floats, counts as integers.
_INTEGER_COLUMNS = ("sitting_bouts_30min", "breaks")


def _write_parquet(path: Path, rows: list[dict]) -> None:
    """The same table as Parquet, typed, for pandas, polars, DuckDB or R (when pyarrow is installed:
    everywhere but 32-bit ARM, where sitless does without it and the CSV is the table)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    from sitless.firmware_bridge.private_files import private_output

    columns = {}
    for name in COLUMNS:
        values = [row[name] for row in rows]
        if name in ("participant", "source_file"):
            columns[name] = pa.array(values, pa.string())
        elif name == "day":
            columns[name] = pa.array([dt.date.fromisoformat(v) for v in values], pa.date32())
        elif name in _INTEGER_COLUMNS:
            columns[name] = pa.array(values, pa.int32())
        else:
            columns[name] = pa.array(values, pa.float64())
    with private_output(path) as handle:
        pq.write_table(pa.table(columns), handle)


def recording_table(summaries: list[dict]) -> str:
    """The per-recording summary for the terminal: worn hours and minutes per posture."""
    header = f"{'recording':<36} {'worn h':>7} {'sitting':>8} {'standing':>8} {'walking':>8} {'cycling':>8} {'lying':>8} {'nonwear':>8}"
    lines = [header]
    for s in summaries:
        m = s["minutes"]
        lines.append(
            f"{s['name'][:36]:<36} {s['worn_hours']:7.1f} {m['sitting']:8.0f} {m['standing']:8.0f} "
            f"{m['walking']:8.0f} {m['cycling']:8.0f} {m['lying']:8.0f} {m['nonwear']:8.0f}"
        )
    return "\n".join(lines)
