"""Real sensors on real people: sitless and acti-motus side by side, per person and in total.

Data: ``../shared/data`` (its README describes the sets and the scoring; the held-out halves are scored
the same way elsewhere). Benchmarks may need ../shared; the tests do not (tests/data holds an excerpt).

* **HuGaDB** (MPU-6050 IMUs on the front of both thighs, 58.82 Hz, labelled per sample). Each person's
  recordings are laid end to end as one wearing: sorted by header start, then name; a recording starts
  at its header time, or 10 s after the previous one ends if the headers overlap. Both thighs, each
  classified on its own. Neither classifier is told the sensor's rotation: sitless learns it, acti-motus
  applies its own flip detection (``orientation=True``), as a user would run them.
* **WISDM-2019** (a phone in a trouser pocket, about 20 Hz): each person's walking, sitting and standing
  blocks on the phone's own clock, in time order, as one wearing (the real gaps between blocks kept).

Scoring (the README's): truth per second is the label covering >= 80 % of the second's samples, none
within 2 s of a change of label (or of a recording's start or end). Scored seconds have truth sitting
(HuGaDB 5 sitting, 12 sitting in a car), upright (8 standing, 10/11 elevator, 1 walking) or cycling (9).

* **agreement**: over sitting and upright seconds, sedentary (sitting or lying) vs upright (standing or
  walking); non-wear, unknown and cycling on such a second count as wrong;
* **sitting F1 / recall**: "sitting" = sitting or lying said, over sitting and upright seconds;
* **non-wear**: share of all seconds with data (the sensor is always worn here) called non-wear;
* **cycling recall**: share of cycling seconds called cycling;
* **sitting minutes**: seconds called sitting or lying over the whole wearing, against the labels'.

Usage: ``python benchmarks/real_data.py`` (both sets, both classifiers; about 2 min), ``--no-peer``,
``--set hugadb|wisdm``, ``--thigh right|left|both``, ``--markdown`` (tables for the docs).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitless.analysis.classify import ClassifierSettings, classify  # noqa: E402
from sitless.analysis.postures import Posture, PostureSeconds  # noqa: E402
from sitless.analysis.samples import SampleChunk  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
HUGADB_RATE_HZ = 58.82
HUGADB_COUNTS_PER_G = 16384.0
OVERLAP_GAP_S = 10.0
TARGETS = {"agreement": 0.99, "sit_f1": 0.99, "person_agreement": 0.97, "nonwear": 0.005, "cycling": 0.9}
WISDM_TARGET = 0.95

# Truth classes of the scoring (HuGaDB activity codes -> what is scored).
SIT, UPRIGHT, CYCLE, NONE = 1, 2, 3, 0
HUGADB_CLASS = np.zeros(256, np.int8)
HUGADB_CLASS[[5, 12]] = SIT
HUGADB_CLASS[[8, 10, 11, 1]] = UPRIGHT
HUGADB_CLASS[9] = CYCLE
HUGADB_TRANSITIONS = (6, 7)  # sitting down, standing up: unscored, but watched for "cycling"


@dataclass
class Wearing:
    """One person's recording as the classifier sees it, with per-sample truth classes."""

    person: str
    samples: SampleChunk
    labels: np.ndarray  # per sample: raw activity label
    classes: np.ndarray  # per sample: SIT / UPRIGHT / CYCLE / NONE
    starts: np.ndarray  # per sample: the first sample of a recording (a change of label for the truth)
    #: What the wearer's sensor is known to be (not who wears it): the defaults for thigh sensors,
    #: ``for_sensor("phone")`` for phones (``--phone-axis`` may change the axis the WISDM run guesses).
    settings: ClassifierSettings | None = None


