"""`sitless demo` from a user's point of view: prompts go through a real broker to a second client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sitless import broker
from sitless.cli import main


def test_demo_delivers_every_prompt_through_the_broker_and_writes_the_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sitless", "demo", "--hours", "4", "--seconds", "6", "--json"]
        + ["--out-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["prompts_sent"] >= 1, "four hours of office sitting should reach the 30-minute limit"
    assert summary["prompts_received_by_phone"] == summary["prompts_sent"]
    assert "[phone received]" in done.stderr and "started a private Mosquitto" in done.stderr
    # The classifier's sitting time is close to the simulator's truth (gaps are unknown, not sitting).
    assert abs(summary["sitting_min"] - summary["truth_sitting_min"]) <= 0.03 * summary["truth_sitting_min"]
    html = Path(summary["report_html"])
    assert html.is_file() and (html.stat().st_mode & 0o777) == 0o600
    assert "<html" in html.read_text(encoding="utf-8").lower()
    assert (Path(summary["store"]).stat().st_mode & 0o777) == 0o600


def test_demo_without_mosquitto_prints_prompts_marked_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mosquitto is installed here, so its absence is simulated by making the lookup fail as it would."""

    def missing() -> str:
        raise broker.BrokerError(f"mosquitto (the MQTT broker) is not installed: {broker.INSTALL_HINT}")

    monkeypatch.setattr(broker, "find_mosquitto", missing)
    code = main(["demo", "--hours", "2", "--seconds", "2", "--out-dir", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "apt-get install mosquitto" in out + err
    assert "NOT SENT" in out + err
    assert "weekly report (HTML)" in out
