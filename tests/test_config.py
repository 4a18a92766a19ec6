"""Configuration errors name the file, the table and the key, so a user can fix them without reading code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sitless.config import ConfigError, load_config


@dataclass(frozen=True)
class ExampleSettings:
    sit_limit_min: float = 30.0
    working_days: str = "Mon-Fri"
    repeat: int = 2
    adapter: str | None = None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_table_keeps_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[store]\nkeep_raw_days = 1\n"))
    assert config.section("alerts", ExampleSettings) == ExampleSettings()


def test_a_mistyped_table_is_named_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown table \[alert\] \(known tables: \[sensor\], \[alerts\]"):
        load_config(write(tmp_path, "[alert]\nsit_limit_min = 20\n"))


def test_a_table_given_as_a_plain_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"alerts must be a table \[alerts\], got int"):
        load_config(write(tmp_path, "alerts = 5\n"))


def test_a_binary_config_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_values_are_read_and_ints_widen_to_floats(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[alerts]\nsit_limit_min = 45\nadapter = "hci1"\n'))
    settings = config.section("alerts", ExampleSettings)
    assert settings.sit_limit_min == 45.0 and isinstance(settings.sit_limit_min, float)
    assert settings.adapter == "hci1"


def test_unknown_key_is_named_with_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "[alerts]\nsit_limit_mins = 45\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path).section("alerts", ExampleSettings)
    message = str(caught.value)
    assert str(path) in message and "[alerts]" in message and "'sit_limit_mins'" in message
    assert "sit_limit_min" in message.split("known keys:")[1]


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[alerts\] repeat: expected int, got 'two'"):
        load_config(write(tmp_path, '[alerts]\nrepeat = "two"\n')).section("alerts", ExampleSettings)


def test_bool_is_not_accepted_as_a_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected int"):
        load_config(write(tmp_path, "[alerts]\nrepeat = true\n")).section("alerts", ExampleSettings)


def test_broken_toml_names_the_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[alerts\nsit_limit_min = 30\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_config(path)


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_without_a_default_file_sitless_runs_on_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SITLESS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "absent"))
    assert load_config().tables == {}


def test_a_sitless_config_variable_naming_no_file_is_an_error_like_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 12: SITLESS_CONFIG=/nope used to be ignored without a word."""
    monkeypatch.setenv("SITLESS_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"config file .*nope.toml \(from SITLESS_CONFIG\) does not exist"):
        load_config()


@pytest.mark.parametrize("device_id", ["a/#", "+", "desk/2", ""])
def test_a_device_id_that_cannot_name_mqtt_topics_is_a_config_error(tmp_path: Path, device_id: str) -> None:
    from sitless.alerts.mqtt import MqttSettings

    config = load_config(write(tmp_path, f'[mqtt]\ndevice_id = "{device_id}"\n'))
    with pytest.raises(ConfigError, match=r"\[mqtt\]: device_id .* cannot name MQTT topics"):
        config.section("mqtt", MqttSettings)
