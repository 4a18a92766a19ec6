"""The dependency rule of docs/architecture.md, checked on the source: the core imports nothing outward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("analysis", "firmware_bridge", "alerts")
FORBIDDEN = {
    "analysis": {"firmware_bridge", "alerts", "sitless"},
    "firmware_bridge": {"alerts", "sitless"},
    "alerts": {"firmware_bridge", "sitless"},
}


def _package_of(module: str) -> str:
    """``sitless.analysis.x`` -> ``analysis``; ``sitless.store`` -> ``sitless``; ``numpy.linalg`` -> ``numpy``."""
    parts = module.split(".")
    if parts[0] == "sitless" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return parts[0]


def imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(_package_of(alias.name), node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((_package_of(node.module), node.lineno))
    return found


def test_everything_is_imported_through_the_sitless_namespace() -> None:
    """The wheel installs only ``sitless``: a bare ``import analysis`` works from a clone and nowhere else."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for folder in ("analysis", "firmware_bridge", "alerts", "sitless", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(path.is_relative_to(ROOT / "sitless" / layer) for layer in LAYERS)  # the symlinks
        for name, line in _top_level_imports(path)
        if name in LAYERS
    ]
    assert not offenders, "\n".join(offenders)


def _top_level_imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.module.split(".")[0], node.lineno))
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_inward(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in sorted(imported_packages(path))
        if name in FORBIDDEN[package]
    ]
    assert not violations, "imports that point outward:\n" + "\n".join(violations)


def test_analysis_does_no_io() -> None:
    """The functional core computes; files, sockets and subprocesses live at the edges."""
    io_modules = {"socket", "subprocess", "sqlite3", "paho", "bleak", "asyncio", "shutil"}
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "analysis").rglob("*.py"))
        for name, line in sorted(imported_packages(path))
        if name in io_modules
    ]
    assert not offenders, "\n".join(offenders)
