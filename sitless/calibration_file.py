"""The saved calibration (``sitless calibrate`` writes it; ``run``, ``replay`` and ``classify`` read it).

A library module, not a command, so the daemon's set-up reads it without importing a CLI command.
"""

from __future__ import annotations

import json
from pathlib import Path

from sitless.analysis.calibration import Calibration
from sitless.config import default_data_dir
from sitless.firmware_bridge.private_files import private_output


class CalibrationFileError(Exception):
    """The saved calibration file cannot be used; the message names the file."""


def calibration_path() -> Path:
    return default_data_dir() / "calibration.json"


def load_calibration(path: Path | None = None) -> Calibration | None:
    """The saved calibration, or None if there is none. Raises ``CalibrationFileError`` if it is broken."""
    path = path or calibration_path()
    if not path.exists():
        return None
    try:
        return Calibration.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise CalibrationFileError(f"{path}: unusable calibration: {error}") from None


def save_calibration(calibration: Calibration, path: Path | None = None) -> Path:
    """Write atomically with mode 0600 (it describes how a person wears a health sensor)."""
    path = path or calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with private_output(path) as handle:
        handle.write((json.dumps(calibration.to_dict(), indent=2) + "\n").encode())
    return path
