"""``sitless notify``: an MQTT subscriber that sends every prompt to push services and the desktop (apprise).

Why a separate subscriber and not a step inside the daemon: delivery to a push service is slow and
fallible HTTP (seconds, retries with back-off) and must never hold up the daemon's one data-ordered task
(classifier, store, policy, outbox); as a subscriber it needs no wiring into the daemon at all, sees
exactly what a phone sees (the prompts that reached the broker, after the outbox delivered them), and can
run where the push credentials live (a home server) while the daemon runs at the desk, or on the desk
machine itself for desktop notifications. What it costs: one more process, and no notification while
the broker is unreachable; a persistent MQTT session (QoS 1) delivers the prompts queued meanwhile
once it is back.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import replace

from sitless.cli import CommandError
from sitless.commands._options import add_broker_option, add_config_option

log = logging.getLogger(__name__)

DESCRIPTION = """\
Send every stand-up prompt (and its repeats) to push services and the desktop, through apprise.

It subscribes to sitless/<device_id>/prompt on the broker the daemon publishes to, so it can run on the
same machine as `sitless run` or on any other. Each prompt goes to each URL of [notify] urls with the
exercise, its dosage and its safety line; a failed delivery is retried and logged. ntfy notifications
carry Snooze and Done buttons that come back to sitless as MQTT commands.

URLs hold secrets (tokens, passwords, ntfy topics): put them in the config file (chmod 600) or in
SITLESS_NOTIFY_URLS (whitespace-separated), never on the command line; logs show them redacted.
"""

EPILOG = """\
config file (~/.config/sitless/config.toml):
  [mqtt]
  url = "mqtt://localhost:1883"
  device_id = "desk"

  [notify]
  urls = [
    "ntfys://ntfy.sh/my-long-secret-topic",   # the ntfy app on your phone subscribes to this topic
    "desktop://",                            # this machine's notification daemon (GNOME, KDE, dunst, ...)
  ]
  # retries = 3            each failed delivery, with delays of retry_delay_s, doubling
  # retry_delay_s = 5
  # ntfy_reply_topic = "my-long-secret-topic-sitless"   where the Snooze / Done buttons post
  # snooze_min = 15

examples:
  sitless notify                   run until stopped (Ctrl-C or SIGTERM)
  sitless notify --test            send one sample prompt to every URL and exit (0 if all got it)
