"""Retained messages published once and acknowledged, or cleared: for one-off publishers (``sitless
report --publish``, the demo cleaning up). Re-exported by ``sitless.alerts.mqtt``."""

from __future__ import annotations

import os
import threading
import time

from sitless.alerts.mqtt_config import (
    MqttError,
    MqttSettings,
    describe_connect_error,
    describe_refusal,
    make_client,
)


def publish_retained(settings: MqttSettings, topic: str, payload: str, *, timeout: float = 10.0) -> None:
    """Connect, publish one retained QoS 1 message, wait for the broker's ack, disconnect.

    For one-off publishers (the weekly report). Uses its own client id and a clean session so it never
    takes over the daemon's session.
    """
    publish_retained_messages(settings, [(topic, payload)], timeout=timeout)


def clear_retained(settings: MqttSettings, topics: list[str], *, timeout: float = 10.0) -> None:
    """Make the broker forget the retained messages on ``topics`` (an empty retained payload, MQTT 5.0
    section 3.3.1.3); for the discovery topic Home Assistant also removes the device."""
    publish_retained_messages(settings, [(topic, "") for topic in topics], timeout=timeout)


def publish_retained_messages(
    settings: MqttSettings, messages: list[tuple[str, str]], *, timeout: float = 10.0
) -> None:
    """``publish_retained`` for several messages over one connection, each acknowledged."""
    settings = settings.with_environment()
    client_id = f"{settings.client_id or 'sitless'}-oneshot-{os.getpid()}"
    client, address, _properties = make_client(settings, client_id, persistent=False)
    refused: list[str] = []
    answered = threading.Event()

    def on_connect(client, userdata, flags, reason_code, props) -> None:
        if reason_code.is_failure:
            refused.append(describe_refusal(reason_code, address, settings.username))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, settings.keepalive_s)
    except Exception as error:  # noqa: BLE001
        raise MqttError(describe_connect_error(error, address)) from None
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise MqttError(f"{address}: no answer to CONNECT within {timeout:.0f} s")
        if refused:
            raise MqttError(refused[0])
        sent = [(topic, client.publish(topic, payload, qos=1, retain=True)) for topic, payload in messages]
        deadline = time.monotonic() + timeout
        while not all(info.is_published() for _, info in sent) and time.monotonic() < deadline:
            time.sleep(0.02)
        for topic, info in sent:
            if not info.is_published():
                raise MqttError(f"{address}: no acknowledgement for {topic} within {timeout:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
