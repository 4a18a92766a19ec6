"""Families without published vendor test vectors: byte vectors built by hand from each vendor's specification.

Each test's docstring names the specification section the bytes come from.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sitless.firmware_bridge.decoders.generic import GenericDecoder, GenericProfile
from sitless.firmware_bridge.decoders.metamotion import METAWEAR_COMMAND, METAWEAR_NOTIFY, MetaMotionDecoder
from sitless.firmware_bridge.decoders.microbit import MICROBIT_ACC_DATA, MICROBIT_ACC_PERIOD, MicrobitDecoder
from sitless.firmware_bridge.decoders.movesense import GSP_NOTIFY, GSP_WRITE, MovesenseDecoder
from sitless.firmware_bridge.decoders.polar import PMD_CONTROL_POINT, PolarH10Decoder, PolarVeritySenseDecoder
from sitless.firmware_bridge.decoders.thingy import THINGY_MOTION_CONFIG, THINGY_RAW_DATA, ThingyDecoder
from sitless.firmware_bridge.decoders.witmotion import WIT_WRITE, WitMotionDecoder
from tests.ble_decoders.packets import samples_of

pytestmark = pytest.mark.ble
T0 = 1_795_000_000.0


def test_microbit_sample_is_three_signed_int16_values():
    """micro:bit Bluetooth profile, Accelerometer Service, Accelerometer Data (E95DCA4B): X, Y, Z as
    little-endian sint16, one sample per notification (the profile says milli-g; the runtime's driver sends
    1/1024 g, see test_vendor_firmware). Period (E95DFB24): u16 LE milliseconds."""
    decoder = MicrobitDecoder(25)
    assert decoder.start_commands()[0].characteristic == MICROBIT_ACC_PERIOD
    assert decoder.start_commands()[0].data == bytes.fromhex("2800")  # 40 ms = 25 Hz
    chunk = samples_of(
        decoder.receive_data(MICROBIT_ACC_DATA, bytes.fromhex("f4ff 2c01 18fc"), T0)
    )  # -12, 300, -1000
    assert chunk.xyz[0].tolist() == pytest.approx([-12 / 1024, 300 / 1024, -1000 / 1024])
    assert chunk.t[0] == pytest.approx(T0)


def test_movesense_data_notification_carries_device_ms_and_m_per_s2_floats():
    """Movesense GSP specification, "Data notification" (type 2): ``02 <ref> <u32 LE timestamp ms>`` then
    the /Meas/Acc body: float32 LE x, y, z in m/s^2 per sample; the timestamp is the first sample's."""
    decoder = MovesenseDecoder(26)
    assert decoder.start_commands()[0].characteristic == GSP_WRITE
    assert decoder.start_commands()[0].data == b"\x01\x63/Meas/Acc/26"
    body = struct.pack("<I", 1000) + struct.pack("<6f", 0.0, 0.0, 9.80665, 4.903325, 0.0, -9.80665)
    chunk = samples_of(decoder.receive_data(GSP_NOTIFY, b"\x02\x63" + body, T0))
    assert np.allclose(chunk.xyz, [[0, 0, 1], [0.5, 0, -1]], atol=1e-6)
    assert chunk.t[1] - chunk.t[0] == pytest.approx(1 / 26, abs=1e-6)
    # Next packet 2 samples later in device time: placed exactly by the device clock, not by arrival.
    later = struct.pack("<I", 1000 + round(2000 / 26)) + struct.pack("<3f", 0, 0, 9.80665)
    chunk2 = samples_of(decoder.receive_data(GSP_NOTIFY, b"\x02\x63" + later, T0 + 0.5))
    assert chunk2.t[0] - chunk.t[0] == pytest.approx(round(2000 / 26) / 1000, abs=1e-6)