@dataclass
class Tally:
    """Counts from which every figure is computed (so people add up to the total)."""

    agree: int = 0
    scored: int = 0
    sit_true: int = 0
    sit_said: int = 0
    sit_both: int = 0
    seconds_with_data: int = 0
    nonwear: int = 0
    cycle_true: int = 0
    cycle_said: int = 0
    sit_min_labels: float = 0.0
    sit_min_said: float = 0.0
    transition_s: int = 0  # seconds mostly labelled sitting down or standing up (HuGaDB)
    transition_cycling: int = 0  # of those, called cycling
    confusion: dict = field(default_factory=dict)  # (truth class, predicted posture) -> seconds

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            if name == "confusion":
                for key, value in other.confusion.items():
                    self.confusion[key] = self.confusion.get(key, 0) + value
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def agreement(self) -> float:
        return self.agree / max(self.scored, 1)

    @property
    def sit_f1(self) -> float:
        return 2 * self.sit_both / max(self.sit_true + self.sit_said, 1)

    @property
    def sit_recall(self) -> float:
        return self.sit_both / max(self.sit_true, 1)

    @property
    def nonwear_share(self) -> float:
        return self.nonwear / max(self.seconds_with_data, 1)

    @property
    def cycling_recall(self) -> float:
        return self.cycle_said / self.cycle_true if self.cycle_true else float("nan")


# ---- data ---------------------------------------------------------------------------------------
def hugadb_wearings(thigh: str, path: Path | None = None) -> list[Wearing]:
    """Each person's HuGaDB recordings laid end to end (README: 'How the held-out check scores')."""
    data = np.load(path or DATA / "hugadb" / "hugadb_dev.npz")
    keys = sorted({k.split("_", 1)[1] for k in data.files if k.startswith("rec_")}, key=int)
    by_person: dict[str, list[tuple[int, str, str]]] = {}
    for k in keys:
        name = str(data[f"rec_{k}"])
        person = name.split("_")[-2]
        by_person.setdefault(person, []).append((int(data[f"start_{k}"]), name, k))
    column = {"right": "rt", "left": "lt"}[thigh]
    wearings = []
    for person, recordings in sorted(by_person.items()):
        t_parts, xyz_parts, label_parts, start_parts = [], [], [], []
        end = -np.inf
        for start, _name, k in sorted(recordings):
            counts = data[f"{column}_{k}"]
            n = len(counts)
            if not n:
                continue
            begin = float(start) if start >= end else end + OVERLAP_GAP_S
            t = begin + np.arange(n) / HUGADB_RATE_HZ
            end = float(t[-1]) + 1.0 / HUGADB_RATE_HZ
            t_parts.append(t)
            xyz_parts.append((counts / HUGADB_COUNTS_PER_G).astype(np.float32))
            label_parts.append(data[f"act_{k}"])
            start_parts.append(np.arange(n) == 0)
        labels = np.concatenate(label_parts)
        wearings.append(
            Wearing(
                person=f"{thigh[0]}{person}",
                samples=SampleChunk(np.concatenate(t_parts), np.concatenate(xyz_parts)),
                labels=labels,
                classes=HUGADB_CLASS[labels],
                starts=np.concatenate(start_parts),
            )
        )
    return wearings


def wisdm_wearings(path: Path | None = None, long_axis: str = "y") -> list[Wearing]:
    """Each WISDM person's blocks in the phone clock's time order, as one wearing, classified with the
    sensor's long axis a phone has (y, unless the run says otherwise)."""
    settings = ClassifierSettings().for_sensor("phone")
    settings = dataclasses.replace(settings, long_axis=long_axis)
    data = np.load(path or DATA / "wisdm2019" / "wisdm_dev.npz")
    keys = sorted({k.split("_", 1)[1] for k in data.files if k.startswith("rec_")}, key=int)
    by_person: dict[str, list] = {}
    classes = {"walking": UPRIGHT, "standing": UPRIGHT, "sitting": SIT}
    codes = {"walking": 1, "standing": 8, "sitting": 5}
    for k in keys:
        t = data[f"t_{k}"].astype(np.float64)
        order = np.argsort(t, kind="stable")
        activity = str(data[f"activity_{k}"])
        by_person.setdefault(str(data[f"subject_{k}"]), []).append(
            (float(t[order[0]]), t[order], data[f"xyz_{k}"][order], activity)
        )
    wearings = []
    epoch = 1_700_000_000.0  # any epoch: the phone clock has none
    for person, blocks in sorted(by_person.items()):
        blocks.sort(key=lambda block: block[0])
        t = np.concatenate([block[1] for block in blocks]) + epoch
        xyz = np.concatenate([block[2] for block in blocks]).astype(np.float32)
        labels = np.concatenate([np.full(len(b[1]), codes[b[3]], np.uint8) for b in blocks])
        cls = np.concatenate([np.full(len(b[1]), classes[b[3]], np.int8) for b in blocks])
        starts = np.concatenate([np.arange(len(b[1])) == 0 for b in blocks])
        keep = np.concatenate([[True], np.diff(t) > 0])  # duplicated or backward phone timestamps
        keep |= starts
        wearing = Wearing(
            person, SampleChunk(t[keep], xyz[keep]), labels[keep], cls[keep], starts[keep], settings
        )
        wearings.append(wearing)
    return wearings


