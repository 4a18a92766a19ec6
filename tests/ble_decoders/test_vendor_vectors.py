"""Conformance: all 36 vendor vectors in tests/data (copies of ../shared/vectors) decode to exactly what
their sources assert: the 22 of ble-vectors.json and the 14 of metawear-vectors.json.

The vectors come from the vendors' own test suites (Polar's Android/iOS SDK tests, Movesense's sample
client, WitMotion's SDK and a capture, MbientLab's MetaWear-SDK-Cpp tests); each test below asserts the
vector's ``expected`` block as the vector states it, using the vector's own tolerance where it gives one.
"""

from __future__ import annotations

import numpy as np
import pytest

from sitless.firmware_bridge.decoders.events import CommandRefused, StreamStopped
from sitless.firmware_bridge.decoders.metamotion import METAWEAR_NOTIFY, MetaMotionDecoder, config_command
from sitless.firmware_bridge.decoders.movesense import (
    GSP_NOTIFY,
    MovesenseDecoder,
    gsp_hello,
    gsp_subscribe,
    gsp_unsubscribe,
)
from sitless.firmware_bridge.decoders.polar import (
    PMD_CONTROL_POINT,
    PMD_DATA,
    PolarH10Decoder,
    PolarVeritySenseDecoder,
)
from sitless.firmware_bridge.decoders.polar_delta import decode_delta_frames, parse_reference_sample
from sitless.firmware_bridge.decoders.polar_offline import decode_offline_acc
from sitless.firmware_bridge.decoders.polar_pmd import (
    POLAR_EPOCH_UNIX_S,
    PmdControlPointResponse,
    PmdFrameReader,
    PmdMeasurementStopped,
    acc_samples_mg,
    build_start_command,
    parse_control_point,
    parse_pmd_frame,
    parse_pmd_settings,
    sample_timestamps_ns,
)
from sitless.firmware_bridge.decoders.witmotion import (
    SAVE,
    UNLOCK,
    WIT_NOTIFY,
    WitMotionDecoder,
    parse_combined_packets,
    read_register_command,
)
from tests.ble_decoders.packets import samples_of
from tests.ble_decoders.vectors import OFFLINE_FILE, expected_rows, load_metawear_vectors, load_vectors

pytestmark = pytest.mark.ble

VECTORS = load_vectors() + load_metawear_vectors()
KINDS_WE_DECODE = {
    "pmd_acc_frame",
    "polar_offline_acc_file",
    "pmd_delta_codec",
    "pmd_ref_sample",
    "pmd_cp_response",
    "pmd_cp_stop_notification",
    "pmd_settings",
    "pmd_start_command",
    "pmd_header_sequence",
    "gsp_command",
    "gsp_command_and_response",
    "wit_0x61_stream",
    "wit_commands",
    "metawear_command",
    "metawear_acc_notification",
}


def test_vendor_vector_files_are_present_and_complete():
    assert len(load_vectors()) == 22, "ble-vectors.json: the README describes 22 vectors"
    assert len(load_metawear_vectors()) == 14, "metawear-vectors.json: the README describes 14 vectors"
    assert len({v["id"] for v in VECTORS}) == 36
    assert OFFLINE_FILE.is_file()
    unknown = {v["kind"] for v in VECTORS} - KINDS_WE_DECODE
    assert not unknown, f"vector kinds without a conformance check: {sorted(unknown)}"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vendor_vector_decodes_exactly_as_its_source_asserts(vector):
    CHECKS[vector["kind"]](vector)


# One check per kind of vector ----------------------------------------------------------------------------


def check_pmd_acc_frame(v):
    params, expected = v["decode_params"], v["expected"]
    frame = parse_pmd_frame(bytes.fromhex(v["hex"]), params["previous_timestamp_ns"])
    assert frame.measurement_type == expected["measurement_type"]
    assert frame.frame_type == expected["frame_type"]
    assert frame.compressed == expected["compressed"]
    if "timestamp_ns" in expected:
        assert frame.timestamp_ns == expected["timestamp_ns"]
    mg = acc_samples_mg(
        frame, factor=params["factor"], resolution_bits=params["resolution_bits"], channels=params["channels"]
    )
    assert len(mg) == expected["sample_count"]
    for index, values in expected_rows(expected["samples"], len(mg)):
        assert mg[index].tolist() == values, f"sample {index}"
    if "raw_reference_sample" in expected:
        raw = decode_delta_frames(frame.content, params["channels"], params["resolution_bits"])
        assert raw[0].tolist() == expected["raw_reference_sample"]
        for index, values in expected_rows(expected["raw_samples"], len(raw)):
            assert raw[index].tolist() == values
    if "all_abs_le" in expected:
        assert np.abs(mg).max() <= expected["all_abs_le"]
    if "timestamps_ns" in expected:
        ts = sample_timestamps_ns(
            frame.previous_timestamp_ns, frame.timestamp_ns, len(mg), params["sample_rate_hz"]
        )
        for index, value in expected_rows(expected["timestamps_ns"], len(ts)):
            assert ts[index] == value, f"timestamp {index}"


