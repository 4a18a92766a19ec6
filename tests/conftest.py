"""Fixtures every test package may use."""

from __future__ import annotations

import pytest


@pytest.fixture
def private_data_dir(tmp_path, monkeypatch):
    """The commands' data and config folders inside the test's tmp_path: no user's store or config is read
    or written. ``SITLESS_CONFIG`` is unset (one naming a missing file is an error, not "no config")."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))  # no config file there
    monkeypatch.delenv("SITLESS_CONFIG", raising=False)
