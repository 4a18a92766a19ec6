"""`sitless report` end to end: terminal, JSON, PNG, and the HTML page as headless Chromium renders it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.image as mpimg
import numpy as np
import pytest

from sitless.analysis.report_html import format_minutes
from sitless.cli import main
from sitless.store import Store

from .synthetic import simulate_days

TZ_NAME = "Europe/Copenhagen"
WEEK = "2026-W47"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store with two simulated weeks and some prompts, and the report of the second week in every format."""
    tmp = tmp_path_factory.mktemp("report")
    tz = ZoneInfo(TZ_NAME)
    series, _truth = simulate_days(dt.date(2026, 11, 9), 14, tz, seed=5)
    db = tmp / "sitless.db"
    with Store.open(db) as store:
        store.add_postures(series)
        rng = np.random.default_rng(2)
        exercises = ["kneeling hip flexor stretch", "glute bridge", "couch stretch"]
        for i in range(30):
            ts = float(series.start + rng.integers(0, len(series)))
            store.add_prompt(f"p{i}", ts, 1800.0, 1, exercises[i % 3 if i % 4 else 0])
            store.set_prompt_outcome(f"p{i}", [None, 40.0, 100.0, 250.0][i % 4])
    files = {"html": tmp / "week.html", "png": tmp / "week.png", "json": tmp / "week.json"}
    code = main(
        ["report", "--store", str(db), "--week", WEEK, "--timezone", TZ_NAME]
        + [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    )
    assert code == 0
    return {"db": db, "tmp": tmp, **files, "report": json.loads(files["json"].read_text())}


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install the Debian package `chromium` (scripts/test does)")
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_json_summary_has_the_documented_fields(outputs: dict) -> None:
    report = outputs["report"]
    day_keys = {
        "date", "worn_min", "sitting_min", "lying_min", "standing_min", "walking_min", "cycling_min",
        "nonwear_min", "no_data_min", "meeting_min", "sitting_in_meetings_min", "breaks", "breaks_per_sitting_hour", "bouts_30min", "min_in_bouts_30min", "bouts_60min",
        "longest_bout_min", "prompts", "prompts_heeded", "median_min_to_stand",
    }  # fmt: skip
    assert report["week"] == WEEK and len(report["days"]) == 7
    for day in report["days"]:
        assert day_keys <= set(day)
    totals = report["week_totals"]
    assert (day_keys - {"date"}) | {"w50_min", "alpha", "alpha_x_min_min", "gini"} <= set(totals)
    assert report["previous_week"]["week"] == "2026-W46"
    assert sum(d["prompts"] for d in report["days"]) == totals["prompts"] > 0


def test_outputs_are_private_files(outputs: dict) -> None:
    for kind in ("html", "png", "json"):
        assert stat.S_IMODE(os.stat(outputs[kind]).st_mode) == 0o600, kind


def test_html_is_one_self_contained_phone_friendly_file(outputs: dict) -> None:
    page = outputs["html"].read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert page.count("<svg") == 6
    assert page.count('role="img" aria-label="') == 6


def test_chromium_renders_a_page_with_the_headline_numbers_and_no_console_errors(outputs: dict) -> None:
    url = outputs["html"].as_uri()
    shot = outputs["tmp"] / "screenshot.png"
    rendered = chromium([f"--screenshot={shot}", "--window-size=412,2000", url], outputs["tmp"] / "profile1")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert console_messages(rendered.stderr) == []
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 412)
    not_background = np.mean(np.abs(pixels - pixels[5, 5]).sum(axis=2) > 0.1)
    assert pixels.std() > 0.05 and not_background > 0.2, "the screenshot is (almost) blank"

    dom = chromium(["--dump-dom", url], outputs["tmp"] / "profile2")
    assert dom.returncode == 0 and console_messages(dom.stderr) == []
    totals = outputs["report"]["week_totals"]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dom.stdout))
    for headline in (
        format_minutes(totals["sitting_min"]),
        f"{totals['breaks_per_sitting_hour']:.2f}",
        f"{totals['prompts_heeded']} of {totals['prompts']}",
        format_minutes(totals["longest_bout_min"]),
        outputs["report"]["stretch_of_the_week"]["exercise"] or "No single favourite",
    ):
        assert headline in text, f"headline {headline!r} is not in the rendered page"
    # The page explains itself: why a prompt's spell is longer than a bout, what could not be classified.
    assert "a stand shorter than a minute does not end" in text
    assert f"{format_minutes(totals['nonwear_min'])} not worn" in text
    assert f"{format_minutes(totals['no_data_min'])} without data" in text


def test_console_error_detection_works(tmp_path: Path) -> None:
    """The negative control for the test above: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("broken page")</script></body></html>')
    done = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    assert any("broken page" in line for line in console_messages(done.stderr))


def test_png_export_is_a_tall_non_blank_image(outputs: dict) -> None:
    pixels = mpimg.imread(outputs["png"])[..., :3]
    height, width = pixels.shape[:2]
    assert height > 3 * width
    assert pixels.std() > 0.05 and np.mean(pixels.sum(axis=2) < 2.7) > 0.05


def test_terminal_summary_and_json_on_stdout(outputs: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--store", str(outputs["db"]), "--week", WEEK, "--timezone", TZ_NAME]) == 0
    out = capsys.readouterr().out
    assert f"sitless week {WEEK}" in out and "previous week 2026-W46" in out
    assert (
        main(["report", "--store", str(outputs["db"]), "--week", WEEK, "--timezone", TZ_NAME, "--json", "-"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["week_totals"] == outputs["report"]["week_totals"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-W99"], "does not exist"),
        (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_input_is_one_clear_line(outputs: dict, args: list[str], message: str, capsys) -> None:
    assert main(["report", "--store", str(outputs["db"]), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_missing_store_is_reported_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "sitless.db"
    assert main(["report", "--store", str(missing)]) == 2
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("mosquitto not found: install the Debian packages `mosquitto` and `mosquitto-clients`")


@pytest.fixture
def broker(tmp_path: Path):
    """A private Mosquitto on a free loopback port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"mosquitto did not start: {process.stderr.read().decode() if process.stderr else ''}")
    yield f"mqtt://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_publish_sends_the_json_retained_to_the_weekly_topic(
    outputs: dict, broker: str, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[mqtt]\nurl = "{broker}"\ndevice_id = "thigh1"\n')
    args = [
        "report",
        "--config",
        str(config),
        "--store",
        str(outputs["db"]),
        "--week",
        WEEK,
        "--timezone",
        TZ_NAME,
    ]
    assert main([*args, "--publish"]) == 0
    port = broker.rsplit(":", 1)[1]
    # Subscribing only now: the message must have been retained by the broker.
    received = subprocess.run(
        [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            port,
            "-t",
            "sitless/thigh1/report/weekly",
            "-C",
            "1",
            "-W",
            "5",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert received.returncode == 0, received.stderr
    topic, payload = received.stdout.split(" ", 1)
    assert topic == "sitless/thigh1/report/weekly"
    assert json.loads(payload)["week_totals"] == outputs["report"]["week_totals"]


def test_publish_to_a_broker_that_is_down_fails_with_one_clear_line(outputs: dict, capsys) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["report", "--store", str(outputs["db"]), "--week", WEEK, "--timezone", TZ_NAME]
    assert main([*args, "--publish", "--broker", f"mqtt://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"127.0.0.1:{port}" in err and len(err.splitlines()) == 1
