"""What `pip install .` puts into site-packages: one top-level package, ``sitless``, and nothing stray."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Builds the wheel from a copy of the tracked files plus a demo output folder, as a user's clone has."""
    source = tmp_path_factory.mktemp("clone")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = ROOT / name
        if origin.is_symlink():
            target.symlink_to(origin.readlink())
        elif origin.is_file():
            shutil.copy2(origin, target)
    (source / "sitless-demo").mkdir()  # `sitless demo` writes here; it must not become a package
    (source / "sitless-demo" / "demo.db").write_bytes(b"")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source), "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("sitless-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_installs_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()}
    assert {entry for entry in top if not entry.endswith(".dist-info")} == {"sitless"}
    (top_level,) = [n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt")]
    assert wheel.read(top_level).decode().split() == ["sitless"]


def test_wheel_carries_the_layers_under_the_sitless_namespace(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for module in ("analysis/classify.py", "alerts/policy.py", "firmware_bridge/decoders/polar.py"):
        assert f"sitless/{module}" in names
    assert not any("sitless-demo" in name for name in names)


def test_command_runs_from_any_folder(tmp_path: Path) -> None:
    """The console script imports sitless.* from the install, not from the current folder."""
    script = Path(sys.executable).with_name("sitless")
    done = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "classify" in done.stdout
