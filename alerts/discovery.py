"""Home Assistant MQTT device discovery: one retained config that creates every sitless entity.

Device-based discovery (``<prefix>/device/<node id>/config`` with ``dev``, ``o`` and ``cmps``, each
component naming its platform in ``p``) rather than one config per entity, so the device appears (and
can be removed) in one piece. The publisher re-sends it whenever Home Assistant announces ``online`` on
``<prefix>/status``, because a Home Assistant restart with a broker that lost its retained messages
would otherwise forget the device.

Entities: a "sitting" binary sensor, the current sitting spell in minutes, the posture, the battery,
"snoozed until" and "do not disturb until" (timestamp sensors), prompts heeded today (its attributes
the last outcome), a "prompt" event
(the prompt payload carries ``event_type``), Snooze / Done buttons and a Do-not-disturb switch that
publish to the command topics.

Checked against Home Assistant 2026.11 (its MQTT discovery docs and a real core in the issue's test):
- ``default_entity_id`` (``"<platform>.<object id>"``) names the entity; ``object_id`` was removed in
  2026.4 and is silently dropped (the entity then gets a name-derived id).
- A discovery topic's node id may only hold ``[a-zA-Z0-9_-]`` ("illegal discovery topic" otherwise), so
  it is derived from the device id, not the device id itself (``discovery_node_id``).
- An ``enum`` sensor whose option is ``unknown`` cannot be told from Home Assistant's own ``unknown``
  state; sitless's "no data" posture is published to it as ``no_data``.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata

from sitless.alerts.mqtt import Topics
from sitless.analysis.postures import Posture

ORIGIN_NAME = "sitless"
#: The posture enum sensor's name for Posture.UNKNOWN (no samples), distinct from HA's "unknown" state.
NO_DATA_OPTION = "no_data"
#: Home Assistant's rule for the node id in a discovery topic (homeassistant/components/mqtt/discovery.py).
NODE_ID_ALLOWED = re.compile(r"[a-zA-Z0-9_-]+")


def discovery_node_id(device_id: str) -> str:
    """``sitless_<device id>`` if that is a valid node id; otherwise the invalid characters become ``_``
    and a short hash of the original keeps two ids that differ only there ("my.desk", "my:desk") apart."""
    node = f"sitless_{device_id}"
    if NODE_ID_ALLOWED.fullmatch(node):
        return node
    cleaned = re.sub(r"[^a-zA-Z0-9_-]+", "_", node).strip("_")
    # surrogatepass: a str may hold a lone surrogate (hypothesis finds it); it must hash, not raise.
    digest = hashlib.sha1(device_id.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{cleaned}_{digest}"


def _object_id(text: str) -> str:
    """Entity ids are lower-case slugs (``[a-z0-9_]``)."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def support_url() -> str | None:
    """Where users get help, for the device page's origin info: the distribution's ``Issues`` (else
    ``Homepage``) project URL from pyproject.toml; None when the installed metadata names none."""
    try:
        entries = metadata.metadata("sitless").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    urls = dict(entry.split(", ", 1) for entry in entries if ", " in entry)
    return urls.get("Issues") or urls.get("Homepage")


def discovery_topic(device_id: str, discovery_prefix: str = "homeassistant") -> str:
    return f"{discovery_prefix}/device/{discovery_node_id(device_id)}/config"


def _timestamp_template(field: str) -> str:
    # A JSON null renders as HA's "None" payload, which a sensor takes as "unknown" (nothing set).
    return f"{{{{ value_json.{field} or 'None' }}}}"


def discovery_config(
    topics: Topics,
    device_id: str,
    *,
    sw_version: str,
    name: str | None = None,
    origin_url: str | None = None,
) -> dict:
    uid = discovery_node_id(device_id)
    state = topics.state
    posture_options = [NO_DATA_OPTION if p is Posture.UNKNOWN else p.label for p in Posture]
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
            "value_template": (
                f"{{{{ '{NO_DATA_OPTION}' if value_json.posture == 'unknown' else value_json.posture }}}}"
            ),
            "device_class": "enum",
            "options": posture_options,
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
        "snoozed_until": {
            "p": "sensor",
            "name": "Snoozed until",
            "state_topic": state,
            "value_template": _timestamp_template("snoozed_until"),
            "device_class": "timestamp",
            "icon": "mdi:alarm-snooze",
        },
        "dnd_until": {
            "p": "sensor",
            "name": "Do not disturb until",
            "state_topic": state,
            "value_template": _timestamp_template("dnd_until"),
            "device_class": "timestamp",
            "icon": "mdi:bell-off",
        },
        "heeded_today": {
            "p": "sensor",
            "name": "Prompts heeded today",
            "state_topic": state,
            "value_template": "{{ value_json.prompts_heeded_today }}",
            "unit_of_measurement": "prompts",
            "state_class": "total_increasing",  # back to 0 at midnight: HA reads a drop as a reset
            "json_attributes_topic": topics.prompt_outcome,
            "icon": "mdi:human-greeting",
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
        "dnd": {
            "p": "switch",
            "name": "Do not disturb",
            "command_topic": topics.cmd("dnd"),
            "payload_on": "ON",
            "payload_off": "OFF",
            "state_topic": state,
            "value_template": "{{ 'ON' if value_json.dnd_until else 'OFF' }}",
            "icon": "mdi:bell-off",
        },
    }
    for key, component in components.items():
        component["unique_id"] = f"{uid}_{key}"
        component["default_entity_id"] = f"{component['p']}.{_object_id(f'{uid}_{key}')}"
    return {
        "dev": {
            "ids": [uid],
            "name": name or f"sitless {device_id}",
            "mf": "sitless",
            "mdl": "thigh posture monitor",
            "sw": sw_version,
        },
        # "url" abbreviates origin.support_url; Home Assistant links it from the device page.
        "o": {"name": ORIGIN_NAME, "sw": sw_version, **({"url": origin_url} if origin_url else {})},
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
    payload = discovery_config(topics, device_id, sw_version=sw_version, origin_url=support_url())
    return [(discovery_topic(device_id, discovery_prefix), json.dumps(payload, separators=(",", ":")))]


def removal_messages(device_id: str, discovery_prefix: str = "homeassistant") -> list[tuple[str, str]]:
    """An empty retained payload on the config topic: Home Assistant removes the device and the broker
    forgets the retained config."""
    return [(discovery_topic(device_id, discovery_prefix), "")]
