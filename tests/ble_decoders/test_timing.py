"""Time: sensor timestamps where the protocol has them, otherwise arrival time smoothed with the nominal
rate; lost packets detected and gaps marked; samples never emitted out of order."""

from __future__ import annotations

import numpy as np
import pytest

from sitless.firmware_bridge.decoders.base import ProtocolError
from sitless.firmware_bridge.decoders.events import Gap
from sitless.firmware_bridge.decoders.microbit import MICROBIT_ACC_DATA, MicrobitDecoder
from sitless.firmware_bridge.decoders.movesense import GSP_NOTIFY, MovesenseDecoder
from sitless.firmware_bridge.decoders.polar import PMD_DATA, PolarH10Decoder
from sitless.firmware_bridge.decoders.timing import ArrivalClock
from sitless.firmware_bridge.decoders.witmotion import WIT_NOTIFY, WitMotionDecoder
from tests.ble_decoders.packets import movesense_data, polar_raw_frame, samples_of, witmotion_packet

pytestmark = pytest.mark.ble
T0 = 1_795_000_000.0
GRAVITY_MG = np.tile([0, 0, 1000], (10, 1))


def _microbit_stream(decoder, arrivals):
    chunks = [
        samples_of(decoder.receive_data(MICROBIT_ACC_DATA, b"\x00\x00\x00\x00\xe8\x03", a)) for a in arrivals
    ]
    return np.concatenate([c.t for c in chunks])


def test_jittery_ble_arrivals_become_evenly_spaced_samples_close_to_arrival_time():
    rng = np.random.default_rng(1)
    true_times = T0 + np.arange(500) / 25
    arrivals = true_times + 0.03 + rng.uniform(0, 0.04, 500)  # latency plus connection-event jitter
    arrivals = np.maximum.accumulate(arrivals)
    t = _microbit_stream(MicrobitDecoder(25), arrivals)
    assert np.all(np.diff(t) > 0), "timestamps never go backwards"
    steps = np.diff(t)[50:]
    assert np.median(steps) == pytest.approx(0.04, rel=0.01)
    assert np.std(steps) < 0.004, "jitter is smoothed away"
    assert np.max(np.abs(t[50:] - arrivals[50:])) < 0.1, "the clock stays with the arrivals"


def test_a_long_silence_is_a_gap_and_the_clock_restarts_at_arrival():
    decoder = MicrobitDecoder(25)
    before = T0 + np.arange(50) / 25
    after = before[-1] + 5.0 + np.arange(50) / 25
    arrivals = np.concatenate([before, after])
    events = [decoder.receive_data(MICROBIT_ACC_DATA, b"\x00\x00\x00\x00\xe8\x03", a) for a in arrivals]
    t = np.concatenate([samples_of(e).t for e in events])
    gaps = [event for packet in events for event in packet if isinstance(event, Gap)]
    assert decoder.stats.gaps == len(gaps) == 1
    assert events[50][0] is gaps[0], "the gap is reported before the samples after it"
    gap_start, gap_end = gaps[0].start, gaps[0].end
    assert gap_start == pytest.approx(t[49]) and gap_end == pytest.approx(after[0], abs=0.01)
    assert t[50] == pytest.approx(after[0], abs=0.01)
    assert decoder.stats.lost_packets == 0, "without sequence numbers nothing can be counted as lost"


def test_bursts_of_notifications_in_one_connection_event_stay_in_order():
    decoder = WitMotionDecoder(20)
    arrivals = np.repeat(T0 + np.arange(100) * 0.15, 3)  # three 1-sample packets every 150 ms
    chunks = [
        samples_of(decoder.receive_data(WIT_NOTIFY, witmotion_packet((0, 0, 2048)), a)) for a in arrivals
    ]
    t = np.concatenate([c.t for c in chunks])
    assert np.all(np.diff(t) > 0)
    assert np.median(np.diff(t)) == pytest.approx(
        0.05, rel=0.05
    )  # 20 per second nominal... bursts every 150 ms
    assert decoder.stats.out_of_order == 0


