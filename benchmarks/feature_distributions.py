"""Real against simulated: the distributions of every feature the classifier uses, per posture.

Real: HuGaDB's development half, both thighs (../shared/data). Simulated: two 8-h office days per rate
(12.5 and 50 Hz, front mounting), the simulator as it is now. Per labelled second (HuGaDB: >= 80 % of the
second's samples carry the label): total SD within the second, the drift of per-second means (SD of the
means over 30-s windows beyond white noise), the peak |a|, the share of the 2-s SD that |a| itself
varies (swing ratio), the seated thigh's angle from the sensor axis nearest gravity, and for walking
and pedalling the dominant frequency of |a| and the share of its power above 3 Hz (scipy.signal.welch).

Usage: ``python benchmarks/feature_distributions.py`` (prints the Markdown table for docs/simulator.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.signal import welch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.real_data import hugadb_wearings  # noqa: E402
from sitless.analysis.postures import Posture  # noqa: E402
from sitless.firmware_bridge.simulate import SimulationConfig, simulate  # noqa: E402

POSTURES = {"sitting": (5, 12), "standing": (8,), "walking": (1,), "cycling": (9,), "nonwear": ()}
SIM = {"sitting": Posture.SITTING, "standing": Posture.STANDING, "walking": Posture.WALKING,
       "cycling": Posture.CYCLING, "nonwear": Posture.NONWEAR}  # fmt: skip


def per_second(t: np.ndarray, xyz: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    first = int(np.floor(t[0]))
    sec = np.floor(t).astype(np.int64) - first
    n = int(sec[-1]) + 1
    count = np.bincount(sec, minlength=n).astype(float)
    safe = np.maximum(count, 1)

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(sec, v, n)

    mean = np.stack([total(xyz[:, i]) for i in range(3)], 1) / safe[:, None]
    var = np.stack([total(xyz[:, i] ** 2) for i in range(3)], 1) / safe[:, None] - mean**2
    magnitude = np.linalg.norm(xyz, axis=1)
    peak = np.zeros(n)
    np.maximum.at(peak, sec, magnitude)

    def window2(a: np.ndarray) -> np.ndarray:
        b = a.copy()
        b[1:] += a[:-1]
        return b

    c2 = np.maximum(window2(count), 1)
    sx = np.stack([total(xyz[:, i]) for i in range(3)], 1)
    sxx = np.stack([total(xyz[:, i] ** 2) for i in range(3)], 1)
    var2 = (window2(sxx) / c2[:, None] - (window2(sx) / c2[:, None]) ** 2).sum(1)
    mvar2 = window2(total(magnitude**2)) / c2 - (window2(total(magnitude)) / c2) ** 2
    gravity = mean / np.maximum(np.linalg.norm(mean, axis=1), 1e-9)[:, None]
    axis_angle = np.degrees(np.arccos(np.clip(np.abs(gravity).max(axis=1), 0, 1)))
    # drift: SD of the per-second means over 30-s windows beyond what the within-second noise explains
    within = var.sum(1) / safe
    drift = np.full(n, np.nan)
    for start in range(0, n - 30, 30):
        part = slice(start, start + 30)
        if (count[part] > 0).all():
            excess = mean[part].var(axis=0).sum() - within[part].mean()
            drift[start : start + 30] = np.sqrt(max(excess, 0.0))
    label = np.zeros(n, np.int64)
    for code in np.unique(labels):
        share = np.bincount(sec, labels == code, n) / safe
        label[share >= 0.8] = code
    return {
        "label": label, "count": count, "sd": np.sqrt(np.maximum(var.sum(1), 0)), "drift": drift,
        "peak": peak, "swing": np.sqrt(np.maximum(mvar2, 0) / np.maximum(var2, 1e-12)),
        "axis": axis_angle,
    }  # fmt: skip


def spectrum(t: np.ndarray, xyz: np.ndarray, rate: float) -> tuple[float, float]:
    magnitude = np.linalg.norm(xyz, axis=1)
    f, p = welch(magnitude - magnitude.mean(), fs=rate, nperseg=min(len(t), int(8 * rate)))
    return float(f[np.argmax(p)]), float(p[f > 3].sum() / max(p.sum(), 1e-12))


def fmt(values: np.ndarray, scale: float = 1.0, digits: int = 3) -> str:
    values = values[np.isfinite(values)] * scale
    if not len(values):
        return "-"
    lo, mid, hi = np.percentile(values, [5, 50, 95])
    return f"{mid:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def main() -> int:
    real: dict[str, list] = {k: [] for k in POSTURES}
    real_spectra: dict[str, list] = {"walking": [], "cycling": []}
    for thigh in ("right", "left"):
        for wearing in hugadb_wearings(thigh):
            rows = per_second(wearing.samples.t, wearing.samples.xyz.astype(np.float64), wearing.labels)
            for name, codes in POSTURES.items():
                keep = np.isin(rows["label"], codes) & (rows["count"] > 10)
                real[name].append({k: v[keep] for k, v in rows.items()})
            starts = np.flatnonzero(wearing.starts).tolist() + [len(wearing.labels)]
            for a, b in zip(starts[:-1], starts[1:], strict=True):
                codes = np.unique(wearing.labels[a:b])
                if len(codes) == 1 and codes[0] in (1, 9) and b - a > 600:
                    name = "walking" if codes[0] == 1 else "cycling"
                    xyz = wearing.samples.xyz[a:b].astype(np.float64)
                    real_spectra[name].append(spectrum(wearing.samples.t[a:b], xyz, 58.82))
    sim: dict[float, dict[str, list]] = {}
    sim_spectra: dict[float, dict[str, list]] = {}
    for rate in (12.5, 50.0):
        sim[rate] = {k: [] for k in POSTURES}
        sim_spectra[rate] = {"walking": [], "cycling": []}
        for seed in (1, 2):
            day = simulate(SimulationConfig(hours=8, rate_hz=rate, seed=seed, mounting="front"))
            t, xyz = day.samples.t, day.samples.xyz.astype(np.float64)
            sec = np.floor(t).astype(np.int64) - day.truth.start
            labels = day.truth.codes[np.clip(sec, 0, len(day.truth) - 1)].astype(np.int64)
            rows = per_second(t, xyz, labels)
            for name, posture in SIM.items():
                keep = (rows["label"] == int(posture)) & (rows["count"] > 5)
                sim[rate][name].append({k: v[keep] for k, v in rows.items()})
            for name in ("walking", "cycling"):
                inside = labels == int(SIM[name])
                edges = np.flatnonzero(np.diff(np.r_[0, inside.astype(int), 0]))
                for a, b in zip(edges[::2], edges[1::2], strict=True):
                    if b - a > 20 * rate:
                        sim_spectra[rate][name].append(spectrum(t[a:b], xyz[a:b], rate))

    def joined(parts: list, key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts]) if parts else np.zeros(0)

    print("| posture | feature | real (HuGaDB, both thighs) | simulated 12.5 Hz | simulated 50 Hz |")
    print("|---|---|---|---|---|")
    features = [("sd", "per-second SD, g", 1.0, 3), ("drift", "drift of per-second means, mg", 1000.0, 1),
                ("peak", "peak \\|a\\|, g", 1.0, 2), ("swing", "\\|a\\| SD / vector SD (2 s)", 1.0, 2)]  # fmt: skip
    for name in POSTURES:
        for key, title, scale, digits in features + ([("axis", "angle from nearest axis, deg", 1.0, 1)]
                                                     if name == "sitting" else []):  # fmt: skip
            cells = [fmt(joined(real[name], key), scale, digits)]
            cells += [fmt(joined(sim[rate][name], key), scale, digits) for rate in (12.5, 50.0)]
            print(f"| {name} | {title} | " + " | ".join(cells) + " |")
    for name in ("walking", "cycling"):
        for index, title in ((0, "dominant frequency of \\|a\\|, Hz"), (1, "power of \\|a\\| above 3 Hz")):
            cells = [fmt(np.array([s[index] for s in real_spectra[name]]), 1.0, 2)]
            cells += [fmt(np.array([s[index] for s in sim_spectra[r][name]]), 1.0, 2) for r in (12.5, 50.0)]
            print(f"| {name} | {title} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