# ---- truth and scoring ----------------------------------------------------------------------------
def truth_seconds(wearing: Wearing) -> tuple[int, np.ndarray, np.ndarray]:
    """(first second, truth class per second or NONE, labelled-sitting per second)."""
    t = wearing.samples.t
    first = int(np.floor(t[0]))
    seconds = np.floor(t).astype(np.int64) - first
    n_seconds = int(seconds[-1]) + 1
    labels = wearing.labels
    per_class = np.zeros((n_seconds, 4), np.int64)
    np.add.at(per_class, (seconds, wearing.classes), 1)
    totals = np.bincount(seconds, minlength=n_seconds)
    majority = per_class.argmax(axis=1)
    covered = per_class[np.arange(n_seconds), majority] >= 0.8 * np.maximum(totals, 1)
    truth = np.where(covered & (totals > 0), majority, NONE).astype(np.int8)
    # Seconds within 2 s of a change of label (or a recording's boundary) have no truth.
    change = np.flatnonzero((labels[1:] != labels[:-1]) | wearing.starts[1:]) + 1
    change_times = np.concatenate([t[change], t[change - 1], t[:1], t[-1:]])
    near = np.zeros(n_seconds + 6, np.int64)
    lo = np.floor(change_times - 2.0).astype(np.int64) - first
    hi = np.floor(change_times + 2.0).astype(np.int64) - first
    np.add.at(near, np.clip(lo, 0, n_seconds), 1)
    np.add.at(near, np.clip(hi + 1, 0, n_seconds + 1), -1)
    excluded = np.cumsum(near)[:n_seconds] > 0
    truth[excluded] = NONE
    sitting_label = np.zeros(n_seconds, bool)
    sit_samples = np.bincount(seconds, weights=(wearing.classes == SIT), minlength=n_seconds)
    sitting_label[:] = sit_samples >= 0.8 * np.maximum(totals, 1)
    sitting_label &= totals > 0
    return first, truth, sitting_label


def score(wearing: Wearing, predicted: PostureSeconds) -> Tally:
    first, truth, sitting_label = truth_seconds(wearing)
    said = np.full(len(truth), Posture.UNKNOWN, np.int8)
    lo, hi = max(first, predicted.start), min(first + len(truth), predicted.end)
    said[lo - first : hi - first] = predicted.codes[lo - predicted.start : hi - predicted.start]
    sedentary = np.isin(said, [Posture.SITTING, Posture.LYING])
    upright_said = np.isin(said, [Posture.STANDING, Posture.WALKING])
    scored = (truth == SIT) | (truth == UPRIGHT)
    correct = np.where(truth == SIT, sedentary, upright_said)
    sample_second = np.floor(wearing.samples.t).astype(np.int64) - first
    samples_in = np.bincount(sample_second, minlength=len(truth))
    has_data = samples_in > 0
    tally = Tally(
        agree=int((correct & scored).sum()),
        scored=int(scored.sum()),
        sit_true=int((truth == SIT).sum()),
        sit_said=int((sedentary & scored).sum()),
        sit_both=int((sedentary & (truth == SIT)).sum()),
        seconds_with_data=int(has_data.sum()),
        nonwear=int((has_data & (said == Posture.NONWEAR)).sum()),
        cycle_true=int((truth == CYCLE).sum()),
        cycle_said=int(((truth == CYCLE) & (said == Posture.CYCLING)).sum()),
        sit_min_labels=float(sitting_label.sum()) / 60.0,
        sit_min_said=float((sedentary & has_data).sum()) / 60.0,
    )
    in_transition = np.bincount(
        sample_second, weights=np.isin(wearing.labels, HUGADB_TRANSITIONS), minlength=len(truth)
    )
    transition = in_transition > 0.5 * np.maximum(samples_in, 1)
    tally.transition_s = int(transition.sum())
    tally.transition_cycling = int((transition & (said == Posture.CYCLING)).sum())
    for cls in (SIT, UPRIGHT, CYCLE):
        counts = np.bincount(said[truth == cls], minlength=len(Posture))
        for code, count in enumerate(counts):
            if count:
                tally.confusion[(cls, code)] = int(count)
    return tally