def test_a_sensor_faster_than_asked_is_followed_after_a_few_seconds():
    clock = ArrivalClock(25.0)  # micro:bit asked for 40 ms that rounded to 20 ms
    arrivals = T0 + np.arange(1500) / 50
    stamps = np.concatenate([clock.stamp(1, a)[0] for a in arrivals])
    assert np.median(np.diff(stamps[-200:])) == pytest.approx(0.02, rel=0.05)
    assert abs(stamps[-1] - arrivals[-1]) < 0.5


def test_polar_lost_frame_is_counted_and_the_next_frame_keeps_its_nominal_spacing():
    decoder = PolarH10Decoder(25)
    frames = [polar_raw_frame(T0 + (k + 1) * 10 / 25, GRAVITY_MG) for k in range(4)]
    decoder.receive_data(PMD_DATA, frames[0], T0 + 0.45)
    decoder.receive_data(PMD_DATA, frames[1], T0 + 0.85)
    gap, samples = decoder.receive_data(PMD_DATA, frames[3], T0 + 1.65)  # frames[2] never arrived
    chunk = samples.chunk
    assert decoder.stats.lost_packets == 1 and decoder.stats.gaps == 1
    assert isinstance(gap, Gap) and gap.lost_packets == 1 and gap.end == pytest.approx(chunk.t[0])
    assert np.diff(chunk.t) == pytest.approx(0.04, abs=1e-6), "not stretched over the lost frame's time"
    assert chunk.t[-1] == pytest.approx(T0 + 1.6, abs=1e-6)


def test_polar_frame_from_before_a_device_clock_step_is_never_emitted_out_of_order():
    decoder = PolarH10Decoder(25)
    first = samples_of(decoder.receive_data(PMD_DATA, polar_raw_frame(T0 + 0.4, GRAVITY_MG), T0 + 0.45))
    stepped_back = samples_of(
        decoder.receive_data(PMD_DATA, polar_raw_frame(T0 + 0.2, GRAVITY_MG), T0 + 0.85)
    )
    assert len(stepped_back) == 0 or stepped_back.t[0] >= first.t[-1]
    assert decoder.stats.out_of_order + len(stepped_back) == 10
    assert decoder.stats.out_of_order > 0


def test_movesense_clock_wrap_after_49_days_keeps_time_running_forward():
    decoder = MovesenseDecoder(26)
    g = np.tile([0.0, 0.0, 9.80665], (2, 1))
    start_ms = (1 << 32) - 100
    step_ms = round(2000 / 26)
    t = []
    for k in range(6):
        chunk = samples_of(
            decoder.receive_data(GSP_NOTIFY, movesense_data(99, start_ms + k * step_ms, g), T0 + k * 0.077)
        )
        t.extend(chunk.t)
    assert np.all(np.diff(t) > 0)
    assert np.diff(t) == pytest.approx(np.diff(t)[0], abs=0.002), "no jump at the wrap"
    assert decoder.stats.gaps == 0 and decoder.stats.lost_packets == 0


def test_movesense_missing_packets_are_counted_from_device_time():
    decoder = MovesenseDecoder(26)
    g = np.tile([0.0, 0.0, 9.80665], (2, 1))
    step_ms = round(2000 / 26)
    for k in (0, 1, 2, 6):  # packets 3, 4 and 5 lost
        samples_of(
            decoder.receive_data(GSP_NOTIFY, movesense_data(99, 5000 + k * step_ms, g), T0 + k * 0.077)
        )
    assert decoder.stats.lost_packets == 3
    assert decoder.stats.gaps == 1


def test_a_bad_packet_is_counted_and_the_next_good_one_still_decodes():
    decoder = WitMotionDecoder()
    with pytest.raises(ProtocolError, match="20-byte"):
        samples_of(decoder.receive_data(WIT_NOTIFY, witmotion_packet((0, 0, 2048))[:13], T0))
    with pytest.raises(ProtocolError, match="oversized"):
        samples_of(decoder.receive_data(WIT_NOTIFY, witmotion_packet((0, 0, 2048)) * 30, T0))
    chunk = samples_of(decoder.receive_data(WIT_NOTIFY, witmotion_packet((0, 0, 2048)), T0 + 0.05))
    assert chunk.xyz[0].tolist() == [0.0, 0.0, 1.0]
    assert decoder.stats.malformed == 2 and decoder.stats.packets == 3 and decoder.stats.samples == 1
