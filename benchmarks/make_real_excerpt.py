"""Write tests/data/real/hugadb_excerpt.npz: a few minutes of real thighs for the tests (no ../shared).

Whole recordings from HuGaDB's development half (../shared/data/hugadb), int16 counts as published
(16384 per g) with their per-sample labels, one thigh per person:

* subject 4, right thigh: walking, standing, sitting, and sit/stand/walk transitions (``various``);
* subject 1, right thigh: walking, then a bike ride and sitting in a car (the data set's only cyclist);
* subject 6, left thigh: a walk with stops, sitting, standing and sit/stand transitions.

Usage: ``python benchmarks/make_real_excerpt.py`` (re-run only if the selection changes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "hugadb" / "hugadb_dev.npz"
TARGET = ROOT / "tests" / "data" / "real" / "hugadb_excerpt.npz"

SELECTION = {
    ("4", "rt"): [
        "walking_04_00", "standing_04_00", "sitting_04_00", "various_04_00", "various_04_01", "various_04_04",
    ],
    ("1", "rt"): ["walking_01_00", "bicycling_01_00", "sitting_in_car_01_00"],
    ("6", "lt"): ["various_06_22", "sitting_06_01", "standing_06_00", "various_06_01", "sitting_06_02"],
}


def main() -> int:
    data = np.load(SOURCE)
    by_name = {str(data[k]): k.split("_", 1)[1] for k in data.files if k.startswith("rec_")}
    out: dict[str, np.ndarray] = {}
    index = 0
    for (person, thigh), names in SELECTION.items():
        for name in names:
            key = by_name[f"HuGaDB_v1_{name}"]
            out[f"name_{index}"] = np.array(f"HuGaDB_v1_{name}")
            out[f"person_{index}"] = np.array(person)
            out[f"thigh_{index}"] = np.array(thigh)
            out[f"counts_{index}"] = data[f"{thigh}_{key}"].astype(np.int16)
            out[f"act_{index}"] = data[f"act_{key}"].astype(np.uint8)
            index += 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(TARGET, **out)
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1000:.0f} kB, {index} recordings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
