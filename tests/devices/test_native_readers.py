"""Native readers of research devices' files (.cwa, .gt3x, GENEActiv .bin, ActiLife CSV).

Every real fixture (tests/data/devices, sources in tests/data/README.md) is read by sitless and by actfast
(an independent reader in Rust, a dev-only dependency) in the same test and compared sample for sample.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import actfast
import numpy as np
import pytest

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings import (
    RecordingError,
    iter_recording,
    read_recording,
    read_recording_with_problems,
)
from sitless.firmware_bridge.recordings_native import device_info, sniff_format
from tests.devices.cwa_synth import write_cwa

DEVICES = Path(__file__).resolve().parents[1] / "data" / "devices"
FIXTURES = sorted(p.name for p in DEVICES.iterdir() if p.suffix in (".cwa", ".gt3x", ".bin"))


def _reference(path: Path) -> tuple[np.ndarray, np.ndarray]:
    series = actfast.read(str(path))["timeseries"]
    table = series["high_frequency"] if "high_frequency" in series else series["acceleration"]
    return table["datetime"] / 1e9, table["acceleration"]


def test_all_nine_fixtures_are_here():
    assert len(FIXTURES) == 9, FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_agrees_with_actfast_sample_for_sample(name):
    path = DEVICES / name
    samples, problems = read_recording_with_problems(path)
    ref_t, ref_xyz = _reference(path)
    assert problems == []
    assert len(samples) == len(ref_t) > 0
    # The same accelerations, bit for bit (the GENEActiv calibration in float32 to within rounding).
    np.testing.assert_allclose(samples.xyz, ref_xyz, rtol=0, atol=1e-6)
    rate = 1.0 / np.median(np.diff(ref_t))
    # actfast spaces a CWA block's samples at the nominal rate from its anchor; sitless between
    # consecutive anchors (the real rate). They may differ by up to a few samples' time, never more.
    tolerance = 2.5 / rate if path.suffix == ".cwa" else 1e-6
    assert np.abs(samples.t - ref_t).max() <= tolerance
    assert (np.diff(samples.t) > 0).all()


def test_cwa_body_location_and_device_come_from_the_header():
    info = device_info(DEVICES / "GGIRread_ax3_testfile.cwa")
    assert (info.device, info.rate_hz, info.body_location) == ("AX3", 100.0, "right wrist")
    assert device_info(DEVICES / "GGIRread_ax6_testfile.cwa").device == "AX6"
    assert device_info(DEVICES / "GGIR_actigraph_testfile.gt3x").body_location == "Waist"
    assert device_info(DEVICES / "skdh_gnactv_sample.bin").body_location == "back"


def test_cwa_reads_the_same_in_small_pieces_as_at_once(monkeypatch):
    import sitless.firmware_bridge.recordings_cwa as cwa

    path = DEVICES / "GGIRread_ax3_testfile.cwa"
    whole = read_recording(path)
    monkeypatch.setattr(cwa, "BLOCKS_PER_READ", 3)
    pieces = list(iter_recording(path, 100))
    assert max(len(p) for p in pieces) <= 100
    joined = SampleChunk.concat(pieces)
    np.testing.assert_array_equal(joined.xyz, whole.xyz)
    assert np.abs(joined.t - whole.t).max() < 1e-4


def test_cwa_block_failing_its_checksum_is_skipped_reported_and_left_as_a_gap(tmp_path):
    data = bytearray((DEVICES / "openmovement_example-610-steps.cwa").read_bytes())
    data[1024 + 512 * 10 + 100] ^= 0xFF  # a flipped byte in block 10's samples
    damaged = tmp_path / "damaged.cwa"
    damaged.write_bytes(bytes(data))
    samples, problems = read_recording_with_problems(damaged)
    assert len(samples) == 71400 - 120
    assert [str(p) for p in problems] == [
        f"{damaged}: block 10 (byte 6144) failed its checksum: skipped, left as a gap"
    ]
    assert np.diff(samples.t).max() > 1.1  # the block's 1.2 s are missing, not invented
    strict = read_recording(damaged)  # strict mode too: one bad block is never fatal
    assert len(strict) == len(samples)


def test_truncated_cwa_names_the_file_and_offset(tmp_path):
    data = (DEVICES / "skdh_ax6_sample.cwa").read_bytes()
    cut = tmp_path / "cut.cwa"
    cut.write_bytes(data[: 1024 + 512 * 5 + 200])
    samples, problems = read_recording_with_problems(cut)
    assert len(samples) == 5 * 40
    assert str(problems[-1]) == f"{cut}: byte 3584: the file ends inside a block (cut short?)"
    cut.write_bytes(data[:600])
    with pytest.raises(RecordingError, match=r"cut\.cwa: byte 600: file ends inside the 1024-byte CWA header"):
        read_recording(cut)


def test_every_rate_range_and_layout_reads_back_and_agrees_with_actfast(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "synthetic.cwa"
    for rate in (6.25, 12.5, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0):
        for range_g in (2, 4, 8, 16):
            for layout, step in (("packed", 8 / 256), ("16bit", 1 / 256), ("ax6", 1 / 2048)):
                n = max(int(rate * 12), 480)
                t = 1.75e9 + 0.37 + np.arange(n) / rate
                xyz = np.clip(rng.normal(0, range_g / 3, (n, 3)), -range_g + 0.01, range_g - 0.01)
                write_cwa(path, [SampleChunk(t, xyz.astype(np.float32))], rate, range_g, layout=layout)
                samples, problems = read_recording_with_problems(path)
                assert problems == []
                assert np.abs(samples.xyz - xyz[: len(samples)]).max() <= step, (rate, range_g, layout)
                assert np.abs(samples.t - t[: len(samples)]).max() < 1e-4, (rate, range_g, layout)
                np.testing.assert_array_equal(_reference(path)[1], samples.xyz)


def test_ax6_gyroscope_is_ignored(tmp_path):
    t = 1.75e9 + np.arange(400) / 100.0
    xyz = np.tile(np.float32([0.0, 0.0, 1.0]), (400, 1))
    write_cwa(tmp_path / "ax6.cwa", [SampleChunk(t, xyz)], 100.0, 8, layout="ax6")
    samples = read_recording(tmp_path / "ax6.cwa")
    np.testing.assert_array_equal(samples.xyz, xyz)  # the writer's gyro channels read 1234 counts


def test_gt3x_idle_sleep_seconds_are_gaps_not_still_data():
    samples = read_recording(DEVICES / "GGIR_actigraph_testfile.gt3x")
    span = samples.t[-1] - samples.t[0]
    assert span > 29 * 60  # 29.5 minutes on the clock
    assert len(samples) == 17640  # but only 9.8 minutes of samples at 30 Hz
    assert np.diff(samples.t).max() > 200  # the longest idle-sleep spell, left empty


def _rewrite_gt3x(tmp_path: Path, change) -> Path:
    source = zipfile.ZipFile(DEVICES / "actfast_actigraph.gt3x")
    out = tmp_path / "changed.gt3x"
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, change(data) if name == "log.bin" else data)
    return out


def test_gt3x_record_failing_its_checksum_is_skipped_and_reported(tmp_path):
    def flip_in_first_activity(log: bytes) -> bytes:
        position = 0
        while log[position + 1] != 0x00 or int.from_bytes(log[position + 6 : position + 8], "little") < 10:
            position += 8 + int.from_bytes(log[position + 6 : position + 8], "little") + 1
        self_position[0] = position
        return log[: position + 20] + bytes([log[position + 20] ^ 0xFF]) + log[position + 21 :]

    self_position = [0]
    damaged = _rewrite_gt3x(tmp_path, flip_in_first_activity)
    samples, problems = read_recording_with_problems(damaged)
    assert len(samples) == 4860 - 60
    assert [str(p) for p in problems] == [
        f"{damaged}: log.bin byte {self_position[0]}: record failed its checksum: skipped, left as a gap"
    ]


def test_gt9x_activity2_records_are_read_and_an_idle_record_is_a_gap(tmp_path):
    """A GT9X writes ACTIVITY2 (0x1a) records, signed 16-bit X, Y, Z; actfast returns nothing for them,
    so this file is written by the test (the GT3X file format's layout) from the real wGT3X-BT samples."""
    real = read_recording(DEVICES / "actfast_actigraph.gt3x")
    first = int(real.t[0])

    def record(kind: int, when: int, payload: bytes) -> bytes:
        body = bytes([0x1E, kind]) + when.to_bytes(4, "little") + len(payload).to_bytes(2, "little") + payload
        checksum = 0
        for byte in body:
            checksum ^= byte
        return body + bytes([~checksum & 0xFF])

    counts = np.round(real.xyz[:180] * 256).astype("<i2")
    log = b"".join(record(0x1A, first + s, counts[s * 60 : (s + 1) * 60].tobytes()) for s in range(3))
    log += record(0x1A, first + 3, b"\x00")  # idle sleep: one byte, no samples
    source = zipfile.ZipFile(DEVICES / "actfast_actigraph.gt3x")
    gt9x = tmp_path / "gt9x.gt3x"
    with zipfile.ZipFile(gt9x, "w") as target:
        target.writestr("info.txt", source.read("info.txt").replace(b"wGT3XBT", b"GT9X"))
        target.writestr("log.bin", log)
    samples, problems = read_recording_with_problems(gt9x)
    assert problems == [] and len(samples) == 180
    np.testing.assert_array_equal(samples.xyz, real.xyz[:180])
    np.testing.assert_allclose(samples.t, real.t[:180], atol=1e-6)


def test_gt3x_without_a_scale_line_uses_the_model_s_scale(tmp_path):
    source = zipfile.ZipFile(DEVICES / "actfast_actigraph.gt3x")
    info = b"\n".join(line for line in source.read("info.txt").split(b"\n") if b"Acceleration Scale" not in line)
    for serial, scale in ((b"MOS2E17210537", 256.0), (b"CLE2B21130054", 341.0)):
        older = tmp_path / f"{serial.decode()}.gt3x"
        with zipfile.ZipFile(older, "w") as target:
            target.writestr("info.txt", info.replace(b"MOS2E17210537", serial))
            target.writestr("log.bin", source.read("log.bin"))
        samples = read_recording(older)
        np.testing.assert_allclose(samples.xyz, _reference(DEVICES / "actfast_actigraph.gt3x")[1] * 256.0 / scale, rtol=1e-6)


def test_truncated_gt3x_log_is_reported_with_its_offset(tmp_path):
    cut = _rewrite_gt3x(tmp_path, lambda log: log[: len(log) // 2])
    samples, problems = read_recording_with_problems(cut)
    assert 0 < len(samples) < 4860
    assert "the last record is cut short" in str(problems[-1]) and "log.bin byte " in str(problems[-1])


def test_geneactiv_damaged_page_is_skipped_and_named_by_line(tmp_path):
    lines = (DEVICES / "actfast_geneactiv.bin").read_bytes().split(b"\n")
    page_2_hex = next(i for i, line in enumerate(lines) if line.startswith(b"Sequence Number:2")) + 7
    lines[page_2_hex] = lines[page_2_hex][:100]
    damaged = tmp_path / "damaged.bin"
    damaged.write_bytes(b"\n".join(lines))
    samples, problems = read_recording_with_problems(damaged)
    assert len(samples) == 6000 - 300
    assert len(problems) == 1 and "page 2: 100 hex digits, expected 3600" in str(problems[0])
    assert problems[0].line == page_2_hex - 8


def test_geneactiv_with_windows_line_ends_and_a_blank_last_line_reads_the_same(tmp_path):
    original = DEVICES / "skdh_gnactv_sample.bin"
    crlf = tmp_path / "crlf.bin"
    crlf.write_bytes(original.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n")
    samples, problems = read_recording_with_problems(crlf)
    assert problems == []
    np.testing.assert_array_equal(samples.xyz, read_recording(original).xyz)


def _actilife(samples: SampleChunk, *, timestamps: bool, date_format: str = "M/d/yyyy") -> bytes:
    lines = [
        "------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 Firmware v1.9.2 date format "
        f"{date_format} at 30 Hz  Filter Normal -----------",
        "Serial Number: MOS2E39180594",
        "Start Time 10:00:00",
        "Start Date 8/26/2020" if date_format == "M/d/yyyy" else "Start Date 26/8/2020",
        "Epoch Period (hh:mm:ss) 00:00:00",
        "Download Time 12:05:12",
        "Download Date 8/26/2020",
        "Current Memory Address: 0",
        "Current Battery Voltage: 4.03     Mode = 12",
        "--------------------------------------------------",
        ("Timestamp," if timestamps else "") + "Accelerometer X,Accelerometer Y,Accelerometer Z",
    ]
    out = io.StringIO()
    out.write("\n".join(lines) + "\n")
    for i, (x, y, z) in enumerate(samples.xyz):
        stamp = f"8/26/2020 10:00:{i / 30:06.3f}," if timestamps else ""
        out.write(f"{stamp}{x:.3f},{y:.3f},{z:.3f}\n")
    return out.getvalue().encode()


@pytest.mark.parametrize("timestamps", [True, False])
def test_actilife_export_is_recognised_by_its_header_and_read(tmp_path, timestamps):
    """No ActiLife export with a permissive licence exists in ../shared: this one is written by the test
    in ActiLife's documented layout, from the real GGIR GT3X samples."""
    real = read_recording(DEVICES / "GGIR_actigraph_testfile.gt3x").slice(0, 900)
    export = tmp_path / "subject7RAW.txt"  # named oddly on purpose: the content decides
    export.write_bytes(_actilife(real, timestamps=timestamps))
    assert sniff_format(export) == "actilife"
    samples = read_recording(export)
    assert len(samples) == 900
    np.testing.assert_allclose(samples.xyz, real.xyz, atol=5e-4)
    assert samples.t[0] == 1598436000.0  # 2020-08-26 10:00:00 on the device's clock
    np.testing.assert_allclose(np.diff(samples.t), 1 / 30, atol=1e-6)


def test_actilife_day_first_dates_and_a_bad_row_named_by_line(tmp_path):
    real = read_recording(DEVICES / "GGIR_actigraph_testfile.gt3x").slice(0, 90)
    text = _actilife(real, timestamps=False, date_format="d/M/yyyy").decode().split("\n")
    text[20] = "0.1,abc,0.3"
    export = tmp_path / "dayfirst.csv"
    export.write_text("\n".join(text))
    samples, problems = read_recording_with_problems(export)
    assert samples.t[0] == 1598436000.0 and len(samples) == 89
    assert [p.line for p in problems] == [21]
    with pytest.raises(RecordingError, match=r"dayfirst\.csv line 21: not an x,y,z row"):
        read_recording(export)


@pytest.mark.parametrize("name", ["GGIRread_ax3_testfile.cwa", "actfast_geneactiv.bin"])
def test_gzip_compressed_device_files_stream_as_the_plain_ones(name, tmp_path):
    """UK Biobank ships .cwa.gz: read as they are, through gzip, in the same bounded memory."""
    import gzip

    compressed = tmp_path / f"{name}.gz"
    compressed.write_bytes(gzip.compress((DEVICES / name).read_bytes()))
    plain, packed = read_recording(DEVICES / name), read_recording(compressed)
    np.testing.assert_array_equal(packed.t, plain.t)
    np.testing.assert_array_equal(packed.xyz, plain.xyz)
    assert device_info(compressed).body_location == device_info(DEVICES / name).body_location


def test_a_gzip_compressed_sitless_csv_is_refused_with_what_to_do(tmp_path):
    import gzip

    compressed = tmp_path / "day.csv.gz"
    compressed.write_bytes(gzip.compress(b"timestamp,x,y,z\n1800000000.0,0,0,1\n"))
    with pytest.raises(RecordingError, match=r"day\.csv\.gz: a gzip-compressed sitless CSV file: decompress it first"):
        read_recording(compressed)


def test_format_is_recognised_from_content_not_the_name(tmp_path):
    disguised = tmp_path / "looks_like.csv"
    disguised.write_bytes((DEVICES / "skdh_ax6_sample.cwa").read_bytes())
    assert sniff_format(disguised) == "cwa"
    assert len(read_recording(disguised)) == 10360
    foreign = tmp_path / "holiday.cwa"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    with pytest.raises(RecordingError, match=r"holiday\.cwa: byte 0: .* is not a CWA header"):
        read_recording(foreign)
    broken_zip = tmp_path / "broken.gt3x"
    broken_zip.write_bytes((DEVICES / "actfast_actigraph.gt3x").read_bytes()[:3000])
    with pytest.raises(RecordingError, match=r"broken\.gt3x"):
        read_recording(broken_zip)
