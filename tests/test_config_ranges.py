"""Every number in the config has a finite, documented range, checked when the file is read (issue 13 item 11).

Each hostile value below used to be accepted and fail later (an overflow on every chunk, a standing
that never ends a spell, an MQTT client retrying forever); now loading names the file, the table, the
key and the allowed range.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sitless.alerts.mqtt import MqttSettings
from sitless.alerts.policy import AlertSettings
from sitless.analysis.classify import ClassifierSettings
from sitless.analysis.setting_ranges import field_ranges
from sitless.daemon import load_settings
from sitless.errors import UserError
from sitless.firmware_bridge.ble_common import SensorSettings
from sitless.store import StoreSettings
from tests.alerts.helpers import sitless

ROOT = Path(__file__).resolve().parents[1]
TABLES = {
    "alerts": AlertSettings,
    "mqtt": MqttSettings,
    "store": StoreSettings,
    "classifier": ClassifierSettings,
    "sensor": SensorSettings,
}

HOSTILE = [
    # (table, line, what the message must also say)
    ("classifier", "nonwear_still_min = -5", "from 0.1 to 1440 min, got -5"),
    ("classifier", "nonwear_still_min = 1000000000000", "from 0.1 to 1440 min"),
    ("mqtt", 'discovery_prefix = "home/#"', "cannot name MQTT topics"),
    ("mqtt", "keepalive_s = 100000", "from 5 to 65535 s"),
    ("mqtt", "session_expiry_s = 99999999999", "from 0 to 4294967295 s"),
    ("mqtt", f'device_id = "{"d" * 70_000}"', "at most 64"),
    ("alerts", 'timezone = ""', "names no zone"),
    ("alerts", "sit_limit_min = inf", "finite number from 0.1 to 720 min"),
    ("alerts", "sit_limit_min = 1e308", "from 0.1 to 720 min"),
    ("alerts", 'working_hours = "24:00-00:00"', "cannot start at 24:00"),
    ("alerts", "break_min_s = nan", "finite number from 0 to 3600 s"),
    ("alerts", "gap_bridge_s = nan", "finite number from 0 to 3600 s"),
    ("alerts", "repeat_every_min = nan", "finite number from 0 to 720 min"),
    ("alerts", "snooze_min = nan", "finite number from 1 to 1440 min"),
    ("alerts", "snooze_min = 0", "from 1 to 1440 min, got 0"),
    ("alerts", "snooze_min = 1e9", "from 1 to 1440 min"),
    ("alerts", "max_repeats = 2.5", "expected int, got 2.5 (allowed: 0 to 100)"),
]


@pytest.mark.parametrize(("table", "line", "needle"), HOSTILE, ids=[h[1][:30] for h in HOSTILE])
def test_a_hostile_value_is_refused_at_load_naming_file_table_key_and_range(
    tmp_path: Path, table: str, line: str, needle: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[{table}]\n{line}\n")
    with pytest.raises(UserError) as caught:
        settings = load_settings(path)
        if table == "sensor":
            settings.config.section("sensor", SensorSettings)
    message = str(caught.value)
    key = line.split("=")[0].strip()
    assert str(path) in message and f"[{table}]" in message and key in message, message
    assert needle in message, message
    assert len(message) < 400, "an error quotes at most a little of the value"


def test_toml_nested_thousands_deep_is_a_clear_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(UserError, match=f"{re.escape(str(path))}: nested too deeply"):
        load_settings(path)


@pytest.mark.fault
def test_the_cli_reports_an_out_of_range_value_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[alerts]\nsit_limit_min = inf\n")
    (tmp_path / "day.csv").write_text("t,x,y,z\n")
    done = sitless(
        "replay", str(tmp_path / "day.csv"), "--config", str(config), "--store", str(tmp_path / "s.db")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"{config}: [alerts] sit_limit_min = inf: must be a finite number from 0.1 to 720 min" in line
    assert not (tmp_path / "s.db").exists()


def test_the_defaults_are_inside_their_ranges() -> None:
    for cls in TABLES.values():
        defaults = cls()
        for name, allowed in field_ranges(cls).items():
            assert allowed.problem(getattr(defaults, name)) is None, (cls.__name__, name)


def test_every_numeric_setting_has_a_range() -> None:
    for table, cls in TABLES.items():
        ranged = field_ranges(cls)
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float", int, float):
                assert f.name in ranged, f"[{table}] {f.name} has no range"


def test_docs_list_every_range_as_the_code_defines_it() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for table, cls in TABLES.items():
        for name, allowed in field_ranges(cls).items():
            row = f"| `[{table}]` | `{name}` | {allowed.describe()} |"
            assert row in text, f"docs/configuration.md lacks: {row}"
