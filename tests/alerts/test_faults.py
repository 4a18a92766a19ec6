"""Fault injection: a broker outage, `kill -9` of sitless mid-spell, malformed commands.

The outage lasts ``SITLESS_FAULT_OUTAGE_S`` seconds: by default the issue's 2 minutes, so CI proves
what users were promised (this file then takes about 2.5 minutes); ``SITLESS_FAULT_OUTAGE_S=5`` gives a
quick local run of the same test.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from contextlib import closing

import pytest

from sitless.analysis.classify import classify
from sitless.firmware_bridge.recordings import write_recording
from sitless.store import Store
from tests.alerts.helpers import epoch, sitless_command, write_config
from tests.alerts.oracle import expected_prompts

pytestmark = pytest.mark.fault

OUTAGE_S = float(os.environ.get("SITLESS_FAULT_OUTAGE_S", "120"))
DAY_S = 8 * 3600


def test_broker_down_and_restarted_loses_no_prompt(workday, own_broker, subscribe, tmp_path):
    device = "outage" + uuid.uuid4().hex[:6]
    prompt_topic = f"sitless/{device}/prompt"
    sub = subscribe(own_broker.port, [prompt_topic], persistent=True)
    config = write_config(tmp_path, device)
    wall = OUTAGE_S + 12.0  # the replay outlasts the outage so the publisher reconnects on its own
    speed = DAY_S / wall
    replay = subprocess.Popen(
        sitless_command("replay", str(workday["path"]), "--speed", f"{speed:.1f}", "--broker", own_broker.url,
                        "--config", str(config), "--store", str(tmp_path / "s.db")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(3.0)
        own_broker.kill()  # SIGKILL: no goodbye, like a crash or a power cut
        killed_at = time.monotonic()
        time.sleep(OUTAGE_S)
        own_broker.start()
        restarted_at = time.monotonic()
        out, err = replay.communicate(timeout=wall + 60)
    finally:
        replay.kill()
    assert replay.returncode == 0, err
    expected = workday["expected"]
    deadline = time.monotonic() + 20
    while len({m.json()["id"] for m in sub.on(prompt_topic)}) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    unique = {}
    for message in sub.on(prompt_topic):
        unique.setdefault(message.json()["id"], message)
    got = sorted((epoch(m.json()["ts"]), m.json()["level"]) for m in unique.values())
    assert got == expected, f"stderr of the replay:\n{err[-2000:]}"
    held = [m for m in unique.values() if m.at > restarted_at]
    assert held, "no prompt was made during the outage: the test did not test anything"
    assert killed_at < restarted_at
    with Store.open(tmp_path / "s.db") as store:
        assert store.outbox_pending() == []


def last_stored_second(db, sensor: str) -> int | None:
    """Peek read-only (opening a Store here would race the daemon's own schema migration)."""
    if not db.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            row = connection.execute("SELECT last_second FROM sensors WHERE name=?", (sensor,)).fetchone()
    except sqlite3.Error:
        return None  # not created yet
    return None if row is None else row[0]


def test_kill_9_mid_spell_keeps_the_spell_and_the_prompt_fires_on_time(workday, broker, subscribe, tmp_path):
    first_prompt_ts = workday["expected"][0][0]
    spell_start = first_prompt_ts - 1800
    samples = workday["samples"]
    keep = (samples.t >= spell_start - 300) & (samples.t < first_prompt_ts + 300)
    piece = type(samples)(samples.t[keep], samples.xyz[keep])
    path = tmp_path / "spell.npz"
    write_recording(path, piece)
    postures = classify(piece)
    (expected_ts, level), *_ = expected_prompts(postures.start, postures.codes.tolist())
    assert level == 1

    device = "crash" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device}/"
    sub = subscribe(broker.port, [prefix + "prompt", prefix + "error"])
    config = write_config(tmp_path, device)
    db = tmp_path / "s.db"
    command = sitless_command(
        "replay",
        str(path),
        "--speed",
        "600",
        "--broker",
        broker.url,
        "--config",
        str(config),
        "--store",
        str(db),
    )
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        reached = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and first.poll() is None:
            reached = last_stored_second(db, "replay:spell")
            if reached is not None and reached >= spell_start + 900:
                break
            time.sleep(0.05)
        assert first.poll() is None and reached is not None, "the replay ended before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert sub.on(prefix + "prompt") == []

    # Malformed commands wait for sitless in its persistent session; they must change nothing.
    from tests.alerts.conftest import publish_raw

    for name, payload in (
        ("snooze", b'{"minutes": "15"}'),
        ("dnd", b'{"until": "2026-11-16"}'),
        ("dnd", b'{"minutes": 1e9}'),
    ):
        publish_raw(broker.port, prefix + "cmd/" + name, payload)

    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    prompts = sub.wait_for(prefix + "prompt", 1)
    payload = prompts[0].json()
    assert abs(epoch(payload["ts"]) - expected_ts) <= 5, (payload["ts"], expected_ts)
    assert abs(epoch(payload["spell_start"]) - spell_start) <= 5  # the spell continued, it did not restart
    assert payload["level"] == 1
    errors = sub.wait_for(prefix + "error", 3)
    assert all("cmd/" in e.json()["error"] for e in errors)
    assert "rejected command" in second.stderr
