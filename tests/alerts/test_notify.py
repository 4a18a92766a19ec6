"""Prompts to push services and the desktop: apprise itself against an HTTP server speaking ntfy's API, and
a real notification daemon (dunst) on a private D-Bus session; `sitless notify` end to end over Mosquitto.

No ntfy server is packaged here (see tests/alerts/notify_peers.py): the ntfy side is a local server that
implements the parts of ntfy's HTTP API that apprise and the ntfy app use. Everything else is real:
apprise's own ntfy plugin builds and sends the requests, dunst shows the desktop notification, Mosquitto
carries the prompt and the command that comes back from a tapped button.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
import uuid

import pytest
import requests

from sitless.alerts.exercises import LIBRARY
from sitless.alerts.mqtt import MqttSettings, topics_for
from sitless.alerts.notify import (
    Notifier,
    NotifySettings,
    RedactingFilter,
    notification_for,
    ntfy_target,
    parse_reply,
    redact,
)
from sitless.alerts.payloads import dumps, prompt_payload
from sitless.alerts.policy import PromptDue
from tests.alerts.conftest import publish_raw
from tests.alerts.helpers import MONDAY_8, sitless_command, write_config
from tests.alerts.notify_peers import DesktopSession, NtfyServer

SECRET_TOPIC = "s3cret-topic-" + uuid.uuid4().hex[:8]
PASSWORD = "pw-" + uuid.uuid4().hex[:8]


def a_prompt(level: int = 1, exercise: int = 2) -> dict:
    return prompt_payload(
        PromptDue(str(uuid.uuid4()), MONDAY_8 + 1800 * level, MONDAY_8, level, LIBRARY[exercise])
    )


@pytest.fixture
def ntfy():
    server = NtfyServer()
    yield server
    server.close()


@pytest.fixture
def desktop(tmp_path):
    try:
        session = DesktopSession(tmp_path / "desktop")
    except RuntimeError as error:  # never skip: a missing component is a failure with the fix in it
        pytest.fail(str(error))
    yield session
    session.close()


def test_the_notification_carries_the_exercise_its_dosage_and_its_safety_line():
    prompt = a_prompt(level=1)
    exercise = prompt["exercise"]
    note = notification_for(prompt)
    assert note.title == "Time to stand up: 30 min sitting"
    assert exercise["name"] in note.body and exercise["dosage"] in note.body and exercise["safety"] in note.body
    repeat = notification_for(a_prompt(level=2))
    assert repeat.title == "Still sitting: 60 min (reminder 1)"
    after_meeting = notification_for({**prompt, "waited_for": "meeting"})
    assert after_meeting.body.startswith("This waited for your meeting to end.")


def test_urls_are_redacted_in_every_log_line():
    url = f"ntfys://sitless:{PASSWORD}@ntfy.example.org/{SECRET_TOPIC}"
    assert redact(url) == "ntfys://ntfy.example.org/***"
    assert redact(f"ntfy://{SECRET_TOPIC}") == "ntfy://***"  # ntfy.sh: the "host" is the topic
    assert redact("tgram://123456:ABCDEF/987") == "tgram://***"  # a bot token, not a host name
    record = logging.LogRecord("apprise", logging.INFO, __file__, 1, "POST %s failed for %s", (url, SECRET_TOPIC), None)
    RedactingFilter([url]).filter(record)
    assert SECRET_TOPIC not in record.getMessage() and PASSWORD not in record.getMessage()


def test_apprise_delivers_to_ntfy_with_snooze_and_done_buttons_and_retries_a_failing_server(ntfy, caplog):
    url = f"ntfy://sitless:{PASSWORD}@127.0.0.1:{ntfy.port}/{SECRET_TOPIC}"
    ntfy.fail_next = 2  # the server is overloaded for two requests
    settings = NotifySettings(urls=[url], retries=3, retry_delay_s=0.05)
    notifier = Notifier(settings)
    caplog.set_level(logging.INFO)
    from sitless.alerts.notify import install_redaction

    flt = install_redaction(settings.urls)
    notifier.start()
    prompt = a_prompt()
    started = time.monotonic()
    notifier.submit(prompt)
    assert time.monotonic() - started < 0.05  # the caller never waits for the network
    try:
        (message,) = ntfy.wait_for(SECRET_TOPIC)
    finally:
        notifier.stop()
        for name in ("", "sitless", "apprise"):
            logging.getLogger(name).removeFilter(flt)
    assert prompt["exercise"]["dosage"] in message["message"] and prompt["exercise"]["safety"] in message["message"]
    assert message["title"].startswith("Time to stand up")
    assert [a["label"] for a in message["actions"]] == ["Snooze 15 min", "Done"]
    assert all(a["url"].endswith(f"/{SECRET_TOPIC}-sitless") for a in message["actions"])
    assert len(ntfy.requests) == 3  # two 500s, then delivered
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    for record in caplog.records:
        assert SECRET_TOPIC not in record.getMessage() and PASSWORD not in record.getMessage(), record.getMessage()


def test_a_dead_service_is_given_up_after_the_retries_and_logged(caplog):
    settings = NotifySettings(urls=["ntfy://127.0.0.1:9/" + SECRET_TOPIC], retries=2, retry_delay_s=0.01)
    notifier = Notifier(settings)
    caplog.set_level(logging.INFO)
    notifier.start()
    notifier.submit(a_prompt())
    assert notifier.wait_idle(1, timeout=30)
    notifier.stop()
    assert notifier.failed and not notifier.delivered
    assert any("not delivered" in r.getMessage() and "after 3 attempts" in r.getMessage() for r in caplog.records)


def test_ntfy_buttons_come_back_as_sitless_commands():
    target = ntfy_target(f"ntfys://u:p@ntfy.example.org:8443/{SECRET_TOPIC}")
    assert target.base == "https://ntfy.example.org:8443" and target.topic == SECRET_TOPIC
    assert ntfy_target(f"ntfy://{SECRET_TOPIC}").base == "https://ntfy.sh"
    assert parse_reply("snooze 15 8a0c") == ("snooze", b'{"minutes": 15.0}')
    assert parse_reply("ack 8a0c") == ("ack", b'{"id": "8a0c"}')
    assert parse_reply("rm -rf /") is None


def test_desktop_notification_reaches_a_real_notification_daemon(desktop, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.bus_address)
    notifier = Notifier(NotifySettings(urls=["desktop://"], retries=0))
    notifier.start()
    prompt = a_prompt(level=2, exercise=4)
    notifier.submit(prompt)
    try:
        (shown,) = desktop.wait_shown(1)
    finally:
        notifier.stop()
    assert shown["appname"] == "sitless" and shown["summary"] == "Still sitting: 60 min (reminder 1)"
    assert prompt["exercise"]["dosage"] in shown["body"] and prompt["exercise"]["safety"] in shown["body"]


def test_sitless_notify_sends_each_prompt_once_to_every_url_and_a_tapped_done_acks_it(
    broker, subscribe, ntfy, desktop, tmp_path
):
    device = "nt" + uuid.uuid4().hex[:6]
    topics = topics_for(MqttSettings(), device)
    config = write_config(tmp_path, device, "\n[notify]\nretry_delay_s = 0.1\npoll_s = 0.3\n")
    env = {
        **desktop.environ,
        "SITLESS_NOTIFY_URLS": f"ntfy://sitless:{PASSWORD}@127.0.0.1:{ntfy.port}/{SECRET_TOPIC} desktop://",
    }
    commands = subscribe(broker.port, [topics.cmd("#")])
    notify = subprocess.Popen(
        sitless_command("notify", "--broker", broker.url, "--config", str(config)),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        prompt = a_prompt()
        deadline = time.monotonic() + 15
        while not ntfy.messages(SECRET_TOPIC) and time.monotonic() < deadline:
            publish_raw(broker.port, topics.prompt, dumps(prompt))  # until the subscriber is up; QoS 1 may repeat
            time.sleep(0.5)
        (message,) = ntfy.wait_for(SECRET_TOPIC)
        (shown,) = desktop.wait_shown(1)
        assert shown["summary"] == message["title"]
        done = next(a for a in message["actions"] if a["label"] == "Done")
        requests.post(done["url"], data=done["body"], timeout=5)  # what the ntfy app does on a tap
        ack = commands.wait_for(topics.cmd("ack"), timeout=15)[0]
        assert ack.json() == {"id": prompt["id"]}
        time.sleep(0.5)
        assert len(ntfy.messages(SECRET_TOPIC)) == 1 and len(desktop.shown()) == 1  # duplicates dropped by id
    finally:
        notify.send_signal(signal.SIGTERM)
        try:
            _, err = notify.communicate(timeout=15)
        finally:
            notify.kill()
    assert notify.returncode == 0, err
    assert "sent to ntfy://127.0.0.1/***" in err
    assert SECRET_TOPIC not in err and PASSWORD not in err


def test_sitless_notify_without_urls_says_where_to_put_them(tmp_path):
    done = subprocess.run(
        sitless_command("notify", "--config", str(write_config(tmp_path, "x"))), capture_output=True, text=True
    )
    assert done.returncode == 2 and "[notify] urls" in done.stderr and "SITLESS_NOTIFY_URLS" in done.stderr
