"""Fuzzing: random bytes, truncations and corruptions of valid packets never raise anything but
ProtocolError, never emit non-finite or out-of-order samples, and never leave a decoder unusable."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitless.firmware_bridge.decoders.base import ProtocolError, SensorDecoder
from sitless.firmware_bridge.decoders.events import Event, Gap
from sitless.firmware_bridge.decoders.generic import GenericProfile
from sitless.firmware_bridge.decoders.polar_delta import decode_delta_frames
from sitless.firmware_bridge.decoders.polar_offline import decode_offline_acc
from sitless.firmware_bridge.decoders.polar_pmd import parse_control_point, parse_pmd_settings
from sitless.firmware_bridge.decoders.registry import FAMILIES, make_decoder
from tests.ble_decoders.packets import movesense_data, samples_of
from tests.ble_decoders.vectors import OFFLINE_FILE, load_vectors

pytestmark = pytest.mark.ble
T0 = 1_795_000_000.0
PROFILE = GenericProfile(
    service_uuid="6e400001-b5a3-f393-e0a9-e50e24dcca9e",
    characteristic_uuid="6e400003-b5a3-f393-e0a9-e50e24dcca9e",
    struct_format="<Ihhf",
    scale=0.001,
)
_VECTORS = {v["id"]: v for v in load_vectors()}


def _vector_hex(vector_id: str) -> bytes:
    return bytes.fromhex(_VECTORS[vector_id]["hex"])  # a KeyError names a vector missing from tests/data


# (family, characteristic, valid packet) for every decoder and every characteristic it listens on.
VALID = {
    "polar_h10": [
        ("fb005c82-02e7-f387-1cad-8acd2d8df0c8", _vector_hex("polar-pmd-acc-raw-type1")),
        ("fb005c82-02e7-f387-1cad-8acd2d8df0c8", _vector_hex("polar-pmd-acc-delta-type1-ios")),
        ("fb005c81-02e7-f387-1cad-8acd2d8df0c8", bytes.fromhex("f002020000000501" + "0000803f")),
    ],
    "polar_verity": [
        ("fb005c82-02e7-f387-1cad-8acd2d8df0c8", _vector_hex("polar-pmd-acc-delta-type0")),
        ("fb005c81-02e7-f387-1cad-8acd2d8df0c8", bytes.fromhex("010102")),
    ],
    "movesense": [
        ("34800002-7185-4d5d-b431-630e7050e8f0", movesense_data(99, 1000, np.ones((4, 3)))),
        ("34800002-7185-4d5d-b431-630e7050e8f0", bytes.fromhex("017b48656c6c6f")),
        ("34800002-7185-4d5d-b431-630e7050e8f0", bytes([2, 101]) + struct.pack("<If", 1000, 306.15)),
    ],
    "witmotion": [
        ("0000ffe4-0000-1000-8000-00805f9a34fb", _vector_hex("witmotion-wt901ble-0x61-capture-80B")),
    ],
    "microbit": [
        ("e95dca4b-251d-470a-a062-fa1922dfa9a8", bytes.fromhex("f4ff2c0118fc")),
        ("e95d9250-251d-470a-a062-fa1922dfa9a8", bytes.fromhex("1f")),  # temperature, 31 degrees C
    ],
    "metamotion": [
        ("326a9006-85cb-9195-d9dd-464cfbbae75a", bytes.fromhex("030400100000f0ff")),
        ("326a9006-85cb-9195-d9dd-464cfbbae75a", bytes.fromhex("0305") + struct.pack("<9h", *range(9))),
        ("326a9006-85cb-9195-d9dd-464cfbbae75a", bytes.fromhex("048100fe00")),  # temperature, 31.75 C
    ],
    "thingy52": [
        ("ef680406-9b35-4933-9b10-52ffa9740042", struct.pack("<9h", *range(9))),
        ("ef680201-9b35-4933-9b10-52ffa9740042", bytes([30, 25])),  # temperature, 30.25 degrees C
    ],
    "generic": [(PROFILE.characteristic_uuid, struct.pack("<Ihhf", 1, 2, 3, 4.0) * 3)],
}


def _decoder(family: str) -> SensorDecoder:
    return make_decoder(family, profile=PROFILE) if family == "generic" else make_decoder(family)


def test_every_registered_family_is_fuzzed():
    assert set(VALID) == set(FAMILIES)


def _feed(decoder: SensorDecoder, characteristic: str, data: bytes, arrival: float) -> None:
    """Any exception but ProtocolError is a decoder bug and fails the test (nothing relabels it)."""
    before = decoder.stats.malformed
    try:
        events = decoder.receive_data(characteristic, data, arrival)
    except ProtocolError:
        assert decoder.stats.malformed == before + 1, "every malformed packet is counted"
        return
    assert all(isinstance(event, Event) for event in events)
    chunk = samples_of(events)
    assert np.all(np.isfinite(chunk.xyz)) and np.all(np.isfinite(chunk.t))
    assert np.all(np.diff(chunk.t) >= 0)
    for gap in (event for event in events if isinstance(event, Gap)):
        assert gap.end > gap.start


def _still_usable(decoder: SensorDecoder, family: str) -> None:
    """A valid data packet after the fuzzing still decodes (to zero or more samples, without error)."""
    characteristic, packet = VALID[family][0]
    decoder.receive_data(characteristic, packet, T0 + 1000.0)


CASES = [
    (family, characteristic, packet) for family, rows in VALID.items() for characteristic, packet in rows
]


@pytest.mark.parametrize(
    ("family", "characteristic", "packet"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_truncated_and_corrupted_packets_raise_only_the_protocol_error(
    family, characteristic, packet, data
):
    decoder = _decoder(family)
    arrival = T0
    emitted_last = -np.inf
    for _ in range(data.draw(st.integers(1, 6), label="packets")):
        arrival += data.draw(st.floats(0, 2), label="delay")
        mode = data.draw(st.sampled_from(["random", "truncate", "corrupt", "valid", "extend"]), label="mode")
        if mode == "random":
            payload = data.draw(st.binary(max_size=600), label="payload")
        elif mode == "truncate":
            payload = packet[: data.draw(st.integers(0, len(packet) - 1), label="cut")]
        elif mode == "corrupt":
            index = data.draw(st.integers(0, len(packet) - 1), label="index")
            payload = (
                packet[:index] + bytes([data.draw(st.integers(0, 255), label="byte")]) + packet[index + 1 :]
            )
        elif mode == "extend":
            payload = packet + data.draw(st.binary(min_size=1, max_size=40), label="tail")
        else:
            payload = packet
        target = data.draw(
            st.sampled_from(
                [
                    characteristic,
                    *decoder.notify_uuids,
                    *decoder.optional_notify_uuids,
                    "00002a19-0000-1000-8000-00805f9b34fb",
                ]
            )
        )
        _feed(decoder, target, payload, arrival)
        if decoder.stats.samples:
            assert decoder._last_emitted_t >= emitted_last, "never out of order across packets"
            emitted_last = decoder._last_emitted_t
    _still_usable(decoder, family)


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(max_size=300), channels=st.integers(1, 4), resolution=st.sampled_from([8, 16, 24, 32])
)
def test_delta_codec_rejects_garbage_with_the_protocol_error_only(payload, channels, resolution):
    try:
        samples = decode_delta_frames(payload, channels, resolution)
    except ProtocolError:
        return
    assert samples.shape[1] == channels


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=80))
def test_control_point_and_settings_parsers_raise_only_the_protocol_error(payload):
    for parse in (parse_control_point, parse_pmd_settings):
        with contextlib.suppress(ProtocolError):
            parse(payload)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, 1294), flip=st.integers(0, 1294), value=st.integers(0, 255))
def test_truncated_or_corrupted_offline_recording_raises_only_the_protocol_error(cut, flip, value):
    original = OFFLINE_FILE.read_bytes()
    for data in (original[:cut], original[:flip] + bytes([value]) + original[flip + 1 :]):
        try:
            recording = decode_offline_acc(data)
        except ProtocolError:
            continue
        assert len(recording.samples_mg) == len(recording.timestamps_ns)
