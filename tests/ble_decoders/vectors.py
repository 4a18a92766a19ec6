"""Loads the vendor vectors from ``tests/data`` (copies of ../shared/vectors, sources in tests/data/README.md).

The files are part of the repository, so a missing one is a broken checkout: loading fails loudly
instead of letting a test fall back to an empty packet and fail as if a decoder were wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
VECTORS_FILE = DATA_DIR / "ble-vectors.json"
METAWEAR_VECTORS_FILE = DATA_DIR / "metawear-vectors.json"
OFFLINE_FILE = DATA_DIR / "polar_offline_acc.bin"


def _load(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(
            f"vendor vectors missing: {path} is part of the repository (tests/data/README.md)"
        )
    return json.loads(path.read_text())


def load_vectors() -> list[dict]:
    """The 22 vectors of ble-vectors.json (Polar, Movesense, WitMotion)."""
    return _load(VECTORS_FILE)


def load_metawear_vectors() -> list[dict]:
    """The 14 vectors of metawear-vectors.json (MbientLab MetaWear-SDK-Cpp tests)."""
    return _load(METAWEAR_VECTORS_FILE)


def expected_rows(table: dict[str, list], count: int) -> list[tuple[int, list]]:
    """``{"0": [...], "-1": [...]}`` -> [(index, values)] with negative indexes resolved."""
    return [(int(k) % count, v) for k, v in table.items()]
