"""Fixtures for running ``sitless run --device`` end to end: simulated thigh -> fake BlueZ -> daemon -> MQTT.

The sensor is a Polar H10 (the fake already speaks its PMD control point). Its packets carry the device's
own timestamps, which the decoder trusts when they are within a few minutes of the host clock; so the
simulated thigh can be streamed ``SPEED`` times faster than real time and the daemon sees minutes of data
(a sitting spell past the limit, then a stand) in seconds, timed by the sensor's clock as a real one is.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from sitless.analysis.postures import Posture
from sitless.analysis.samples import SampleChunk
from sitless.broker import BrokerError, start_private_broker
from sitless.firmware_bridge.simulate import SimulationConfig, simulate
from tests.ble_session.fake_bluez import Device, FakeBlueZ
from tests.ble_session.peripherals import PMD_CONTROL, PMD_DATA, POLAR_EPOCH_UNIX_S, polar_h10

#: Data seconds per wall second. The sensor clock runs ahead of the host's by (SPEED - 1) x the wall time
#: streamed; the Polar decoder keeps trusting it up to its ``max_clock_skew_s`` (300 s), so an 18-s stream
#: at 10x (160 s ahead at the end) stays on one consistent clock, across a reconnect too.
SPEED = 10.0
RATE_HZ = 25.0
SAMPLES_PER_PACKET = 25  # one second of data per notification (an H10 sends 36 at 50 Hz: same order)
SIT_BEFORE_STAND_S = 90  # data seconds of sitting streamed before the wearer stands up
STAND_S = 90  # data seconds of the stand that follows


@dataclass(frozen=True)
class ThighStretch:
    """A stretch of a simulated office day: the wearer sits, then stands up (ground truth known)."""

    samples: SampleChunk  # simulation time, g, thigh frame ("front" mounting)
    stand_up_offset_s: float  # seconds from the stretch's start to the moment the wearer stands
    postures: list[Posture]  # the truth's postures, in order (sitting first, standing last)


def sit_then_stand_stretch(seed: int = 2) -> ThighStretch:
    """The last ``SIT_BEFORE_STAND_S`` s of the first long sitting spell of a simulated day and the
    first ``STAND_S`` s of the standing spell after it (chosen from the truth, not hard-coded times)."""
    recording = simulate(SimulationConfig(hours=2, rate_hz=RATE_HZ, mounting="front", seed=seed))
    spells = recording.truth.spells()
    for sat, stood in zip(spells, spells[1:], strict=False):
        if (
            sat.posture == Posture.SITTING
            and sat.end - sat.start >= SIT_BEFORE_STAND_S
            and stood.posture == Posture.STANDING
            and stood.end - stood.start >= STAND_S
        ):
            t0, t1 = sat.end - SIT_BEFORE_STAND_S, sat.end + STAND_S
            inside = (recording.samples.t >= t0) & (recording.samples.t < t1)
            samples = SampleChunk(recording.samples.t[inside], recording.samples.xyz[inside])
            truth = recording.truth.codes[int(t0 - recording.truth.start) : int(t1 - recording.truth.start)]
            in_order = [Posture(code) for i, code in enumerate(truth) if i == 0 or code != truth[i - 1]]
            return ThighStretch(samples, float(sat.end - t0), in_order)
    raise AssertionError(f"simulated day (seed {seed}) has no long sitting spell followed by a long stand")


def polar_h10_frames(xyz_g: np.ndarray, rate_hz: float, device_start: float, per_packet: int) -> list[bytes]:
    """What an H10 sends: PMD data frames (02, u64 ns since 2000 of the LAST sample, type 01 = int16 mg)."""
    rows_mg = np.clip(np.round(xyz_g.astype(np.float64) * 1000), -32768, 32767).astype("<i2")
    frames = []
    for first in range(0, len(rows_mg), per_packet):
        block = rows_mg[first : first + per_packet]
        last_sample = device_start + (first + len(block) - 1) / rate_hz
        ns = round((last_sample - POLAR_EPOCH_UNIX_S) * 1e9)
        frames.append(bytes([0x02]) + struct.pack("<Q", ns) + bytes([0x01]) + block.tobytes())
    return frames


class PolarH10:
    """A Polar H10 that, like the real one, measures only between a start and a stop on the PMD control
    point of the current connection (a link loss ends the measurement; the central must start it again)."""

    def __init__(self, address: str) -> None:
        self.peripheral = polar_h10(address)
        self._answer = self.peripheral.on_write
        self.peripheral.on_write = self._on_write
        self.device: Device | None = None
        self._started_on: int | None = None  # the device's connect count when measuring was started
        self.starts = 0
        self.stops = 0

    def _on_write(self, uuid: str, data: bytes) -> list[tuple[str, bytes]]:  # in the fake's loop
        if uuid.lower() == PMD_CONTROL and data[:2] == b"\x02\x02":  # start ACC
            assert self.device is not None
            self._started_on, self.starts = self.device.connect_calls, self.starts + 1
        elif uuid.lower() == PMD_CONTROL and data[:2] == b"\x03\x02":  # stop ACC
            self._started_on, self.stops = None, self.stops + 1
        assert self._answer is not None
        return self._answer(uuid, data)

    @property
    def measuring(self) -> bool:
        device = self.device
        return bool(device and device.connected and self._started_on == device.connect_calls)


@dataclass
class SensorStream:
    """The worn sensor: from the first start command on, plays the stretch at ``SPEED`` x real time.

    The sensor's clock is the host's time at that first start (``device_start``), so ``data_time(offset)``
    maps a stretch offset to the timestamps the daemon sees. Frames due while the sensor is not measuring
    (link down, not yet restarted) are lost, as on a real sensor; its clock keeps running.
    """

    bluez: FakeBlueZ
    sensor: PolarH10
    stretch: ThighStretch
    device_start: float | None = None
    started_wall: float | None = None
    delivered: int | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self, subscribe_timeout: float = 20.0) -> SensorStream:
        self._thread = threading.Thread(target=self._run, args=(subscribe_timeout,), daemon=True)
        self._thread.start()
        return self

    @property
    def frames_total(self) -> int:
        return -(-len(self.stretch.samples) // SAMPLES_PER_PACKET)

    def _run(self, subscribe_timeout: float) -> None:
        try:
            deadline = time.monotonic() + subscribe_timeout
            while not self.sensor.measuring:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no start command within {subscribe_timeout} s")
                time.sleep(0.005)
            self.device_start = time.time()
            self.started_wall = time.monotonic()
            frames = polar_h10_frames(
                self.stretch.samples.xyz, RATE_HZ, self.device_start, SAMPLES_PER_PACKET
            )
            future = asyncio.run_coroutine_threadsafe(self._play(frames), self.bluez.loop)
            self.delivered = future.result(len(frames) * SAMPLES_PER_PACKET / RATE_HZ / SPEED + 30)
        except BaseException as error:  # reported by the test, which cannot see this thread's exceptions
            self.error = error

    async def _play(self, frames: list[bytes]) -> int:
        """In the fake's loop: each frame at its own due time (no drift), if the sensor is measuring."""
        loop = asyncio.get_running_loop()
        interval = SAMPLES_PER_PACKET / RATE_HZ / SPEED
        first = loop.time()
        delivered = 0
        for index, frame in enumerate(frames):
            await asyncio.sleep(max(0.0, first + (index + 1) * interval - loop.time()))
            if self.sensor.measuring and self.sensor.device is not None:
                delivered += self.sensor.device.notify(PMD_DATA, frame)
        return delivered

    def data_time(self, offset_s: float) -> float:
        assert self.device_start is not None, "the daemon never started the sensor's measurement"
        return self.device_start + offset_s

    def offset_now(self) -> float:
        """How far into the stretch the sensor is (stretch seconds)."""
        assert self.started_wall is not None
        return (time.monotonic() - self.started_wall) * SPEED

    def wall_until(self, offset_s: float) -> float:
        """Wall seconds from now until the stream reaches ``offset_s`` of the stretch."""
        assert self.started_wall is not None
        return self.started_wall + offset_s / SPEED - time.monotonic()

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)


