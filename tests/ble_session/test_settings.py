"""The [sensor] table: documented defaults, the reconnect backoff, and a do-it-yourself board's profile."""

from __future__ import annotations

import pytest

from sitless.config import ConfigError, load_config
from sitless.firmware_bridge.ble_common import SensorSettings, generic_profile


def test_reconnect_backoff_doubles_from_1_s_and_is_capped_at_30_s():
    settings = SensorSettings()
    assert [settings.backoff_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_defaults_are_the_documented_ones():
    settings = SensorSettings()
    assert (settings.family, settings.address, settings.adapter) == (None, None, None)
    assert (settings.rate_hz, settings.low_battery_percent, settings.watchdog_s) == (25.0, 15, 10.0)


def test_a_sensor_table_with_a_generic_board_profile_builds_from_toml(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[sensor]\naddress = "C0:FF:EE:00:00:01"\nadapter = "hci1"\nrate_hz = 50\n'
        "[sensor.options]\n\n"
        '[sensor.generic]\nservice_uuid = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"\n'
        'characteristic_uuid = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"\nstruct_format = "<hhh"\nscale = 0.000244\n'
    )

    settings = load_config(path).section("sensor", SensorSettings)

    assert settings.adapter == "hci1" and settings.rate_hz == 50.0
    profile = generic_profile(settings)
    assert profile.characteristic_uuid == "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


def test_a_typo_in_the_sensor_table_is_reported_with_the_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[sensor]\nwatchdog = 5\n")

    with pytest.raises(ConfigError, match="watchdog"):
        load_config(path).section("sensor", SensorSettings)


def test_a_wrong_generic_profile_is_a_clear_error_before_connecting():
    settings = SensorSettings(generic={"service_uuid": "not-a-uuid", "characteristic_uuid": "2a19"})
    with pytest.raises(ValueError, match="service_uuid"):
        generic_profile(settings)
