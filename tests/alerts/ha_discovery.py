"""Home Assistant's MQTT device-discovery schema, written out as Home Assistant documents it.

Why not Home Assistant's own code: its schemas live in ``homeassistant.components.mqtt``
(``abbreviations.py`` and each platform's ``DISCOVERY_SCHEMA``) and import Home Assistant core. The
release the issue was checked with, 2026.11, requires Python >= 3.14.2 (every release since 2026.3 does);
the newest Python on these machines is 3.13.0, on which PyPI offers at most 2025.4.4, a release from
before ``object_id`` was even deprecated, so it could not check what matters here. A plain
``pip install homeassistant`` in a Python 3.13 virtualenv spent its ten minutes backtracking through
versions without installing anything. Either way far beyond this suite's budget of seconds.
So the schema is written here from the documentation of the MQTT integration (integrations/mqtt,
"Discovery" and each platform page, 2026.11): abbreviations expanded, then each component checked
against its platform's options, requireds and value rules (the sensor rules of HA's sensor/__init__.py).
No Home Assistant has run these exact payloads; the issue's run of a real core did run the earlier ones.

It is stricter than Home Assistant in one way on purpose: Home Assistant drops keys it does not know
(``extra=REMOVE_EXTRA``), which is exactly how a removed option such as ``object_id`` went unnoticed
(removed in 2026.4, the entity silently got another id). Here an unknown key is an error.
"""

from __future__ import annotations

import re

#: homeassistant/components/mqtt/abbreviations.py, the keys sitless may use (and a few neighbours).
ABBREVIATIONS = {
    "act_t": "action_topic",
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "cmps": "components",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "evt_typ": "event_types",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "o": "origin",
    "obj_id": "object_id",
    "opt": "optimistic",
    "ops": "options",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_off": "state_off",
    "stat_on": "state_on",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections",
    "cu": "configuration_url",
    "hw": "hw_version",
    "ids": "identifiers",
    "mdl": "model",
    "mdl_id": "model_id",
    "mf": "manufacturer",
    "sa": "suggested_area",
    "sn": "serial_number",
    "sw": "sw_version",
    "via_device": "via_device",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url"}

#: Options every MQTT entity takes (the "availability", "device", "entity" parts of each platform page).
ENTITY_OPTIONS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "payload_available", "payload_not_available", "default_entity_id", "enabled_by_default",
    "encoding", "entity_category", "entity_picture", "icon", "json_attributes_template",
    "json_attributes_topic", "name", "platform", "qos", "unique_id",
}  # fmt: skip
#: Per platform: (required, optional) beyond ENTITY_OPTIONS.
PLATFORMS = {
    "binary_sensor": (
        {"state_topic"},
        {"device_class", "expire_after", "force_update", "off_delay", "payload_on", "payload_off",
         "value_template"},
    ),
    "sensor": (
        {"state_topic"},
        {"device_class", "expire_after", "force_update", "last_reset_value_template", "options",
         "state_class", "suggested_display_precision", "unit_of_measurement", "value_template"},
    ),
    "event": ({"state_topic", "event_types"}, {"device_class", "value_template"}),
    "button": (
        {"command_topic"}, {"command_template", "device_class", "payload_press", "retain"},
    ),
    "switch": (
        {"command_topic"},
        {"command_template", "device_class", "optimistic", "payload_on", "payload_off", "retain",
         "state_off", "state_on", "state_topic", "value_template"},
    ),
}  # fmt: skip
#: Options a device-discovery message may set once for all its components (MQTT docs, "Device discovery").
SHARED_OPTIONS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "payload_available", "payload_not_available", "command_topic", "state_topic", "encoding", "qos",
}  # fmt: skip
DEVICE_CLASSES = {
    "binary_sensor": {
        "battery", "battery_charging", "connectivity", "moving", "motion", "occupancy", "presence",
        "problem", "running",
    },
    "sensor": {"battery", "date", "duration", "enum", "timestamp", "power", "temperature", "voltage"},
    "event": {"button", "doorbell", "motion"},
    "button": {"identify", "restart", "update"},
    "switch": {"outlet", "switch"},
}  # fmt: skip
NON_NUMERIC_SENSOR_CLASSES = {"date", "enum", "timestamp"}
#: Units Home Assistant accepts per sensor device class (sensor/const.py DEVICE_CLASS_UNITS).
DEVICE_CLASS_UNITS = {"duration": {"d", "h", "min", "s", "ms", "µs"}, "battery": {"%"}}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
ENTITY_CATEGORIES = {"config", "diagnostic"}
NODE_ID = re.compile(r"[a-zA-Z0-9_-]+")
ENTITY_ID = re.compile(r"([a-z0-9_]+)\.([a-z0-9_]+)")
#: Options Home Assistant has removed: a payload that still sends one is broken (the key is ignored).
REMOVED = {"object_id": "removed in 2026.4: use default_entity_id ('<platform>.<object id>')"}


class DiscoveryError(AssertionError):
    pass


def _expand(mapping: dict, table: dict) -> dict:
    return {table.get(key, key): value for key, value in mapping.items()}


