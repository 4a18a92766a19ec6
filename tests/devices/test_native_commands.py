"""Every command that reads a recording takes research devices' files directly; `sitless convert`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sitless.cli import main
from sitless.firmware_bridge.recordings import read_recording
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.posture_csv import read_posture_csv
from tests.devices.cwa_synth import write_cwa

DEVICES = Path(__file__).resolve().parents[1] / "data" / "devices"
ONE_OF_EACH = ["GGIRread_ax6_testfile.cwa", "GGIR_actigraph_testfile.gt3x", "skdh_gnactv_sample.bin"]


@pytest.fixture(autouse=True)
def _private_folders(private_data_dir):
    """Every test here runs the commands with private data and config folders (tests/conftest.py)."""


@pytest.fixture(scope="module")
def simulated_cwa(tmp_path_factory):
    """A simulated thigh (2 h at 25 Hz, a rate the AX3 has) written as an AX3 would write it."""
    day = simulate(SimulationConfig(hours=2, rate_hz=25.0, seed=5, start=1_795_000_000.0))
    path = tmp_path_factory.mktemp("cwa") / "thigh.cwa"
    write_cwa(path, [day.samples], 25.0, 8, annotation="_p=left+thigh")
    return path, day


@pytest.mark.parametrize("name", ONE_OF_EACH)
def test_classify_takes_each_native_format(name, tmp_path):
    out = tmp_path / "postures.csv"
    assert main(["classify", str(DEVICES / name), "--out", str(out), "--no-calibration"]) == 0
    postures = read_posture_csv(out)
    samples = read_recording(DEVICES / name)
    assert len(postures) == int(np.floor(samples.t[-1])) - int(np.floor(samples.t[0])) + 1


def test_convert_writes_sitless_npz_and_csv_that_read_back_the_same(simulated_cwa, tmp_path, capsys):
    path, _ = simulated_cwa
    native = read_recording(path)
    for suffix in (".npz", ".csv"):
        out = tmp_path / f"thigh{suffix}"
        assert main(["convert", str(path), "--out", str(out), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["format"] == "Axivity CWA" and summary["body_location"] == "left thigh"
        assert summary["samples"] == len(native) and summary["problems"] == []
        back = read_recording(out)
        np.testing.assert_allclose(back.t, native.t, atol=1e-6 if suffix == ".csv" else 0)
        np.testing.assert_allclose(back.xyz, native.xyz, atol=1e-5 if suffix == ".csv" else 0)  # CSV: 5 decimals


def test_classify_of_a_cwa_equals_classify_of_its_conversion(simulated_cwa, tmp_path):
    path, day = simulated_cwa
    converted = tmp_path / "thigh.npz"
    assert main(["convert", str(path), "--out", str(converted)]) == 0
    for source, out in ((path, tmp_path / "a.csv"), (converted, tmp_path / "b.csv")):
        assert main(["classify", str(source), "--out", str(out), "--no-calibration"]) == 0
    native, npz = read_posture_csv(tmp_path / "a.csv"), read_posture_csv(tmp_path / "b.csv")
    np.testing.assert_array_equal(native.codes, npz.codes)
    # The 1/256-g quantisation of the device changes (almost) nothing against the simulator's truth.
    truth = day.truth
    lo, hi = max(native.start, truth.start), min(native.end, truth.end)
    agree = native.codes[lo - native.start : hi - native.start] == truth.codes[lo - truth.start : hi - truth.start]
    assert agree.mean() > 0.9


def test_calibrate_from_a_cwa_of_standing_still(tmp_path, capsys):
    from tests.classifier.conftest import still_sensor

    standing = tmp_path / "standing.cwa"
    write_cwa(standing, [still_sensor(6, 100.0, (0.0, -0.2, -0.98), start=1_800_000_000.0)], 100.0, 8)
    assert main(["calibrate", "--from", str(standing), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["up"][2] < -0.95


def test_replay_takes_a_cwa(simulated_cwa, tmp_path, capsys):
    path, _ = simulated_cwa
    config = tmp_path / "config.toml"
    config.write_text('[alerts]\ntimezone = "UTC"\n\n[mqtt]\ndevice_id = "cwa-test"\n')
    code = main(["replay", str(path), "--config", str(config), "--store", str(tmp_path / "s.db"), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["input"] == str(path) and isinstance(summary["prompts"], list)


def test_convert_refuses_a_foreign_file_in_one_line(tmp_path, capsys):
    foreign = tmp_path / "notes.cwa"
    foreign.write_text("dear diary")
    assert main(["convert", str(foreign), "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "notes.cwa: byte 0" in err and "not a CWA header" in err


def test_classify_warns_of_a_skipped_cwa_block_by_number_and_goes_on(tmp_path, caplog):
    data = bytearray((DEVICES / "skdh_ax3_sample.cwa").read_bytes())
    data[1024 + 512 * 7 + 300] ^= 0x55
    damaged = tmp_path / "damaged.cwa"
    damaged.write_bytes(bytes(data))
    assert main(["classify", str(damaged), "--out", str(tmp_path / "p.csv"), "--no-calibration"]) == 0
    assert f"{damaged}: 1 problem(s): block 7 (byte 4608) failed its checksum" in caplog.text
