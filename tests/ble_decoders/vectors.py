"""Loads ``../shared/vectors`` (next to the repository); CI has it, so absence is a failure, not a skip."""

from __future__ import annotations

import json
from pathlib import Path

VECTORS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
VECTORS_FILE = VECTORS_DIR / "ble-vectors.json"
OFFLINE_FILE = VECTORS_DIR / "polar_offline_acc.bin"
MISSING = (
    f"vendor vectors not found at {VECTORS_FILE}: the conformance tests need ../shared/vectors next to the "
    "repository checkout (CI provides it)"
)


def load_vectors() -> list[dict]:
    if not VECTORS_FILE.is_file():
        return []
    return json.loads(VECTORS_FILE.read_text())


def expected_rows(table: dict[str, list], count: int) -> list[tuple[int, list]]:
    """``{"0": [...], "-1": [...]}`` -> [(index, values)] with negative indexes resolved."""
    return [(int(k) % count, v) for k, v in table.items()]