def test_movesense_subscribe_error_reply_is_reported_as_a_refusal():
    """Movesense GSP specification, "Response" (type 1): ``01 <ref> <u16 LE status>``; the sample firmware
    sends it for SUBSCRIBE only on failure (here 404: no such resource)."""
    from sitless.firmware_bridge.decoders.events import CommandRefused

    decoder = MovesenseDecoder()
    (refused,) = decoder.receive_data(GSP_NOTIFY, bytes([0x01, 0x63]) + (404).to_bytes(2, "little"), T0)
    assert isinstance(refused, CommandRefused) and refused.status == "404" and "404" in refused.reason
    assert "gatt_sensordata_app" in (refused.advice or "")
    assert decoder.stats.control_errors == 1 and decoder.stats.malformed == 0


def test_metamotion_acc_notification_scales_by_range():
    """MetaWear-SDK-Cpp, accelerometer_bosch: config ``03 03 <acc_conf> <range>`` (200 Hz +-8 g on the
    BMI270 is ``03 03 A9 02``), data ``03 04`` + int16 LE x, y, z; at +-8 g 4096 LSB per g; packed ``03 05``
    holds three samples."""
    assert MetaMotionDecoder(200, range_g=8, chip="bmi270").start_commands()[0].data == bytes.fromhex(
        "0303a902"
    )
    decoder = MetaMotionDecoder(25, range_g=8, chip="bmi270")
    assert decoder.start_commands()[0].characteristic == METAWEAR_COMMAND
    chunk = samples_of(
        decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("0304 0010 00f0 0000"), T0)
    )  # 4096, -4096, 0
    assert chunk.xyz[0].tolist() == [1.0, -1.0, 0.0]
    packed = MetaMotionDecoder(200, range_g=2, chip="bmi270")
    assert packed.start_commands()[1].data == bytes.fromhex("030501")
    chunk = samples_of(
        packed.receive_data(
            METAWEAR_NOTIFY, bytes.fromhex("0305") + struct.pack("<9h", *([0, 0, 16384] * 3)), T0
        )
    )
    assert chunk.xyz.tolist() == [[0, 0, 1]] * 3


def test_thingy_raw_accelerometer_is_q6_10_g():
    """Nordic Thingy:52 firmware documentation, Motion service: Raw data (EF680406) = accelerometer x, y, z
    int16 Q6.10 (g), gyroscope Q11.5, compass Q12.4; Motion configuration (EF680401) = ``<HHHHB`` with the
    motion processing frequency (Hz) fourth."""
    decoder = ThingyDecoder(25, settle_s=0)
    samples_of(decoder.receive_data(THINGY_MOTION_CONFIG, struct.pack("<HHHHB", 100, 500, 500, 5, 1), T0))
    (config,) = decoder.commands_to_send()
    assert config.characteristic == THINGY_MOTION_CONFIG
    assert struct.unpack("<HHHHB", config.data)[3] == 25
    data = struct.pack("<9h", 512, -1024, 1024, 32, 0, 0, 16, 0, 0)
    chunk = samples_of(decoder.receive_data(THINGY_RAW_DATA, data, T0))
    assert chunk.xyz[0].tolist() == [0.5, -1.0, 1.0]


def test_generic_profile_repeats_its_struct_and_applies_scale_and_axes():
    """Python ``struct`` format semantics (docs.python.org/3/library/struct): ``<Ihhh`` = u32 counter and
    three int16 LE; the profile names fields 1-3 as x, y, z, 0.5 mg per LSB, mounted with x and y swapped."""
    profile = GenericProfile(
        service_uuid="6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        characteristic_uuid="6e400003-b5a3-f393-e0a9-e50e24dcca9e",
        struct_format="<Ihhh",
        scale=0.0005,
        rate_hz=50,
        axes="-y,x,z",
        xyz_fields=[1, 2, 3],
        start_writes=[("6e400002-b5a3-f393-e0a9-e50e24dcca9e", "01")],
    )
    decoder = GenericDecoder(profile=profile)
    assert decoder.notify_uuids == ("6e400003-b5a3-f393-e0a9-e50e24dcca9e",)
    assert decoder.start_commands()[0].data == b"\x01"
    data = struct.pack("<Ihhh", 7, 200, -400, 2000) + struct.pack("<Ihhh", 8, 0, 0, 2000)
    chunk = samples_of(decoder.receive_data(profile.characteristic_uuid, data, T0))
    assert np.allclose(chunk.xyz, [[0.2, 0.1, 1.0], [0, 0, 1.0]])
    assert chunk.t[1] - chunk.t[0] == pytest.approx(1 / 50, abs=1e-6)


