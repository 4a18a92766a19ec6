"""The first-run list of issue 13 item 12: each mistake a new user makes ends in one clear line, and
the demo never leaves a Mosquitto behind, whatever happens to it."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from sitless.cli import main
from sitless.config import load_config
from tests.alerts.helpers import sitless_command


def brokers_under(folder: Path) -> list[int]:
    """PIDs of Mosquitto processes whose config lives under ``folder`` (the demo's broker, via TMPDIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command and command[0].endswith(b"mosquitto") and str(folder).encode() in b" ".join(command):
            found.append(int(entry.name))
    return found


def demo_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITLESS_")}
    return {**env, "TMPDIR": str(tmp_path / "tmp"), "XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.mark.parametrize("bad", [["--rate", "5"], ["--out-dir", "FILE"]], ids=["rate", "out-dir-file"])
def test_demo_refuses_bad_arguments_in_one_line_and_starts_no_broker(tmp_path: Path, bad: list[str]) -> None:
    (tmp_path / "FILE").write_text("not a folder\n")
    done = subprocess.run(
        sitless_command("demo", "--hours", "0.5", "--seconds", "1", *bad), capture_output=True, text=True,
        timeout=60, cwd=tmp_path, env=demo_env(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert ("rate_hz must be between" in line) if bad[0] == "--rate" else ("is a file, not a folder" in line)
    assert (tmp_path / "FILE").read_text() == "not a folder\n"
    assert brokers_under(tmp_path) == []


@pytest.mark.fault
def test_a_demo_killed_with_kill_9_takes_its_broker_with_it(tmp_path: Path) -> None:
    existing = tmp_path / "shared"
    existing.mkdir()
    existing.chmod(0o755)
    out_dir = existing / "new" / "demo"
    demo = subprocess.Popen(
        sitless_command("demo", "--hours", "8", "--seconds", "120", "--json", "--out-dir", str(out_dir)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=demo_env(tmp_path),
    )  # fmt: skip
    try:
        assert demo.stderr is not None
        for line in demo.stderr:
            if "started a private Mosquitto broker" in line:
                break
        else:
            raise AssertionError("the demo never started its broker")
        brokers = brokers_under(tmp_path)
        assert len(brokers) == 1
        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
        deadline = time.monotonic() + 10
        while brokers_under(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert brokers_under(tmp_path) == [], "the demo's Mosquitto outlived the demo"
    finally:
        demo.kill()
        for pid in brokers_under(tmp_path):
            os.kill(pid, signal.SIGKILL)
    # Only the folders the demo created are private; the user's own folder is left as it was.
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755
    assert [stat.S_IMODE(p.stat().st_mode) for p in (existing / "new", out_dir)] == [0o700, 0o700]


def test_run_without_bluez_exits_at_once_with_the_reason(tmp_path: Path) -> None:
    env = {
        **demo_env(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'no-system-bus'}",
    }
    started = time.monotonic()
    done = subprocess.run(sitless_command("run"), capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sitless run: BlueZ is not running" in done.stderr and "--simulate" in done.stderr
    assert time.monotonic() - started < 30, "a missing BlueZ must not be retried"


def test_sitless_config_naming_no_file_is_an_error(tmp_path: Path) -> None:
    env = {**demo_env(tmp_path), "SITLESS_CONFIG": str(tmp_path / "nope.toml")}
    done = subprocess.run(sitless_command("report"), capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert f"config file {tmp_path / 'nope.toml'} (from SITLESS_CONFIG) does not exist" in done.stderr


def test_a_config_with_a_password_that_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[mqtt]\nusername = "me"\npassword = "secret"\n')
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="sitless.config"):
        load_config(path)
    assert f"chmod 600 {path}" in caplog.text and "secret" not in caplog.text
    caplog.clear()
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="sitless.config"):
        load_config(path)
    assert caplog.text == ""


def test_simulate_refuses_a_truth_file_it_would_not_write_as_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["simulate", "--hours", "0.1", "--out", str(tmp_path / "x.csv"), "--truth", str(tmp_path / "x.npz")]
    )
    assert code == 2 and "--truth is written as CSV" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_sensors_lists_the_micro_bit_rates_lowest_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensors"]) == 0
    out = capsys.readouterr().out
    microbit = out[out.index("microbit:") :].split("\n\n")[0]
    assert "rates     1-500 Hz" in microbit and "500-1" not in out
