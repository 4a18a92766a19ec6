"""What the vendors' own firmware and SDK sources do, which the bytes of their documents do not show.

MetaWear-SDK-Cpp f67699e (module info, BMI160 packed register), codal-microbit-v2 44f4150 (LSM303 scale,
period written back), Nordic-Thingy52-FW 6ada0a9 (configuration stored to flash, advertised service,
settling after start), polar-ble-sdk (control-point status codes). Each test names its source.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sitless.firmware_bridge.decoders.events import CommandRefused, Notice, Temperature
from sitless.firmware_bridge.decoders.metamotion import METAWEAR_COMMAND, METAWEAR_NOTIFY, MetaMotionDecoder
from sitless.firmware_bridge.decoders.microbit import (
    MICROBIT_ACC_DATA,
    MICROBIT_ACC_PERIOD,
    MICROBIT_TEMPERATURE,
    MicrobitDecoder,
)
from sitless.firmware_bridge.decoders.movesense import GSP_NOTIFY, MovesenseDecoder
from sitless.firmware_bridge.decoders.polar import PMD_CONTROL_POINT, PolarVeritySenseDecoder
from sitless.firmware_bridge.decoders.registry import recognise
from sitless.firmware_bridge.decoders.thingy import (
    THINGY_CONFIG_SERVICE,
    THINGY_FIRMWARE_VERSION,
    THINGY_MOTION_CONFIG,
    THINGY_RAW_DATA,
    THINGY_TEMPERATURE,
    ThingyDecoder,
)
from tests.ble_decoders.packets import samples_of

pytestmark = pytest.mark.ble
T0 = 1_795_000_000.0
MODULE_INFO_BMI160 = bytes.fromhex("03800101")  # SDK test board METAWEAR_MOTION_R_BOARD
MODULE_INFO_BMI270 = bytes.fromhex("03800400")  # SDK test board METAWEAR_MOTION_S_BOARD


def _hex(commands) -> list[str]:
    return [command.data.hex() for command in commands]


# ---- MbientLab MetaMotion: the chip comes from the board ------------------------------------------------


def test_metamotion_asks_the_board_which_accelerometer_it_has_before_configuring_it():
    decoder = MetaMotionDecoder(25, range_g=8)
    (ask,) = decoder.start_commands()
    assert (ask.characteristic, ask.data.hex()) == (METAWEAR_COMMAND, "0380")
    assert decoder.stop_commands() == [], "nothing was configured, so nothing to stop"
    samples_of(decoder.receive_data(METAWEAR_NOTIFY, MODULE_INFO_BMI160, T0))
    assert decoder.chip == "bmi160"
    # BMI160 at 25 Hz +-8 g: acc_conf 0x26, range code 0x08 (a BMI270 range byte 0x02 would be invalid)
    assert _hex(decoder.commands_to_send()) == ["03032608", "030401", "03020100", "030101", "0480"]
    assert decoder.commands_to_send() == [], "each command is handed out once"


def test_metamotion_on_a_bmi270_board_gets_the_bmi270_configuration():
    decoder = MetaMotionDecoder(25, range_g=8)
    samples_of(decoder.receive_data(METAWEAR_NOTIFY, MODULE_INFO_BMI270, T0))
    assert decoder.chip == "bmi270"
    assert _hex(decoder.commands_to_send())[0] == "0303a602"
    chunk = samples_of(decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("0304 0010 00f0 0000"), T0))
    assert chunk.xyz[0].tolist() == [1.0, -1.0, 0.0]  # 4096 LSB per g at +-8 g


def test_metamotion_bmi160_streams_packed_frames_on_register_0x1c_above_100_hz():
    decoder = MetaMotionDecoder(200, range_g=8)
    samples_of(decoder.receive_data(METAWEAR_NOTIFY, MODULE_INFO_BMI160, T0))
    assert "031c01" in _hex(decoder.commands_to_send())
    assert decoder.stop_commands()[-1].data.hex() == "031c00"
    frame = bytes.fromhex("031c") + struct.pack("<9h", *([0, 0, 4096] * 3))
    assert samples_of(decoder.receive_data(METAWEAR_NOTIFY, frame, T0)).xyz.tolist() == [[0, 0, 1]] * 3


def test_metamotion_bmi160_before_module_revision_1_streams_unpacked():
    """accelerometer_bosch.cpp: packed data exists on the BMI160 only from PACKED_ACC_REVISION = 1."""
    decoder = MetaMotionDecoder(200)
    samples_of(decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("03800100"), T0))
    assert "030401" in _hex(decoder.commands_to_send())


def test_metamotion_chip_setting_overrides_the_board():
    decoder = MetaMotionDecoder(25, range_g=8, chip="bmi160")
    assert _hex(decoder.start_commands())[0] == "03032608", "no module-info round trip"
    samples_of(decoder.receive_data(METAWEAR_NOTIFY, MODULE_INFO_BMI270, T0))
    assert decoder.chip == "bmi160" and decoder.commands_to_send() == []


@pytest.mark.parametrize(("info", "named"), [("03800000", "MMA8452Q"), ("0380", "no accelerometer")])
def test_metamotion_board_without_a_supported_accelerometer_is_refused_by_name(info, named):
    decoder = MetaMotionDecoder()
    (refused,) = decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex(info), T0)
    assert isinstance(refused, CommandRefused) and named in refused.reason
    assert decoder.commands_to_send() == [] and decoder.stats.malformed == 0


# ---- BBC micro:bit: 1024 counts per g, the period the board really chose --------------------------------


def test_microbit_counts_are_1024_per_g_not_milli_g():
    """codal-microbit-v2 LSM303Accelerometer::requestUpdate: (raw / 32) * range = 1024 per g."""
    chunk = samples_of(
        MicrobitDecoder(25).receive_data(MICROBIT_ACC_DATA, struct.pack("<3h", 512, -1024, 2048), T0)
    )
    assert chunk.xyz[0].tolist() == [0.5, -1.0, 2.0]


def test_microbit_reads_the_period_back_and_stamps_samples_at_the_real_rate():
    """MicroBitAccelerometerService::onDataWritten: setPeriod, then the ACTUAL period is written back.
    A V1 board's MMA8653 turns the 40 ms asked for into 80 ms (12.5 Hz)."""
    decoder = MicrobitDecoder(25)
    write, read = decoder.start_commands()
    assert (write.characteristic, write.data, write.read) == (MICROBIT_ACC_PERIOD, b"\x28\x00", False)
    assert (read.characteristic, read.read) == (MICROBIT_ACC_PERIOD, True)
    samples_of(decoder.receive_data(MICROBIT_ACC_PERIOD, (80).to_bytes(2, "little"), T0))
    assert decoder.rate_hz == 12.5
    t = [samples_of(decoder.receive_data(MICROBIT_ACC_DATA, bytes(6), T0 + 0.08 * i)).t[0] for i in range(20)]
    assert np.diff(t) == pytest.approx(0.08, abs=1e-3)


