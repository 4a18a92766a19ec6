"""`sitless run --simulate`: the live daemon (wall clock), its state topic, commands, and a clean stop."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid

from sitless.store import Store
from tests.alerts.conftest import publish_raw
from tests.alerts.helpers import sitless_command, write_config


def test_daemon_publishes_state_obeys_a_snooze_and_says_offline_on_sigterm(broker, subscribe, tmp_path):
    device = "run" + uuid.uuid4().hex[:6]
    prefix = f"sitless/{device}/"
    sub = subscribe(broker.port, [prefix + "availability", prefix + "state"])
    config = write_config(tmp_path, device)
    db = tmp_path / "s.db"
    daemon = subprocess.Popen(
        sitless_command("run", "--simulate", "--broker", broker.url, "--config", str(config), "--store", str(db)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sub.wait_for(prefix + "availability", timeout=15)[-1].payload == b"online"
        first_state = sub.wait_for(prefix + "state", timeout=15)[-1].json()
        assert first_state["snoozed_until"] is None
        publish_raw(broker.port, prefix + "cmd/snooze", b'{"minutes": 15}')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            m.json()["snoozed_until"] for m in sub.on(prefix + "state")
        ):
            time.sleep(0.05)
        assert any(m.json()["snoozed_until"] for m in sub.on(prefix + "state")), (
            "the snooze did not reach the policy"
        )
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=20)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err
    assert sub.wait_for(prefix + "availability", 2)[-1].payload == b"offline"
    with Store.open(db) as store:
        assert store.last_posture_second("sim-0001") is not None  # postures were stored