def check_polar_offline_acc_file(v):
    data = OFFLINE_FILE.read_bytes()
    assert data == bytes.fromhex(v["hex"]), "polar_offline_acc.bin differs from the vector's hex"
    expected = v["expected"]
    recording = decode_offline_acc(data)
    header = expected["header"]
    assert (recording.magic, recording.version, recording.free, recording.esw_hash) == (
        header["magic"],
        header["version"],
        header["free"],
        header["eswHash"],
    )
    assert recording.start_time == expected["start_time"]
    for key, value in expected["settings"].items():
        assert recording.settings[key] == [value]
    for index, values in expected_rows(expected["samples"], len(recording.samples_mg)):
        assert recording.samples_mg[index].tolist() == values
    for index, value in expected_rows(expected["timestamps_ns"], len(recording.timestamps_ns)):
        assert int(recording.timestamps_ns[index]) == value
    assert len(recording.samples_mg) == 460  # README: six compressed frames, 460 samples
    assert np.all(np.diff(recording.timestamps_ns) > 0), "offline samples must be in time order"


def check_pmd_delta_codec(v):
    params, expected = v["decode_params"], v["expected"]
    samples = decode_delta_frames(
        bytes.fromhex(v["hex"]),
        params["channels"],
        params["resolution_bits"],
        signed=params["encoding"] != "FLOAT_IEEE754",
    )
    assert len(samples) == expected["sample_count"]
    table = expected.get("samples_u32") or expected["samples"]
    for index, values in expected_rows(table, len(samples)):
        row = samples[index].tolist()
        if "samples_u32" in expected:
            row = [value & 0xFFFFFFFF for value in row]
        assert row == values, f"sample {index}"


def check_pmd_ref_sample(v):
    params = v["decode_params"]
    ref = parse_reference_sample(bytes.fromhex(v["hex"]), params["channels"], params["resolution_bits"])
    assert ref == v["expected"]["ref"]


def check_pmd_cp_response(v):
    expected = v["expected"]
    response = parse_control_point(bytes.fromhex(v["hex"]))
    assert isinstance(response, PmdControlPointResponse)
    assert response.response_code == expected["response_code"]
    assert response.op_code == expected["op_code"]
    assert response.op_name == expected["op_name"]
    assert response.measurement_type == expected["measurement_type"]
    assert response.status == expected["status"]
    assert response.status_name == expected["status_name"]
    assert response.more == expected["more"]
    assert response.parameters.hex() == expected["parameters_hex"]
    # The live decoder turns a refusal into a CommandRefused event naming the status (not an error).
    decoder = PolarH10Decoder()
    events = decoder.receive_data(PMD_CONTROL_POINT, bytes.fromhex(v["hex"]), 0.0)
    if expected["status"] == 0:
        assert events == []
    else:
        (refused,) = events
        assert isinstance(refused, CommandRefused) and refused.status == expected["status_name"]
        assert expected["status_name"] in refused.reason
        assert decoder.stats.control_errors == 1 and decoder.stats.malformed == 0


def check_pmd_cp_stop_notification(v):
    message = parse_control_point(bytes.fromhex(v["hex"]))
    assert isinstance(message, PmdMeasurementStopped)
    assert bytes.fromhex(v["hex"])[0] == v["expected"]["command"]
    assert list(message.measurement_types) == v["expected"]["stopped_measurement_types"]
    decoder = PolarVeritySenseDecoder()
    (stopped,) = decoder.receive_data(PMD_CONTROL_POINT, bytes.fromhex(v["hex"]), 0.0)
    assert isinstance(stopped, StreamStopped), "ACC (type 2) was among the stopped streams"
    assert decoder.stopped_by_sensor


def check_pmd_settings(v):
    settings = parse_pmd_settings(bytes.fromhex(v["hex"]))
    assert settings == v["expected"]
    assert "range_milliunit" not in settings and "factor" not in settings