# ---- Nordic Thingy:52 ------------------------------------------------------------------------------------


def test_thingy_reads_its_configuration_and_writes_only_the_frequency_it_changes():
    """m_motion.c: every configuration write is stored to flash and restarts motion processing."""
    decoder = ThingyDecoder(25)
    _version, read = decoder.start_commands()
    assert (read.characteristic, read.read) == (THINGY_MOTION_CONFIG, True)
    samples_of(decoder.receive_data(THINGY_MOTION_CONFIG, struct.pack("<HHHHB", 250, 1000, 750, 10, 0), T0))
    (write,) = decoder.commands_to_send()
    assert write.characteristic == THINGY_MOTION_CONFIG
    assert struct.unpack("<HHHHB", write.data) == (250, 1000, 750, 25, 0), "the user's other settings kept"


def test_thingy_already_at_the_rate_is_not_written_again():
    decoder = ThingyDecoder(25)
    samples_of(decoder.receive_data(THINGY_MOTION_CONFIG, struct.pack("<HHHHB", 100, 500, 500, 25, 1), T0))
    assert decoder.commands_to_send() == [] and not decoder.config_written


def test_thingy_firmware_older_than_2_1_0_is_named_because_its_battery_level_is_wrong():
    """Release notes 2.1.0: "The battery charge monitor did not report actual values in 2.0.0"."""
    decoder = ThingyDecoder()
    assert decoder.start_commands()[0].characteristic == THINGY_FIRMWARE_VERSION
    assert decoder.start_commands()[0].optional, "a firmware without the characteristic still connects"
    (notice,) = decoder.receive_data(THINGY_FIRMWARE_VERSION, bytes([2, 0, 0]), T0)
    assert isinstance(notice, Notice) and "2.0.0" in notice.message and "2.1.0" in notice.message
    assert ThingyDecoder().receive_data(THINGY_FIRMWARE_VERSION, bytes([2, 2, 0]), T0) == []


def test_a_renamed_thingy_is_recognised_by_the_configuration_service_it_advertises():
    assert recognise("Desk thigh", [THINGY_CONFIG_SERVICE], {}) is ThingyDecoder


def test_thingy_drops_the_first_10_s_of_motion_data_after_it_starts():
    decoder = ThingyDecoder(25)
    packet = struct.pack("<9h", 0, 0, 1024, 0, 0, 0, 0, 0, 0)
    chunks = [decoder.receive_data(THINGY_RAW_DATA, packet, T0 + i / 25) for i in range(25 * 12)]
    kept = np.concatenate([samples_of(c).t for c in chunks])
    assert isinstance(chunks[0][0], Notice) and "10 s" in chunks[0][0].message
    assert decoder.settling_dropped in (250, 251)  # the sample at exactly 10 s may fall either side
    assert len(kept) + decoder.settling_dropped == 300
    assert kept[0] - T0 == pytest.approx(10.0, abs=0.05)


