"""Home Assistant MQTT device discovery: one retained config that creates every sitless entity.

Device-based discovery (``<prefix>/device/<id>/config`` with ``dev``, ``o`` and ``cmps``, each
component naming its platform in ``p``) rather than one config per entity, so the device appears (and
can be removed) in one piece. The publisher re-sends it whenever Home Assistant announces ``online`` on
``<prefix>/status``, because a Home Assistant restart with a broker that lost its retained messages
would otherwise forget the device.

Entities: a "sitting" binary sensor, the current sitting spell in minutes, the posture, the battery,
a "prompt" event (the prompt payload carries ``event_type``), and Snooze / Done buttons that publish
to the command topics.
"""

from __future__ import annotations

import json

from sitless.alerts.mqtt import Topics
from sitless.analysis.postures import Posture

ORIGIN = {"name": "sitless"}


def discovery_topic(device_id: str, discovery_prefix: str = "homeassistant") -> str:
    return f"{discovery_prefix}/device/sitless_{device_id}/config"


def discovery_config(topics: Topics, device_id: str, *, sw_version: str, name: str | None = None) -> dict:
    uid = f"sitless_{device_id}"
    state = topics.state
    components = {
        "sitting": {
            "p": "binary_sensor",
            "name": "Sitting",
            "device_class": "occupancy",
            "state_topic": state,
            "value_template": "{{ 'ON' if value_json.sitting else 'OFF' }}",
            "icon": "mdi:seat",
        },
        "sitting_spell": {
            "p": "sensor",
            "name": "Sitting spell",
            "state_topic": state,
            "value_template": "{{ (value_json.sitting_spell_s / 60) | round(1) }}",
            "unit_of_measurement": "min",
            "device_class": "duration",
            "state_class": "measurement",
        },
        "posture": {
            "p": "sensor",
            "name": "Posture",
            "state_topic": state,
            "value_template": "{{ value_json.posture }}",
            "device_class": "enum",
            "options": [p.label for p in Posture],
        },
        "battery": {
            "p": "sensor",
            "name": "Battery",
            "state_topic": state,
            "value_template": "{{ value_json.battery }}",
            "unit_of_measurement": "%",
            "device_class": "battery",
            "state_class": "measurement",
            "entity_category": "diagnostic",
        },
        "prompt": {
            "p": "event",
            "name": "Stand-up prompt",
            "state_topic": topics.prompt,
            "event_types": ["prompt"],
            "icon": "mdi:human-handsup",
        },
        "snooze": {
            "p": "button",
            "name": "Snooze",
            "command_topic": topics.cmd("snooze"),
            "payload_press": "PRESS",
            "icon": "mdi:alarm-snooze",
        },
        "done": {
            "p": "button",
            "name": "Done",
            "command_topic": topics.cmd("ack"),
            "payload_press": "PRESS",
            "icon": "mdi:check",
        },
    }
    for key, component in components.items():
        component["unique_id"] = f"{uid}_{key}"
        component["object_id"] = f"{uid}_{key}"
    return {
        "dev": {
            "ids": [uid],
            "name": name or f"sitless {device_id}",
            "mf": "sitless",
            "mdl": "thigh posture monitor",
            "sw": sw_version,
        },
        "o": {**ORIGIN, "sw": sw_version},
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "cmps": components,
    }


def discovery_messages(
    topics: Topics, device_id: str, *, sw_version: str, discovery_prefix: str = "homeassistant"
) -> list[tuple[str, str]]:
    """(topic, payload) pairs to publish retained."""
    payload = discovery_config(topics, device_id, sw_version=sw_version)
    return [(discovery_topic(device_id, discovery_prefix), json.dumps(payload, separators=(",", ":")))]