def check_topic(topic: str, discovery_prefix: str = "homeassistant") -> str:
    """``<prefix>/device/<node id>/config``; returns the node id."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != discovery_prefix or parts[1] != "device" or parts[3] != "config":
        raise DiscoveryError(f"{topic}: not a device discovery topic")
    if not NODE_ID.fullmatch(parts[2]):
        raise DiscoveryError(f"{topic}: illegal discovery topic (node id must match [a-zA-Z0-9_-]+)")
    return parts[2]


def validate_device_config(payload: dict) -> dict:
    """Expand and check one device-discovery payload; returns the expanded components by key.

    Raises ``DiscoveryError`` naming the component and the option that Home Assistant would refuse or
    ignore.
    """
    config = _expand(payload, ABBREVIATIONS)
    for key in ("device", "origin", "components"):
        if key not in config:
            raise DiscoveryError(f"device discovery needs {key!r}")
    device = _expand(config["device"], DEVICE_ABBREVIATIONS)
    if unknown := set(device) - set(DEVICE_ABBREVIATIONS.values()) - {"name"}:
        raise DiscoveryError(f"device: unknown option(s) {sorted(unknown)}")
    if not (device.get("identifiers") or device.get("connections")):
        raise DiscoveryError("device needs identifiers or connections")
    origin = _expand(config["origin"], ORIGIN_ABBREVIATIONS)
    if "name" not in origin or set(origin) - {"name", "sw_version", "support_url"}:
        raise DiscoveryError(f"origin must have a name and only sw_version/support_url besides: {origin}")
    if "support_url" in origin and not re.match(r"https?://", origin["support_url"]):
        raise DiscoveryError(f"origin support_url {origin['support_url']!r} is not a URL")
    shared = {k: v for k, v in config.items() if k not in ("device", "origin", "components")}
    if unknown := set(shared) - SHARED_OPTIONS:
        raise DiscoveryError(f"device discovery: unknown shared option(s) {sorted(unknown)}")
    if not isinstance(config["components"], dict) or not config["components"]:
        raise DiscoveryError("components must be a non-empty map of component id -> config")
    expanded = {}
    unique_ids: set[str] = set()
    for key, raw in config["components"].items():
        component = _expand(raw, ABBREVIATIONS)
        expanded[key] = validate_component(key, {**shared, **component})
        uid = component.get("unique_id")
        if uid is None or uid in unique_ids:
            raise DiscoveryError(f"{key}: every component needs its own unique_id (got {uid!r})")
        unique_ids.add(uid)
    return expanded


def validate_component(key: str, component: dict) -> dict:
    platform = component.get("platform")
    if platform not in PLATFORMS:
        raise DiscoveryError(f"{key}: platform {platform!r} is not one of {sorted(PLATFORMS)}")
    for removed, why in REMOVED.items():
        if removed in component:
            raise DiscoveryError(f"{key}: {removed!r} {why}")
    required, optional = PLATFORMS[platform]
    if missing := required - set(component):
        raise DiscoveryError(f"{key} ({platform}): missing required option(s) {sorted(missing)}")
    allowed = required | optional | ENTITY_OPTIONS | SHARED_OPTIONS
    if unknown := set(component) - allowed:
        raise DiscoveryError(f"{key} ({platform}): option(s) {sorted(unknown)} are not {platform} options")
    if "default_entity_id" in component:
        match = ENTITY_ID.fullmatch(component["default_entity_id"])
        if not match or match.group(1) != platform:
            raise DiscoveryError(
                f"{key}: default_entity_id {component['default_entity_id']!r} must be '{platform}.<slug>'"
            )
    device_class = component.get("device_class")
    if device_class is not None and device_class not in DEVICE_CLASSES[platform]:
        raise DiscoveryError(f"{key}: device_class {device_class!r} is not a {platform} device class")
    if component.get("entity_category", "config") not in ENTITY_CATEGORIES:
        raise DiscoveryError(f"{key}: entity_category must be one of {sorted(ENTITY_CATEGORIES)}")
    if component.get("qos", 0) not in (0, 1, 2):
        raise DiscoveryError(f"{key}: qos must be 0, 1 or 2")
    if platform == "sensor":
        _check_sensor(key, component)
    if platform == "event":
        types = component["event_types"]
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise DiscoveryError(f"{key}: event_types must be a non-empty list of strings")
    return component


def _check_sensor(key: str, sensor: dict) -> None:
    """The value rules of sensor/__init__.py (validate_sensor_state_and_device_class_config)."""
    device_class, state_class = sensor.get("device_class"), sensor.get("state_class")
    unit, options = sensor.get("unit_of_measurement"), sensor.get("options")
    if state_class is not None and state_class not in STATE_CLASSES:
        raise DiscoveryError(f"{key}: state_class {state_class!r} is not one of {sorted(STATE_CLASSES)}")
    if device_class in NON_NUMERIC_SENSOR_CLASSES and (state_class or unit):
        raise DiscoveryError(f"{key}: a {device_class} sensor takes no state_class or unit_of_measurement")
    if options is not None:
        if device_class not in (None, "enum"):
            raise DiscoveryError(f"{key}: options are only for an enum sensor")
        if not isinstance(options, list) or not options or len(set(options)) != len(options):
            raise DiscoveryError(f"{key}: options must be a non-empty list without repeats")
        if clash := {"unknown", "unavailable"} & set(options):
            raise DiscoveryError(
                f"{key}: option(s) {sorted(clash)} cannot be told from Home Assistant's own state"
            )
    if device_class == "enum" and not options:
        raise DiscoveryError(f"{key}: an enum sensor needs options")
    if device_class in DEVICE_CLASS_UNITS and unit not in DEVICE_CLASS_UNITS[device_class]:
        raise DiscoveryError(f"{key}: unit {unit!r} is not valid for device_class {device_class!r}")