# ---- Polar: a refusal that says what to do ---------------------------------------------------------------


def test_polar_mtu_refusal_is_named_with_what_to_do():
    """polar-ble-sdk PmdControlPointResponseCode 10 = ERROR_INVALID_MTU (the link's MTU is too small)."""
    decoder = PolarVeritySenseDecoder()
    (refused,) = decoder.receive_data(PMD_CONTROL_POINT, bytes.fromhex("f002020a00"), T0)
    assert isinstance(refused, CommandRefused) and refused.status == "ERROR_INVALID_MTU"
    assert "MTU" in refused.advice and "adapter" in refused.advice and "rate_hz" in refused.advice


# ---- Temperatures, where the vendor's protocol carries them -----------------------------------------------


def test_microbit_temperature_service_gives_whole_degrees_celsius():
    """micro:bit profile, Temperature (E95D9250): sint8 degrees Celsius."""
    (temperature,) = MicrobitDecoder().receive_data(MICROBIT_TEMPERATURE, bytes([0xFE]), T0)
    assert isinstance(temperature, Temperature)
    assert temperature.celsius.tolist() == [-2.0] and temperature.t.tolist() == [T0]


@pytest.mark.parametrize(("data", "celsius"), [(bytes([31, 25]), 31.25), (bytes([0xFB, 50]), -5.5)])
def test_thingy_temperature_is_whole_degrees_and_hundredths(data, celsius):
    """Nordic-Thingy52-FW m_environment.c temperature_conv_data: int8 integer, uint8 hundredths."""
    (temperature,) = ThingyDecoder().receive_data(THINGY_TEMPERATURE, data, T0)
    assert temperature.celsius.tolist() == [pytest.approx(celsius)]


def test_movesense_subscribes_to_its_temperature_and_reports_it_in_celsius_on_the_device_clock():
    """Movesense API meas/temp.yaml: TemperatureValue = u32 Timestamp (ms), float32 Measurement (K)."""
    decoder = MovesenseDecoder(26)
    commands = [c.data for c in decoder.start_commands()]
    assert commands == [b"\x01\x63/Meas/Acc/26", b"\x01\x65/Meas/Temp"]
    acc = bytes([2, 0x63]) + struct.pack("<I3f", 5000, 0.0, 0.0, 9.80665)
    decoder.receive_data(GSP_NOTIFY, acc, T0)  # fixes the device clock: 5000 ms = T0
    (temperature,) = decoder.receive_data(
        GSP_NOTIFY, bytes([2, 0x65]) + struct.pack("<If", 6000, 306.15), T0 + 9
    )
    assert isinstance(temperature, Temperature)
    assert temperature.celsius.tolist() == [pytest.approx(33.0, abs=1e-4)]
    assert temperature.t.tolist() == [pytest.approx(T0 + 1.0)], "on the device clock, not the arrival"
    assert [c.data for c in decoder.stop_commands()] == [b"\x02\x63", b"\x02\x65"]


def test_movesense_firmware_without_temperature_is_a_notice_not_a_refusal_of_the_stream():
    decoder = MovesenseDecoder()
    (notice,) = decoder.receive_data(GSP_NOTIFY, bytes([1, 0x65]) + (404).to_bytes(2, "little"), T0)
    assert isinstance(notice, Notice) and "404" in notice.message
    assert decoder.stats.control_errors == 0


def test_metamotion_reads_its_on_board_thermistor_every_minute_of_samples():
    """MetaWear-SDK-Cpp multichanneltemperature: module info 04 80 lists one source per channel (3 =
    on-board thermistor); a read is 04 81 <channel>; test_get_temperature_data: 04 81 00 fe 00 = 31.75 C."""
    decoder = MetaMotionDecoder(25, chip="bmi270")
    assert decoder.start_commands()[-1].data.hex() == "0480"
    decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("0480000100030102"), T0)  # die, thermistor, ...
    assert decoder.temperature_channel == 1
    sample = bytes.fromhex("0304 0010 00f0 0000")
    asked = []
    for i in range(25 * 130):  # 130 s at 25 Hz
        decoder.receive_data(METAWEAR_NOTIFY, sample, T0 + i / 25)
        asked += _hex(decoder.commands_to_send())
    assert asked == ["048101"] * 3, "at the first sample, then every 60 s"
    (temperature,) = decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("048101a800"), T0)
    assert isinstance(temperature, Temperature) and temperature.celsius.tolist() == [21.0]
    assert temperature.where == "board (thermistor)"
    (cold,) = decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("048101acff"), T0)
    assert cold.celsius.tolist() == [-10.5]


def test_metamotion_without_a_temperature_source_asks_for_none():
    decoder = MetaMotionDecoder(25, chip="bmi270")
    decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("04800001"), T0)  # no channels
    for i in range(100):
        decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex("0304 0010 00f0 0000"), T0 + i / 25)
    assert decoder.commands_to_send() == []
