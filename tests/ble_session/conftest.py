"""Fixtures: a private dbus-daemon acting as the system bus, and a simulated BlueZ on it.

Bleak (through dbus-fast) takes the system bus address from ``DBUS_SYSTEM_BUS_ADDRESS``, so pointing that
at a private daemon routes the real Bleak BlueZ backend to ``fake_bluez.FakeBlueZ``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ble_session.fake_bluez import FakeBlueZ

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>sitless_test</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def start_private_bus(directory: Path) -> tuple[subprocess.Popen, str]:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("dbus-daemon is not installed: `apt-get install dbus-daemon` (the ble tests need it)")
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=directory / "system_bus_socket"))
    process = subprocess.Popen(
        [daemon, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        pytest.fail(f"dbus-daemon did not start: {process.stderr.read() if process.stderr else ''}")
    return process, address


@pytest.fixture
def system_bus(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private dbus-daemon; ``DBUS_SYSTEM_BUS_ADDRESS`` points at it for the test, restored after."""
    # a short path: unix socket paths are limited to 108 bytes
    directory = Path(tmp_path_factory.mktemp("bus"))
    process, address = start_private_bus(directory)
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    try:
        yield address
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def bluez(system_bus: str) -> Iterator[FakeBlueZ]:
    """A simulated bluetoothd with one powered adapter ``hci0``, running in its own thread."""
    fake = FakeBlueZ(system_bus, adapters=("hci0",)).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def bluez_two_adapters(system_bus: str) -> Iterator[FakeBlueZ]:
    """A simulated bluetoothd with two adapters, ``hci0`` and ``hci1`` (which one BlueZ calls default varies)."""
    fake = FakeBlueZ(system_bus, adapters=("hci0", "hci1")).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def no_bluez(system_bus: str) -> str:
    """A system bus on which nobody owns org.bluez (bluetoothd not running)."""
    return system_bus


@pytest.fixture
def subprocess_env(system_bus: str) -> dict[str, str]:
    """Environment for running ``python -m sitless`` against the private bus."""
    env = dict(os.environ)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = system_bus
    return env