# ---- running ---------------------------------------------------------------------------------------
def run_ours(wearing: Wearing) -> PostureSeconds:
    return classify(wearing.samples, wearing.settings)


def run_peer(wearing: Wearing) -> PostureSeconds:
    from benchmarks._peer_actimotus import classify_with_actimotus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classify_with_actimotus(wearing.samples)


def evaluate(wearings: list[Wearing], peer: bool) -> list[tuple[str, Tally, Tally | None]]:
    rows = []
    for wearing in wearings:
        ours = score(wearing, run_ours(wearing))
        theirs = score(wearing, run_peer(wearing)) if peer else None
        rows.append((wearing.person, ours, theirs))
    return rows


def _pct(value: float, target: float | None = None, higher: bool = True) -> str:
    if value != value:  # nan
        return "   -  "
    text = f"{value * 100:6.2f}"
    if target is not None:
        text += " " if (value >= target if higher else value <= target) else "!"
    return text


def print_hugadb(rows: list[tuple[str, Tally, Tally | None]], markdown: bool) -> Tally:
    total_ours, total_peer = Tally(), Tally()
    header = (
        "person",
        "scored s",
        "agreement",
        "sitting F1",
        "sitting recall",
        "non-wear",
        "cycling recall",
        "sitting min (labels)",
    )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print(
            f"{'person':<7}{'scored':>7} | {'agreement':^15} | {'sitting F1':^15} | {'sit recall':^15} |"
            f" {'non-wear %':^15} | {'cycling recall':^15} | {'sitting min':^20}"
        )
        print(f"{'':<7}{'s':>7} |" + "  ours    peer  |" * 5 + "  labels  ours  peer")
    for person, ours, theirs in rows + [("total", None, None)]:
        if person == "total":
            ours, theirs = total_ours, (total_peer if rows and rows[0][2] is not None else None)
        else:
            total_ours.add(ours)
            if theirs is not None:
                total_peer.add(theirs)
        _print_row(person, ours, theirs, markdown, person == "total")
    return total_ours


def _print_row(person: str, ours: Tally, theirs: Tally | None, markdown: bool, total: bool) -> None:
    def pair(name: str, target: float | None = None, higher: bool = True) -> tuple[str, str]:
        peer = _pct(getattr(theirs, name)) if theirs is not None else "   -  "
        return _pct(getattr(ours, name), target, higher), peer

    agreement_target = TARGETS["agreement"] if total else TARGETS["person_agreement"]
    cells = [
        pair("agreement", agreement_target),
        pair("sit_f1", TARGETS["sit_f1"] if total else None),
        pair("sit_recall"),
        pair("nonwear_share", TARGETS["nonwear"], higher=False),
        pair("cycling_recall", TARGETS["cycling"] if total else None),
    ]
    minutes = f"{ours.sit_min_labels:6.1f} {ours.sit_min_said:6.1f} " + (
        f"{theirs.sit_min_said:6.1f}" if theirs is not None else "   -  "
    )
    if markdown:
        body = " | ".join(f"{a.strip()} / {b.strip()}" for a, b in cells)
        print(
            f"| {person} | {ours.scored} | {body} | {minutes.split()[0]} / "
            + " / ".join(minutes.split()[1:])
            + " |"
        )
    else:
        body = " | ".join(f"{a} {b}" for a, b in cells)
        print(f"{person:<7}{ours.scored:>7} | {body} | {minutes}", flush=True)