def test_polar_start_command_matches_the_pmd_specification_example():
    """polar-ble-sdk documentation, PMD specification, "Start measurement": ACC at 200 Hz, 16 bit, +-8 g is
    ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``; stop ``03 02``."""
    h10 = PolarH10Decoder(200, range_g=8)
    assert h10.start_commands()[0].characteristic == PMD_CONTROL_POINT
    assert h10.start_commands()[0].data == bytes.fromhex("02020001c80001011000020108 00".replace(" ", ""))
    assert h10.stop_commands()[0].data == bytes.fromhex("0302")


def test_each_sensor_is_asked_for_25_hz_or_the_nearest_rate_it_offers():
    """Rates from each vendor's documentation (reference sheet ../shared/reference/sensors-and-ble.md)."""
    assert PolarH10Decoder().rate_hz == 25
    assert PolarVeritySenseDecoder().rate_hz == 52
    assert MovesenseDecoder().rate_hz == 26
    assert WitMotionDecoder().rate_hz == 20
    assert WitMotionDecoder().start_commands()[1].data == bytes.fromhex("ffaa030700")
    assert WitMotionDecoder().start_commands()[1].characteristic == WIT_WRITE
    assert MicrobitDecoder().rate_hz == 25
    assert MetaMotionDecoder().rate_hz == 25
    assert ThingyDecoder().rate_hz == 25
    assert all(
        12.5 <= d.rate_hz <= 100 for d in (PolarVeritySenseDecoder(), MovesenseDecoder(), WitMotionDecoder())
    )
    assert np.isclose(MetaMotionDecoder(30).rate_hz, 25)


def test_polar_start_response_factor_is_adopted_and_odd_parameters_do_not_count_as_malformed():
    """polar-ble-sdk documentation, PMD control point: the REQUEST_MEASUREMENT_START response
    (``F0 02 <type> <status> <more>`` + parameters) may carry the FACTOR setting (type 5, float32 LE)
    that converts delta-compressed ACC values."""
    decoder = PolarVeritySenseDecoder()
    samples_of(
        decoder.receive_data(
            PMD_CONTROL_POINT, bytes.fromhex("f0020200000501") + struct.pack("<f", 0.000244), T0
        )
    )
    assert decoder.factor == pytest.approx(0.000244)
    samples_of(decoder.receive_data(PMD_CONTROL_POINT, bytes.fromhex("f002020000ff"), T0))  # not TLV: ignored
    assert decoder.stats.malformed == 0 and decoder.stats.control_errors == 0


def test_movesense_packet_split_in_two_parts_is_reassembled():
    """Movesense GSP specification: data that does not fit one notification continues in a DATA_PART2
    (type 3) packet with the same reference."""
    decoder = MovesenseDecoder(52)
    body = struct.pack("<I", 2000) + struct.pack("<30f", *([0.0, 0.0, 9.80665] * 10))
    cut = 110
    first = samples_of(decoder.receive_data(GSP_NOTIFY, b"\x02\x63" + body[:cut], T0))
    assert len(first) == 0
    chunk = samples_of(decoder.receive_data(GSP_NOTIFY, b"\x03\x63" + body[cut:], T0 + 0.01))
    assert len(chunk) == 10 and np.allclose(chunk.xyz, [0, 0, 1])
