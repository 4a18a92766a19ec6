"""A simulated thigh-worn accelerometer with known ground truth, for tests, demos and benchmarks.

Thigh frame (the classifier relies on it): **x** is the thigh long axis pointing from the knee to the hip,
so an upright thigh reads x = +1 g (what acti-motus / Acti4 expect from a front mounting); **z** points out
of the front of the thigh (sitting puts gravity on z: z = +1 g with the thigh horizontal); **y** completes
a right-handed frame (y = z x x, pointing to the person's left on the right thigh). Acti4/acti-motus
put z *into* the thigh for a front sensor (z = -1 g sitting); in this frame their forward/backward angle
is FB = +asin(z/|a|). ``Simulator.thigh_angles`` gives the true kinematic angles. The sensor reads
``sensor_vector = rotation @ thigh_vector`` where ``rotation`` depends on the mounting:

* ``front``: identity;
* ``side``: 90 deg about the thigh axis (x);
* ``pocket``: a random angle about the thigh axis, then a tilt of up to 20 deg about an axis across it;
* ``upside_down``: 180 deg about z (x reads -1 g when upright);
* ``random``: any rotation (uniform on SO(3)), drawn from the seed.

Signal: gravity plus the thigh's own motion (see ``simulate_signal``), per-axis gain and offset errors,
white noise, a +-8 g range. Timestamps: the sensor samples regularly at ``rate_hz``; the timestamps it
reports carry jitter (clipped so they stay strictly increasing). Gaps: BLE packets of ``packet_samples``
samples are dropped with probability ``packet_loss`` and disconnects drop 5-120 s; gaps never change the
ground truth.

Ground truth: the posture of every second is that of the schedule segment holding the second's midpoint;
a transition is centred on the segment boundary, so its time belongs half to each side.

Reproducibility: the schedule is drawn for the whole duration up front, and samples are computed in fixed
blocks of ``BLOCK_SAMPLES`` with an RNG derived from (seed, block index); so any split of the sample range
(``simulate_chunks`` with any chunk size, live sources) gives exactly the same samples as ``simulate``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sitless.analysis.postures import PostureSeconds
from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.simulate_days import fullday, workday
from sitless.firmware_bridge.simulate_schedule import Schedule, ScheduleBuilder, draw_disconnects
from sitless.firmware_bridge.simulate_signal import hash_uniform, thigh_pose, thigh_specific_force

MOUNTINGS = ("front", "side", "pocket", "upside_down")
SCHEDULES = ("workday", "fullday")
MIN_RATE_HZ = 12.5
MAX_RATE_HZ = 100.0
#: Samples are generated in blocks of this size, each with its own RNG (seed, block index).
BLOCK_SAMPLES = 1 << 16
SENSOR_RANGE_G = 8.0
DEFAULT_START = 1794816000.0  # 2026-11-16T08:00:00Z, a Monday (the brief quoted 1763280000, a 2025 Sunday)

# RNG streams derived from the seed (never reorder: it would change every recording).
_STREAM_ROTATION, _STREAM_CALIBRATION, _STREAM_SCHEDULE, _STREAM_DISCONNECTS, _STREAM_NOISE = 1, 2, 3, 4, 5
_STREAM_PACKET_LOSS = 6


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Defaults: an 8-hour office day at 50 Hz, sensor on the front of the thigh."""

    hours: float = 8.0
    rate_hz: float = 50.0
    seed: int = 1
    mounting: str = "front"
    start: float = DEFAULT_START
    schedule: str = "workday"
    noise_g: float = 0.0025  # real MPU-6050 at rest: 0.004 g total SD, 0.0023 g per axis (docs/simulator.md)
    gain_error: float = 0.02
    offset_g: float = 0.02
    jitter_s: float = 0.002
    packet_loss: float = 0.0
    packet_samples: int = 20
    disconnects_per_hour: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if not (0 < self.hours <= 24 * 366):
            problems.append(f"hours must be more than 0 and at most a year (8784), got {self.hours}")
        if not MIN_RATE_HZ <= self.rate_hz <= MAX_RATE_HZ:
            problems.append(f"rate_hz must be between {MIN_RATE_HZ} and {MAX_RATE_HZ}, got {self.rate_hz}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.mounting not in (*MOUNTINGS, "random"):
            problems.append(
                f"mounting must be one of {', '.join((*MOUNTINGS, 'random'))}, got {self.mounting!r}"
            )
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not (math.isfinite(self.start) and float(self.start).is_integer()):
            problems.append(f"start must be a whole epoch second, got {self.start}")
        elif not (self.start >= 946684800 and self.start + self.hours * 3600 < 4102444800):
            problems.append(f"start must lie between the years 2000 and 2100, got {self.start:.0f}")
        for name in ("noise_g", "gain_error", "offset_g", "jitter_s", "disconnects_per_hour"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                problems.append(f"{name} must be >= 0, got {value}")
        if not 0.0 <= self.packet_loss < 1.0:
            problems.append(f"packet_loss must be a fraction in [0, 1), got {self.packet_loss}")
        if not (isinstance(self.packet_samples, int | np.integer) and self.packet_samples >= 1):
            problems.append(f"packet_samples must be a positive integer, got {self.packet_samples!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def duration_s(self) -> float:
        return self.hours * 3600.0


@dataclass
class SimulatedRecording:
    """Samples as delivered (with gaps), the true posture of every second, and the mounting rotation."""

    samples: SampleChunk
    truth: PostureSeconds
    rotation: np.ndarray
    config: SimulationConfig


def _rng(config: SimulationConfig, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([int(config.seed), stream, *more])


def _axis_rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' formula: rotation by ``degrees`` about unit vector ``axis``."""
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * (k @ k)


def mounting_rotation(mounting: str, rng: np.random.Generator) -> np.ndarray:
    """The 3x3 rotation taking thigh-frame vectors to sensor-frame vectors for a mounting."""
    x_axis = np.array([1.0, 0.0, 0.0])
    if mounting == "front":
        return np.eye(3)
    if mounting == "side":
        return _axis_rotation(x_axis, 90.0)
    if mounting == "upside_down":
        return _axis_rotation(np.array([0.0, 0.0, 1.0]), 180.0)
    if mounting == "pocket":
        about_axis = _axis_rotation(x_axis, float(rng.uniform(0, 360)))
        beta = float(rng.uniform(0, 2 * math.pi))
        tilt = _axis_rotation(np.array([0.0, math.cos(beta), math.sin(beta)]), float(rng.uniform(0, 20)))
        return tilt @ about_axis
    if mounting == "random":
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        return q
    raise ValueError(f"unknown mounting {mounting!r}")


class Simulator:
    """The whole simulated recording, computable piece by piece: ``samples(n0, n1)`` and ``truth(s0, s1)``.

    Construction draws the rotation, calibration errors, schedule and disconnects (cheap, even for a week).
    """

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rate = float(config.rate_hz)
        self.duration_s = config.duration_s
        self.n_samples = max(1, math.ceil(self.duration_s * self.rate - 1e-6))
        self.n_seconds = max(1, math.ceil(self.duration_s - 1e-9))
        self.rotation = mounting_rotation(config.mounting, _rng(config, _STREAM_ROTATION))
        cal = _rng(config, _STREAM_CALIBRATION)
        self.gain = 1.0 + cal.uniform(-config.gain_error, config.gain_error, 3)
        self.offset = cal.uniform(-config.offset_g, config.offset_g, 3)
        builder = ScheduleBuilder(_rng(config, _STREAM_SCHEDULE), self.duration_s, self.rotation)
        if config.schedule == "workday":
            workday(builder, config.start)
        else:
            fullday(builder, config.start)
        gaps = draw_disconnects(
            _rng(config, _STREAM_DISCONNECTS), self.duration_s, config.disconnects_per_hour
        )
        self.schedule: Schedule = builder.build(gaps)
        # the last two blocks: a chunk boundary inside a block must not compute it twice
        self._block_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # -- index helpers ---------------------------------------------------------------------------
    def sample_index_at(self, seconds: float) -> int:
        """First sample index at or after ``seconds`` from the start."""
        return min(self.n_samples, max(0, math.ceil(seconds * self.rate - 1e-6)))

    def second_index_at(self, seconds: float) -> int:
        return min(self.n_seconds, max(0, math.ceil(seconds - 1e-9)))

    # -- data ------------------------------------------------------------------------------------
    def _block(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All samples of block k as (index, t, xyz) before gaps; always computed whole, so exact."""
        if k in self._block_cache:
            return self._block_cache[k]
        c = self.config
        n0, n1 = k * BLOCK_SAMPLES, min((k + 1) * BLOCK_SAMPLES, self.n_samples)
        n = np.arange(n0, n1, dtype=np.int64)
        force, extra = thigh_specific_force(self.schedule, n, self.rate, c.seed)
        rng = _rng(c, _STREAM_NOISE, k)
        white = rng.standard_normal((len(n), 3), dtype=np.float32)
        jitter = rng.standard_normal(len(n))
        noise_sd = (c.noise_g + extra).astype(np.float32)
        xyz = np.empty((len(n), 3), dtype=np.float32)
        r = self.rotation
        for axis in range(3):  # sensor = rotation @ thigh, then gain, offset, noise
            sensor = force[:, 0] * r[axis, 0] + force[:, 1] * r[axis, 1] + force[:, 2] * r[axis, 2]
            sensor *= self.gain[axis]
            sensor += self.offset[axis]
            xyz[:, axis] = sensor
            xyz[:, axis] += white[:, axis] * noise_sd
        np.clip(xyz, -SENSOR_RANGE_G, SENSOR_RANGE_G, out=xyz)
        bound = 0.45 / self.rate
        t = c.start + n / self.rate + np.clip(jitter * c.jitter_s, -bound, bound)
        if n0 == 0:
            t[0] = max(t[0], c.start)  # the recording never begins before ``start``
        result = (n, t, xyz)
        self._block_cache = {**{key: v for key, v in self._block_cache.items() if key == k - 1}, k: result}
        return result

    def delivered(self, n: np.ndarray) -> np.ndarray:
        """Which sample indices reach the host (not in a lost packet or a disconnect)."""
        keep = np.ones(len(n), dtype=bool)
        c = self.config
        if c.packet_loss > 0:
            keep &= hash_uniform(c.seed, _STREAM_PACKET_LOSS, n // c.packet_samples) >= c.packet_loss
        gaps = self.schedule.gaps
        if len(gaps):
            tau = n / self.rate
            g = np.searchsorted(gaps[:, 0], tau, side="right") - 1
            inside = g >= 0
            inside[inside] = tau[inside] < gaps[g[inside], 1]
            keep &= ~inside
        return keep

    def sample_range(self, n0: int, n1: int) -> tuple[np.ndarray, SampleChunk]:
        """Delivered samples with index in [n0, n1), and their indices."""
        parts_n, parts_t, parts_xyz = [], [], []
        for k in range(n0 // BLOCK_SAMPLES, (max(n1, n0 + 1) - 1) // BLOCK_SAMPLES + 1):
            if k * BLOCK_SAMPLES >= n1:
                break
            n, t, xyz = self._block(k)
            lo = max(n0 - k * BLOCK_SAMPLES, 0)
            hi = min(n1 - k * BLOCK_SAMPLES, len(n))
            n, t, xyz = n[lo:hi], t[lo:hi], xyz[lo:hi]
            keep = self.delivered(n)
            parts_n.append(n[keep])
            parts_t.append(t[keep])
            parts_xyz.append(xyz[keep])
        if not parts_n:
            return np.empty(0, np.int64), SampleChunk.empty()
        return np.concatenate(parts_n), SampleChunk(np.concatenate(parts_t), np.concatenate(parts_xyz))

    def thigh_angles(self, n0: int, n1: int) -> tuple[np.ndarray, np.ndarray]:
        """True thigh inclination ``phi`` (signed, degrees from vertical, + = knee forward) and rotation
        about the thigh axis ``psi`` (degrees) of samples [n0, n1): the kinematics behind the signal."""
        return thigh_pose(self.schedule, np.arange(n0, n1, dtype=np.int64), self.rate)

    def truth(self, s0: int = 0, s1: int | None = None) -> PostureSeconds:
        s1 = self.n_seconds if s1 is None else s1
        start = int(self.config.start)
        return PostureSeconds(start + s0, self.schedule.truth_codes(s0, s1))

    def recording(self, from_s: float, to_s: float) -> SimulatedRecording:
        """Samples and truth for [from_s, to_s) seconds after the start."""
        _, samples = self.sample_range(self.sample_index_at(from_s), self.sample_index_at(to_s))
        truth = self.truth(self.second_index_at(from_s), self.second_index_at(to_s))
        return SimulatedRecording(samples, truth, self.rotation.copy(), self.config)


def simulate(config: SimulationConfig) -> SimulatedRecording:
    """The whole recording at once (a week at 50 Hz is about 600 MB; use ``simulate_chunks`` to stream)."""
    sim = Simulator(config)
    return sim.recording(0.0, sim.duration_s)


def simulate_chunks(config: SimulationConfig, chunk_hours: float = 1.0) -> Iterator[SimulatedRecording]:
    """The same recording as ``simulate(config)``, ``chunk_hours`` at a time (bounded memory)."""
    if not chunk_hours > 0:
        raise ValueError(f"chunk_hours must be positive, got {chunk_hours}")
    sim = Simulator(config)
    chunk_s = chunk_hours * 3600.0
    count = max(1, math.ceil(sim.duration_s / chunk_s - 1e-9))
    for k in range(count):
        yield sim.recording(k * chunk_s, min((k + 1) * chunk_s, sim.duration_s))
