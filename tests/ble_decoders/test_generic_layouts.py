"""The generic decoder reads records with numpy (issue 12: a Python tuple per record cost most of the
live path's decoding), and must give exactly what Python's ``struct`` gives for the same format."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitless.firmware_bridge.decoders.base import ProtocolError
from sitless.firmware_bridge.decoders.events import Samples
from sitless.firmware_bridge.decoders.generic import GenericDecoder, GenericProfile

pytestmark = pytest.mark.ble
CHARACTERISTIC = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


@st.composite
def profiles_and_packets(draw):
    order = draw(st.sampled_from(["<", ">", "!", "=", "@", ""]))
    codes = draw(st.lists(st.sampled_from(list("bBhHiIlLqQefdx")), min_size=3, max_size=8))
    numeric = [c for c in codes if c != "x"]
    if len(numeric) < 3:
        codes += ["h"] * (3 - len(numeric))
        numeric = [c for c in codes if c != "x"]
    fields = draw(st.permutations(range(len(numeric))))[:3]
    axes = ",".join(sign + axis for sign, axis in zip(draw(st.lists(st.sampled_from(["", "-"]), min_size=3,
                                                                     max_size=3)), "xzy", strict=True))  # fmt: skip
    profile = GenericProfile(
        service_uuid="6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        characteristic_uuid=CHARACTERISTIC,
        struct_format=order + "".join(codes),
        scale=draw(st.sampled_from([1.0 / 4096, 0.001, 0.0005, 9.80665e-3, 1.0])),
        axes=axes,
        xyz_fields=list(fields),
    )
    records = draw(st.integers(1, min(25, 512 // profile.record_size)))
    data = draw(st.binary(min_size=records * profile.record_size, max_size=records * profile.record_size))
    return profile, data


def with_struct(profile: GenericProfile, data: bytes) -> np.ndarray:
    """The reference: every record through ``struct``, then (sign * value) * scale, in float64."""
    rows = []
    for record in struct.iter_unpack(profile.struct_format, data):
        raw = [float(record[i]) for i in profile.xyz_fields]
        rows.append([sign * raw[index] * profile.scale for index, sign in profile.axis_map()])
    return np.array(rows, np.float64)


@settings(max_examples=200, deadline=None)
@given(profiles_and_packets())
def test_every_struct_layout_decodes_exactly_as_struct_does(case):
    profile, data = case
    expected = with_struct(profile, data)
    decoder = GenericDecoder(profile=profile)
    if not np.isfinite(expected).all():
        with pytest.raises(ProtocolError, match="non-finite"):
            decoder.receive_data(CHARACTERISTIC, data, 1_800_000_000.0)
        return
    with np.errstate(over="ignore"):  # a float64 beyond float32's range is inf there, as before
        (event,) = decoder.receive_data(CHARACTERISTIC, data, 1_800_000_000.0)
        assert isinstance(event, Samples)
        assert event.chunk.xyz.tobytes() == expected.astype(np.float32).tobytes()