def check_pmd_start_command(v):
    params, expected = v["decode_params"], v["expected"]
    settings = {name.lower(): value for name, value in params["settings"].items()}
    command = build_start_command(settings, offline=params["recording"] == "OFFLINE")
    assert command.hex().startswith(v["hex_asserted_prefix"])
    assert command.hex() == v["hex"]
    assert command[0] == expected["op_code"]
    assert command[1] & 0x7F == expected["measurement_type"]
    assert bool(command[1] & 0x80) == expected["offline"]


def check_pmd_header_sequence(v):
    reader = PmdFrameReader()
    acc = [reader.read(bytes.fromhex(h)) for h in v["hex_sequence"]]
    acc = [frame for frame in acc if frame.measurement_type == 2]
    assert len(acc) == len(v["expected"]["acc_frames"])
    for frame, expected in zip(acc, v["expected"]["acc_frames"], strict=True):
        assert frame.timestamp_ns == expected["timestamp_ns"]
        assert frame.previous_timestamp_ns == expected["previous_timestamp_ns"]
        if "frame_type" in expected:
            assert frame.frame_type == expected["frame_type"]
            assert frame.compressed == expected["compressed"]
            assert frame.content.hex() == expected["content_hex"]


def check_gsp_command(v):
    expected = v["expected"]
    if expected["command_name"] == "SUBSCRIBE":
        assert gsp_subscribe(expected["reference"], expected["path"]).hex() == v["hex"]
        decoder = MovesenseDecoder(13, reference=expected["reference"])
        assert decoder.start_commands()[0].data.hex() == v["hex"]
    else:
        assert gsp_unsubscribe(expected["reference"]).hex() == v["hex"]
        assert MovesenseDecoder(reference=expected["reference"]).stop_commands()[0].data.hex() == v["hex"]
    assert bytes.fromhex(v["hex"])[0] == expected["command"]


def check_gsp_command_and_response(v):
    expected = v["expected"]
    assert gsp_hello(expected["reference"]).hex() == v["hex"]
    decoder = MovesenseDecoder()
    reply = bytes.fromhex(v["response_hex"])
    assert reply[0] == expected["response"]["type"] and reply[1] == expected["response"]["reference"]
    assert len(samples_of(decoder.receive_data(GSP_NOTIFY, reply, 0.0))) == 0
    assert decoder.hello_text == expected["response"]["text"]


def check_wit_0x61_stream(v):
    data, expected = bytes.fromhex(v["hex"]), v["expected"]
    raw = parse_combined_packets(data)
    assert len(raw) == expected["packet_count"]
    decoder = WitMotionDecoder()
    chunk = samples_of(decoder.receive_data(WIT_NOTIFY, data, 1_700_000_000.0))
    assert len(chunk) == expected["packet_count"]
    if "packet0" in expected:
        p0 = expected["packet0"]
        assert chunk.xyz[0, 2] == pytest.approx(p0["acc_z_g"]["value"], abs=p0["acc_z_g"]["abs_tol"])
        assert raw[0, 8] / 32768 * 180 == pytest.approx(
            p0["angle_z_deg"]["value"], abs=p0["angle_z_deg"]["abs_tol"]
        )
        # Scaling from the decode parameters: g = raw / 32768 * full scale.
        full_scale = v["decode_params"]["acc_full_scale_g"]
        assert np.allclose(chunk.xyz, raw[:, 0:3] / 32768 * full_scale)


def check_wit_commands(v):
    commands = {name: bytes.fromhex(h) for name, h in v["commands_hex"].items()}
    assert list(read_register_command(0x3A)) == v["expected"]["read_mag"]
    assert read_register_command(0x3A) == commands["read_mag"]
    assert read_register_command(0x51) == commands["read_quat"]
    assert read_register_command(0x40) == commands["read_temp"]
    assert commands["unlock"] == UNLOCK and commands["save"] == SAVE
    starts = [c.data for c in WitMotionDecoder(save_rate=True).start_commands()]
    assert starts[0] == commands["unlock"] and starts[-1] == commands["save"]


CHIPS = ("bmi270", "bmi160")


def _metawear_chips(v) -> tuple[str, ...]:
    """The chips a MetaWear vector is asserted for (both when the SDK's two test files agree)."""
    chip = v.get("decode_params", {}).get("chip")
    return (chip,) if chip else CHIPS


