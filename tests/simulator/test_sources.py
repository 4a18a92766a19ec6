"""The simulated and replay sources stream BLE-sized packets in time order, paced at the asked speed."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.recordings import write_recording
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from sitless.firmware_bridge.sources import ReplaySource, SimulatedSource


async def collect(source, limit: int | None = None, start_at: float | None = None) -> list[SampleChunk]:
    packets = []
    async for packet in source.chunks(start_at):
        packets.append(packet)
        if limit is not None and len(packets) >= limit:
            break
    return packets


def test_simulated_source_streams_exactly_the_simulated_recording() -> None:
    config = SimulationConfig(hours=0.2, rate_hz=25.0, seed=3, packet_loss=0.05)
    source = SimulatedSource(config, speed=math.inf)
    packets = asyncio.run(collect(source))
    assert max(p.duration_s for p in packets) <= 60.0  # played fast, packets are joined up to a minute
    joined = SampleChunk.concat(packets)
    whole = simulate(config).samples
    assert np.array_equal(joined.t, whole.t) and np.array_equal(joined.xyz, whole.xyz)
    assert (np.diff(joined.t) > 0).all()
    assert source.sensor_id and source.name and source.battery_percent == 100


def test_at_a_live_pace_each_chunk_is_one_ble_packet() -> None:
    config = SimulationConfig(hours=0.1, rate_hz=25.0, seed=3)
    packets = asyncio.run(collect(SimulatedSource(config, speed=10.0), limit=5))
    assert [len(p) for p in packets] == [config.packet_samples] * 5


def test_a_resuming_daemon_skips_samples_before_start_at() -> None:
    config = SimulationConfig(hours=0.1, rate_hz=25.0, seed=3)
    source = SimulatedSource(config, speed=math.inf)
    packets = asyncio.run(collect(source, start_at=config.start + 100.0))
    whole = simulate(config).samples
    joined = SampleChunk.concat(packets)
    assert joined.t[0] >= config.start + 100.0
    assert np.array_equal(joined.t, whole.t[whole.t >= config.start + 100.0])


def test_simulated_battery_drains_slowly_over_days() -> None:
    config = SimulationConfig(hours=25.0, rate_hz=12.5, seed=2, schedule="fullday", packet_samples=1000)
    source = SimulatedSource(config, speed=math.inf)

    async def last_battery() -> int:
        async for packet in source.chunks():
            if packet.t[-1] - config.start > 24 * 3600:
                return source.battery_percent
        raise AssertionError("the stream ended early")

    battery = asyncio.run(last_battery())
    assert 70 <= battery < 100


def test_sources_pace_data_time_at_the_asked_speed() -> None:
    config = SimulationConfig(hours=0.1, rate_hz=50.0, seed=1)
    source = SimulatedSource(config, speed=20.0)  # 20 data seconds per wall second
    began = time.monotonic()
    packets = asyncio.run(collect(source, limit=25))  # 25 chunks of 2 packets of 20 samples = 20 s of data
    elapsed = time.monotonic() - began
    span = packets[-1].t[-1] - packets[0].t[-1]
    assert span / 20.0 - 0.05 <= elapsed < span / 20.0 + 0.8


def test_replay_source_plays_a_file_back_in_packets(tmp_path) -> None:
    recording = simulate(SimulationConfig(hours=0.1, rate_hz=50.0, seed=4)).samples
    path = tmp_path / "day.npz"
    write_recording(path, recording)
    source = ReplaySource(path, speed=10.0, packet_samples=25)
    packets = asyncio.run(collect(source, limit=20))  # 10 s of data at 10x: one packet per chunk
    assert [len(p) for p in packets] == [25] * 20
    joined = SampleChunk.concat(asyncio.run(collect(ReplaySource(path, packet_samples=25))))
    assert np.array_equal(joined.t, recording.t)
    assert source.battery_percent is None and "day.npz" in source.name
