"""The registry: recognising sensors from their adverts, building decoders, the generic TOML profile."""

from __future__ import annotations

import pytest

from sitless.config import ConfigError, build_section, load_config
from sitless.firmware_bridge.decoders.generic import GenericDecoder, GenericProfile
from sitless.firmware_bridge.decoders.registry import FAMILIES, make_decoder, recognise

pytestmark = pytest.mark.ble


@pytest.mark.parametrize(
    ("name", "uuids", "family"),
    [
        ("Polar H10 A1B2C3D4", ["0000180d-0000-1000-8000-00805f9b34fb"], "polar_h10"),
        ("Polar Sense B5D1E2F3", ["0000180d-0000-1000-8000-00805f9b34fb"], "polar_verity"),
        ("Movesense 204730000081", [], "movesense"),
        ("WT901BLE68", [], "witmotion"),
        (None, ["0000FFE5-0000-1000-8000-00805F9A34FB"], "witmotion"),
        ("BBC micro:bit [zutiv]", [], "microbit"),
        ("MetaWear", ["326a9000-85cb-9195-d9dd-464cfbbae75a"], "metamotion"),
        ("Thingy", [], "thingy52"),
    ],
)
def test_sensors_are_recognised_from_their_advertisement(name, uuids, family):
    assert recognise(name, uuids, {}).family == family


def test_a_heart_rate_strap_from_another_brand_is_not_mistaken_for_a_polar():
    assert recognise("Garmin HRM-Pro", ["0000180d-0000-1000-8000-00805f9b34fb"], {}) is None
    assert recognise(None, [], {}) is None


def test_unknown_family_or_option_is_a_clear_error():
    with pytest.raises(ValueError, match="known families: .*polar_h10"):
        make_decoder("fitbit")
    with pytest.raises(ValueError, match="no option 'rang'.*range_g"):
        make_decoder("polar_h10", rang=4)
    assert make_decoder("polar-h10", 100, range_g=4).rate_hz == 100


def test_every_family_builds_with_defaults_and_says_how_to_stream():
    for family, cls in FAMILIES.items():
        options = (
            {"profile": {"service_uuid": "2a19", "characteristic_uuid": "2a19"}}
            if family == "generic"
            else {}
        )
        decoder = make_decoder(family, **options)
        assert isinstance(decoder, cls) and decoder.family == family
        assert decoder.notify_uuids, family
        assert 12.5 <= decoder.rate_hz <= 100, f"{family} asks for {decoder.rate_hz} Hz"


def test_generic_profile_is_read_from_the_sensor_generic_toml_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[sensor]\nfamily = "generic"\n\n[sensor.generic]\n'
        'service_uuid = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"\n'
        'characteristic_uuid = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"\n'
        'struct_format = "<hhh"\nscale = 0.001\nrate_hz = 50\naxes = "x,-z,y"\n'
        'start_writes = [["6e400002-b5a3-f393-e0a9-e50e24dcca9e", "01"]]\n'
    )
    config = load_config(path)
    where = f"{path}: [sensor.generic]"
    profile = build_section(GenericProfile, config.tables["sensor"]["generic"], where=where)
    decoder = make_decoder("generic", profile=profile)
    assert decoder.rate_hz == 50
    assert recognise(None, ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"], {}, generic=profile) is GenericDecoder
    (samples,) = decoder.receive_data(profile.characteristic_uuid, bytes.fromhex("e803 0000 f401"), 0.0)
    chunk = samples.chunk
    assert chunk.xyz[0].tolist() == pytest.approx([1.0, -0.5, 0.0])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"service_uuid": "2a19"}, "service_uuid and characteristic_uuid"),
        ({"service_uuid": "2a19", "characteristic_uuid": "nope"}, "not a UUID"),
        (
            {"service_uuid": "2a19", "characteristic_uuid": "2a19", "struct_format": "<hh"},
            "at least 3 numeric",
        ),
        (
            {"service_uuid": "2a19", "characteristic_uuid": "2a19", "struct_format": "<h3s"},
            "at least 3 numeric",
        ),
        (
            {"service_uuid": "2a19", "characteristic_uuid": "2a19", "struct_format": "<hhk"},
            "not a Python struct",
        ),
        ({"service_uuid": "2a19", "characteristic_uuid": "2a19", "axes": "x,x,z"}, "x, y and z once"),
        ({"service_uuid": "2a19", "characteristic_uuid": "2a19", "scale": 0}, "non-zero"),
        (
            {"service_uuid": "2a19", "characteristic_uuid": "2a19", "start_writes": [["2a19", "zz"]]},
            "not hex",
        ),
        ({"service_uuid": "2a19", "characteristic_uuid": "2a19", "xyz_fields": [0, 1, 5]}, "xyz_fields"),
    ],
)
def test_a_wrong_generic_profile_is_reported_with_where_and_what(table, message):
    with pytest.raises(ConfigError, match=rf"\[sensor.generic\].*{message}"):
        build_section(GenericProfile, table, where="config.toml: [sensor.generic]")