def check_metawear_command(v):
    expected, params = v["expected"], v.get("decode_params", {})
    for chip in _metawear_chips(v):
        if "table_hex" in expected:  # config command for every ODR of the SDK's table
            for rate, command in expected["table_hex"].items():
                assert config_command(float(rate), expected["range_g"], chip).hex() == command, (
                    f"{chip} {rate} Hz"
                )
            live = MetaMotionDecoder(params["rate_hz"], range_g=params["range_g"], chip=chip)
            assert live.start_commands()[0].data.hex() == v["hex"]
        elif "odr_hz" in expected:
            assert config_command(expected["odr_hz"], expected["range_g"], chip).hex() == v["hex"]
            live = MetaMotionDecoder(expected["odr_hz"], range_g=expected["range_g"], chip=chip)
            assert live.start_commands()[0].data.hex() == v["hex"]
        elif "start" in expected:  # subscribe to (packed) data, and its reverse
            live = MetaMotionDecoder(
                200 if params.get("packed") else 25, chip=chip, packed=params.get("packed")
            )
            assert live.start_commands()[1].data.hex() == expected["start"]
            assert live.stop_commands()[-1].data.hex() == expected["stop"]
        elif "enable" in expected:
            live = MetaMotionDecoder(25, chip=chip)
            assert live.start_commands()[2].data.hex() == expected["enable"]
            assert live.stop_commands()[1].data.hex() == expected["disable"]
        else:  # enable sampling, then start (power on): the last two accelerometer commands
            live = MetaMotionDecoder(25, chip=chip)
            acc = [c.data.hex() for c in live.start_commands() if c.data[0] == 0x03]
            assert acc[-2:] == expected["commands_hex"]


def _sdk_is_close(a: float, b: float) -> bool:
    """MetaWear-SDK-Python's CartesianFloat equality: |a-b| <= max(0.001 * max(|a|, |b|), 0.001)."""
    return abs(a - b) <= max(0.001 * max(abs(a), abs(b)), 0.001)


def check_metawear_acc_notification(v):
    params, expected = v["decode_params"], v["expected"]
    packed = expected["sample_count"] > 1
    decoder = MetaMotionDecoder(200 if packed else 25, range_g=params["range_g"], chip=params["chip"])
    chunk = samples_of(decoder.receive_data(METAWEAR_NOTIFY, bytes.fromhex(v["hex"]), 1_795_000_000.0))
    assert len(chunk) == expected["sample_count"]
    for index, values in expected_rows(expected["samples_g"], len(chunk)):
        got = chunk.xyz[index].astype(float).tolist()
        assert all(map(_sdk_is_close, got, values)), f"sample {index}: {got} != {values}"


CHECKS = {name.removeprefix("check_"): fn for name, fn in globals().items() if name.startswith("check_")}


# The same vendor frames through the live decoders (what sitless actually runs) -----------------------


def _vector(vector_id: str) -> dict:
    return next(v for v in VECTORS if v["id"] == vector_id)


def test_live_polar_decoder_turns_the_raw_vendor_frame_into_g_at_the_sensors_times():
    v = _vector("polar-pmd-acc-raw-type1-original-header")
    frame_ns = parse_pmd_frame(bytes.fromhex(v["hex"])).timestamp_ns
    frame_unix = frame_ns / 1e9 + POLAR_EPOCH_UNIX_S
    decoder = PolarVeritySenseDecoder()  # 52 Hz, like the vector
    chunk = samples_of(
        decoder.receive_data(PMD_DATA, bytes.fromhex(v["hex"]), arrival_time=frame_unix + 0.05)
    )
    assert len(chunk) == 36
    assert chunk.xyz[0].tolist() == pytest.approx([-0.009, -0.001, 0.999])
    assert chunk.t[-1] == pytest.approx(frame_unix, abs=1e-6), "the frame timestamp is the LAST sample's"
    assert np.diff(chunk.t) == pytest.approx(1 / 52, abs=1e-6)
    assert decoder.clock_offset_s == 0.0, "a device clock that agrees with the host is used as is"


def test_live_polar_decoder_anchors_an_unsynced_device_clock_to_arrival_time():
    v = _vector("polar-pmd-acc-raw-type1")  # device clock 2 s after 2000-01-01: never synced
    decoder = PolarVeritySenseDecoder()
    chunk = samples_of(decoder.receive_data(PMD_DATA, bytes.fromhex(v["hex"]), arrival_time=1_795_000_000.0))
    assert chunk.t[-1] == pytest.approx(1_795_000_000.0)
    assert np.all(np.diff(chunk.t) > 0)


def test_live_polar_decoder_applies_the_delta_frame_factor_to_get_g():
    v = _vector("polar-pmd-acc-delta-type0")
    decoder = PolarVeritySenseDecoder(factor=v["decode_params"]["factor"])
    chunk = samples_of(decoder.receive_data(PMD_DATA, bytes.fromhex(v["hex"]), arrival_time=1_795_000_000.0))
    assert len(chunk) == 57
    assert chunk.xyz[0].tolist() == pytest.approx([0.464, 6.679, -7.144], abs=1e-6)