def print_transitions(rows: list[tuple[str, Tally, Tally | None]]) -> None:
    """Sitting down and standing up are not scored (no posture is right for the second the thigh turns),
    but one that is called cycling shows on the phone and in the week's cycling minutes."""
    seconds = sum(row[1].transition_s for row in rows)  # the same seconds for both classifiers
    parts = []
    for name, index in (("sitless", 1), ("acti-motus", 2)):
        tallies = [row[index] for row in rows if row[index] is not None]
        if tallies:
            cycling = sum(t.transition_cycling for t in tallies)
            parts.append(f"{name} {cycling} ({100 * cycling / max(seconds, 1):.1f} %)")
    print(f"sitting-down and standing-up seconds ({seconds}, unscored) called cycling: " + ", ".join(parts))


def print_confusion(name: str, tally: Tally) -> None:
    names = {SIT: "sitting", UPRIGHT: "upright", CYCLE: "cycling"}
    print(f"  {name}: where the truth's seconds went")
    for cls in (SIT, UPRIGHT, CYCLE):
        row = {Posture(code).label: count for (c, code), count in sorted(tally.confusion.items()) if c == cls}
        print(f"    {names[cls]:<8} " + ", ".join(f"{label} {count}" for label, count in row.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-peer", action="store_true", help="skip acti-motus")
    parser.add_argument("--set", choices=("hugadb", "wisdm", "both"), default="both")
    parser.add_argument("--thigh", choices=("right", "left", "both"), default="both")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables for the docs")
    parser.add_argument("--confusion", action="store_true", help="where each truth class's seconds went")
    parser.add_argument(
        "--phone-axis",
        choices=("x", "y", "z"),
        default="y",
        help="long_axis for WISDM's phones (default y, the phone's long side; x is the thigh pods' default)",
    )
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"no real data at {DATA} (the benchmark needs ../shared/data beside the repository)")
        return 2
    logging.disable(logging.WARNING)  # acti-motus logs a warning per recording
    peer = not args.no_peer
    if peer:
        from benchmarks._peer_actimotus import peer_version

        print(f"peer: acti-motus {peer_version()} (Features + Activities(vendor='Other', orientation=True))")
    print("figures in %; '!' marks a miss of the target (agreement >= 99 total, >= 97 per person;")
    print("sitting F1 >= 99; non-wear <= 0.5; cycling recall >= 90)")
    started = time.perf_counter()
    if args.set in ("hugadb", "both"):
        thighs = ("right", "left") if args.thigh == "both" else (args.thigh,)
        rows = []
        for thigh in thighs:
            rows += evaluate(hugadb_wearings(thigh), peer)
        print(f"\nHuGaDB development half (subjects 1-9), {', '.join(thighs)} thigh ('r'/'l' + subject)")
        total = print_hugadb(rows, args.markdown)
        print_transitions(rows)
        if args.confusion:
            print_confusion("sitless", total)
            if peer:
                peer_total = Tally()
                for _, _, theirs in rows:
                    peer_total.add(theirs)
                print_confusion("acti-motus", peer_total)
    if args.set in ("wisdm", "both"):
        rows = evaluate(wisdm_wearings(long_axis=args.phone_axis), peer)
        print(
            "\nWISDM-2019 development half, phone in a trouser pocket (walking, sitting, standing),"
            f" long_axis = {args.phone_axis!r}"
        )
        total = print_hugadb(rows, args.markdown)
        ok = "met" if total.agreement >= WISDM_TARGET else "MISSED"
        print(f"WISDM agreement target >= {WISDM_TARGET * 100:.0f} %: {ok}")
        if args.confusion:
            print_confusion("sitless", total)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