"""

#: Prompt ids remembered to drop the duplicates QoS 1 allows.
SEEN_IDS = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "notify",
        help="send prompts to push services and the desktop (apprise), as an MQTT subscriber",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    add_broker_option(parser, "where the daemon publishes its prompts")
    parser.add_argument(
        "--test", action="store_true", help="send one sample prompt to every URL and exit (0 if all got it)"
    )
    parser.set_defaults(func=main)


def load(args: argparse.Namespace):
    from sitless.alerts.mqtt import MqttSettings, default_device_id
    from sitless.alerts.notify import NotifySettings
    from sitless.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        mqtt = config.section("mqtt", MqttSettings)
        notify = config.section("notify", NotifySettings).with_environment()
    except (ConfigError, ValueError) as error:
        raise CommandError(str(error)) from None
    if args.broker:
        try:
            mqtt = replace(mqtt, url=args.broker)
            MqttSettings(**mqtt.__dict__)
        except ValueError as error:
            raise CommandError(f"--broker: {error}") from None
    if not notify.urls:
        raise CommandError(
            "no notification URLs: set [notify] urls in the config file or SITLESS_NOTIFY_URLS "
            "(e.g. ntfys://ntfy.sh/<your topic>, desktop://); see sitless notify --help"
        )
    return mqtt, notify, default_device_id(mqtt)


def sample_prompt() -> dict:
    from sitless.alerts.exercises import LIBRARY

    return {
        "id": "00000000-0000-5000-8000-000000000000",
        "event_type": "prompt",
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "sitting_min": 30.0,
        "level": 1,
        "after_snooze": False,
        "exercise": LIBRARY[0].to_json(),
        "test": True,
    }


def main(args: argparse.Namespace) -> int:
    from sitless.alerts.notify import Notifier, NtfyReplies, install_redaction

    mqtt, notify_settings, device_id = load(args)
    install_redaction(notify_settings.urls + [u for u in (mqtt.password,) if u])
    try:
        notifier = Notifier(notify_settings)
    except ValueError as error:
        raise CommandError(str(error)) from None
    notifier.start()
    if args.test:
        notifier.submit(sample_prompt())
        notifier.wait_idle(len(notify_settings.urls), timeout=60 + notify_settings.retry_delay_s * 8)
        notifier.stop()
        print(f"sent to {len(notifier.delivered)} of {len(notify_settings.urls)} URL(s)")
        return 0 if len(notifier.delivered) == len(notify_settings.urls) else 1
    if mqtt.url is None:
        raise CommandError("no broker: set [mqtt] url or pass --broker mqtt://host:port")
    commands: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    replies = NtfyReplies(notify_settings, lambda name, payload: commands.put((name, payload)))
    try:
        subscriber = PromptSubscriber(mqtt, device_id, notifier.submit, commands)
    except Exception as error:  # noqa: BLE001 - MqttError and bad settings: one clear line
        raise CommandError(str(error)) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    replies.start()
    log.info(
        "notify: sending prompts of %s from %s to %d URL(s)", device_id, subscriber.address, len(notify_settings.urls)
    )
    try:
        subscriber.run(stop)
    finally:
        replies.stop()
        notifier.stop()
    return 0


class PromptSubscriber:
    """One paho client owned by the calling thread: receives prompts, publishes button presses."""

    def __init__(self, mqtt, device_id: str, on_prompt, commands: queue.SimpleQueue) -> None:
        from sitless.alerts.mqtt import make_client, topics_for

        self.topics = topics_for(mqtt, device_id)
        self.mqtt = mqtt.with_environment()
        self.on_prompt = on_prompt
        self.commands = commands
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.client, self.address, props = make_client(self.mqtt, f"sitless-notify-{device_id}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        kwargs = {"clean_start": False, "properties": props} if props else {}
        self.client.connect_async(self.address.host, self.address.port, self.mqtt.keepalive_s, **kwargs)
        self.connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("notify: %s refused the connection: %s", self.address, reason_code)
            return
        self.connected = True
        client.subscribe(self.topics.prompt, qos=1)
        log.info("notify: subscribed to %s", self.topics.prompt)

    def _on_message(self, client, userdata, message) -> None:
        try:
            prompt = json.loads(message.payload)
            prompt_id = str(prompt["id"])
        except (ValueError, KeyError, TypeError):
            log.warning("notify: ignored a message on %s that is not a sitless prompt", message.topic)
            return
        if prompt_id in self.seen:  # QoS 1 may deliver twice
            return
        self.seen[prompt_id] = None
        while len(self.seen) > SEEN_IDS:
            self.seen.popitem(last=False)
        self.on_prompt(prompt)

    def run(self, stop: threading.Event) -> None:
        from paho.mqtt.enums import MQTTErrorCode

        backoff, socket_open = 1.0, False
        while not stop.is_set():
            if not socket_open:
                try:
                    self.client.reconnect()
                    socket_open = True
                except OSError as error:
                    log.warning("notify: cannot reach %s (%s); retrying in %.0f s", self.address, error, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30)
                    continue
            if self.client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                socket_open, self.connected = False, False
                log.warning("notify: lost the connection to %s; reconnecting", self.address)
                continue
            backoff = 1.0
            while self.connected:
                try:
                    name, payload = self.commands.get_nowait()
                except queue.Empty:
                    break
                self.client.publish(self.topics.cmd(name), payload, qos=1)
                log.info("notify: a %s button was pressed; sent to %s", name, self.topics.cmd(name))
        if socket_open:
            self.client.disconnect()