def wait_until_measuring(stream: SensorStream, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while stream.device_start is None and stream.error is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"the daemon did not start the sensor's measurement within {timeout} s")
        time.sleep(0.02)
    if stream.error is not None:
        raise AssertionError(f"the simulated sensor failed: {stream.error!r}")


DAEMON_CONFIG = """\
[sensor]
rate_hz = {rate_hz}
watchdog_s = 2.0
scan_timeout_s = 2.0
connect_timeout_s = 5.0
backoff_initial_s = 0.1
backoff_max_s = 0.4
in_progress_retry_s = 0.1

[alerts]
sit_limit_min = {sit_limit_min}
working_hours = "00:00-24:00"
working_days = "Mon-Sun"
timezone = "UTC"

[mqtt]
device_id = "{device_id}"
"""


def write_daemon_config(directory: Path, device_id: str, sit_limit_min: float) -> Path:
    path = directory / "config.toml"
    path.write_text(DAEMON_CONFIG.format(rate_hz=RATE_HZ, sit_limit_min=sit_limit_min, device_id=device_id))
    path.chmod(0o600)
    return path


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory):
    """A private Mosquitto on a free loopback port (a missing mosquitto fails with the fix, never skips)."""
    try:
        server = start_private_broker(tmp_path_factory.mktemp("broker"))
    except BrokerError as error:
        pytest.fail(f"this test needs a real Mosquitto: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def daemon_env(system_bus: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment ``sitless run`` gets: the private system bus, and a home of its own (the user's
    config, calibration and data must not leak into the test, nor the test's into them)."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITLESS_")}
    env.update(
        DBUS_SYSTEM_BUS_ADDRESS=system_bus,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PYTHONUNBUFFERED="1",
    )
    return env
