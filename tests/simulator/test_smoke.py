"""First contract checks: the simulator and recording formats work end to end."""

from __future__ import annotations

import numpy as np

from firmware_bridge.recordings import read_recording, write_recording
from firmware_bridge.simulate import SimulationConfig, simulate


def test_simulated_hour_round_trips_through_csv_and_npz(tmp_path) -> None:
    recording = simulate(SimulationConfig(hours=1.0, rate_hz=25.0, seed=3))
    assert len(recording.truth) == 3600
    for name in ("hour.csv", "hour.npz"):
        write_recording(tmp_path / name, recording.samples)
        back = read_recording(tmp_path / name)
        assert np.allclose(back.t, recording.samples.t, atol=1e-6)
        assert np.allclose(back.xyz, recording.samples.xyz, atol=1e-5)
