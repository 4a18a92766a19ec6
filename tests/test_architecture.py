"""The dependency rule of docs/architecture.md: import-linter contracts (pyproject.toml), and the one
rule they cannot express, that everything is imported through the ``sitless`` namespace."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("analysis", "firmware_bridge", "alerts")


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


def test_import_linter_contracts_hold() -> None:
    """The layers, the application-only wiring, a core without I/O, clock or environment (no ``time``,
    ``os``, sockets, SQLite, paho, Bleak, asyncio) and no import cycles: the contracts in
    pyproject.toml ``[tool.importlinter]``, checked by import-linter on the real import graph.

    In a subprocess: import-linter configures logging with ``dictConfig``, which disables every logger
    that exists, and later tests that read sitless's log lines would see nothing."""
    script = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
