"""The thigh-frame signal of the simulator: gravity seen by the thigh plus the accelerations of moving it.

Everything here is a pure function of sample times and the schedule (plus a counter-based hash for
per-stride variation), so a block of samples can be computed anywhere, in any order, with the same result.

Model, in the thigh frame (x = knee to hip, z = out of the front of the thigh):

* the thigh pose is two angles: ``phi`` (signed inclination of the long axis from vertical, positive =
  knee forward/up) and ``psi`` (rotation about the long axis). World "up" seen from the thigh is
  ``u = (cos phi, -sin phi sin psi, sin phi cos psi)``;
* posture-specific motion moves ``phi``/``psi``: a sinusoid at the stride frequency (walking, +-20-25 deg
  plus a second harmonic) or the pedalling cadence (cycling, ~20 to ~70 deg), slow sway when standing,
  and temporary events (fidgets, weight shifts, a bouncing heel);
* the accelerometer reads the specific force ``u * (1 + bounce) + r/g * (phi'' d + phi'^2 x) + impact x``:
  gravity, the body's vertical bounce at the step frequency, the tangential and centripetal acceleration
  of a point ``r`` = 0.4 m below the hip joint (``d`` is the swing direction) and heel-strike impacts along
  the long axis;
* between two poses the angles move smoothly (a quintic ease) over the transition time.
"""

from __future__ import annotations

import numpy as np

from sitless.analysis.postures import Posture
from sitless.firmware_bridge.simulate_schedule import Schedule

STANDARD_GRAVITY = 9.80665
#: Distance of the sensor from the hip joint and sharpness of the walking swing (second harmonic), set
#: to the real recordings (HuGaDB's sensors sit 5 cm above the knee, about 0.4 m from the hip). With
#: them (benchmarks/feature_distributions.py, real / simulated 50 Hz): walking's per-second SD 0.83 /
#: 0.69 g, its |a| SD 0.55 / 0.48 of the vector's (the classifier's step-versus-pedal test), peaks
#: 2.53 / 2.27 g; pedalling's SD 0.37 / 0.49 g. The earlier 0.25 m and 0.3 gave walking 0.31 g and a
#: ratio of 0.74 (0.84 at 12.5 Hz), a walker that loaded the thigh more than it turned it.
THIGH_RADIUS_M = 0.4
WALK_HARMONIC = 0.5
#: Width (s) of a heel-strike spike as a sensor sampling at 30 Hz or more records it.
IMPACT_WIDTH_S = 0.05
_WALK = int(Posture.WALKING)
_TWO_PI = 2.0 * np.pi

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash_uniform(seed: int, stream: int, keys: np.ndarray, keys2: np.ndarray | int = 0) -> np.ndarray:
    """Counter-based uniform [0, 1) numbers (splitmix64): the same key always gives the same number."""
    with np.errstate(over="ignore"):
        x = np.asarray(keys, dtype=np.int64).astype(np.uint64) * _GOLDEN
        x ^= np.asarray(keys2, dtype=np.int64).astype(np.uint64) * _M2
        x ^= np.uint64((seed * 1_000_003 + stream * 7919) & 0xFFFFFFFFFFFFFFFF) * _M1
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _quintic(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (u * 6.0 - 15.0) + 10.0)


def _wrap_deg(angle: np.ndarray) -> np.ndarray:
    return (angle + 180.0) % 360.0 - 180.0


def _pose(s: Schedule, seg: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi, psi) in degrees of segment ``seg`` evaluated at times ``tau`` (seconds from start)."""
    phi = s.phi[seg]
    psi = s.psi[seg]
    amp = s.amp[seg]
    swinging = np.flatnonzero(amp > 0)  # walking and cycling; most of a day is still postures
    if len(swinging):
        sg, a = seg[swinging], amp[swinging]
        cyc = _TWO_PI * ((s.freq[sg] * tau[swinging] + s.phase[sg]) % 1.0)  # small arguments: fast, exact
        harmonic = np.where(s.posture[sg] == _WALK, WALK_HARMONIC, 0.0)
        phi[swinging] += a * (np.sin(cyc) + harmonic * np.sin(2.0 * cyc + 0.5))
        psi[swinging] += 0.12 * a * np.sin(cyc + 1.0)
    sway = s.sway[seg]
    moving = np.flatnonzero(sway > 0)
    if len(moving):
        ts, ps, sw = tau[moving], s.phase[seg[moving]], sway[moving]
        phi[moving] += sw * (
            0.6 * np.sin(_TWO_PI * ((0.23 * ts + ps) % 1.0))
            + 0.4 * np.sin(_TWO_PI * ((0.37 * ts + 1.7 * ps) % 1.0))
        )
        psi[moving] += sw * 0.5 * np.sin(_TWO_PI * ((0.17 * ts + 0.5 * ps) % 1.0))
    return phi, psi


def _events(s: Schedule, tau: np.ndarray, phi: np.ndarray, psi: np.ndarray) -> None:
    """Add temporary fidgets/weight shifts in place."""
    if not len(s.ev_start):
        return
    k = np.searchsorted(s.ev_start, tau, side="right") - 1
    inside = k >= 0
    inside[inside] = tau[inside] < s.ev_end[k[inside]]
    if not inside.any():
        return
    k = k[inside]
    since = tau[inside] - s.ev_start[k]
    u = since / (s.ev_end[k] - s.ev_start[k])
    bump = np.sin(np.pi * u) ** 2
    phi[inside] += bump * (s.ev_dphi[k] + s.ev_jig[k] * np.sin(_TWO_PI * s.ev_jig_freq[k] * since))
    psi[inside] += bump * s.ev_dpsi[k]


def _walking_extras(s: Schedule, seg: np.ndarray, tau: np.ndarray, rate: float, seed: int):
    """Vertical bounce (fraction of g) and heel-strike impacts (g along the long axis) of walking segments."""
    bounce = np.zeros_like(tau)
    impact = np.zeros_like(tau)
    walking = s.posture[seg] == _WALK
    if not walking.any():
        return bounce, impact
    sg, tw = seg[walking], tau[walking]
    freq = s.freq[sg]
    cycles = freq * tw + s.phase[sg]
    # Heel strike of this leg near maximal hip flexion (a quarter cycle), the other leg half a stride later.
    bounce[walking] = s.bounce[sg] * np.cos(_TWO_PI * 2.0 * (cycles - 0.25))
    # The sensor's anti-alias filter smears spikes at low rates; a low-pass keeps a spike's area (its
    # impulse), so a wider spike is a lower one. (Widening at full height gave a 12.5-Hz walker 2.4 times
    # the impact energy of a 50-Hz one, and a |a| SD 0.79 of the total where real walking, decimated
    # to 11.8 Hz, keeps its 0.54: docs/simulator.md.)
    width = max(IMPACT_WIDTH_S, 0.6 / rate)
    area = IMPACT_WIDTH_S / width
    total = np.zeros_like(tw)
    for offset, scale in ((0.25, 1.0), (0.75, 0.35)):
        stride = np.rint(cycles - offset)
        dt = (cycles - offset - stride) / freq
        amplitude = 0.5 + 1.0 * hash_uniform(seed, 11, sg, stride.astype(np.int64) * 2 + int(offset > 0.5))
        total += scale * area * amplitude * np.exp(-((dt / width) ** 2))
    impact[walking] = s.impact[sg] * total
    return bounce, impact


def thigh_pose(s: Schedule, n: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The true thigh angles (phi, psi) in degrees at sample indices ``n`` (the kinematics, no sensor)."""
    phi, psi, *_ = _blended_pose(s, np.asarray(n, dtype=np.int64) / rate)
    return phi, psi


def _blended_pose(s: Schedule, tau: np.ndarray):
    """Pose with transitions blended and events added; also which segments and weights were used."""
    seg = s.segment_at(tau)
    last = len(s.start) - 1
    nxt = np.minimum(seg + 1, last)
    half_start = 0.5 * s.trans[seg]
    half_end = np.where(seg < last, 0.5 * s.trans[nxt], 0.0)
    near_start = (seg > 0) & (tau - s.start[seg] < half_start)
    near_end = (seg < last) & (s.start[nxt] - tau < half_end) & ~near_start
    other = seg.copy()
    other[near_start] = seg[near_start] - 1
    other[near_end] = seg[near_end] + 1
    # weight of the *current* segment
    w_cur = np.ones_like(tau)
    bs = near_start
    w_cur[bs] = _quintic((tau[bs] - s.start[seg[bs]] + half_start[bs]) / (2 * half_start[bs]))
    be = near_end
    w_cur[be] = 1.0 - _quintic((tau[be] - s.start[nxt[be]] + half_end[be]) / (2 * half_end[be]))

    phi, psi = _pose(s, seg, tau)
    blend = near_start | near_end
    if blend.any():
        o_phi, o_psi = _pose(s, other[blend], tau[blend])
        wc = w_cur[blend]
        phi[blend] = o_phi + wc * (phi[blend] - o_phi)
        psi[blend] = o_psi + wc * _wrap_deg(psi[blend] - o_psi)
    _events(s, tau, phi, psi)
    return phi, psi, seg, other, w_cur, blend


def thigh_specific_force(s: Schedule, n: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Specific force (g, N x 3, thigh frame) and extra noise SD (g) at sample indices ``n`` (contiguous)."""
    # One sample of padding on each side for the finite-difference derivatives of phi.
    tau = np.arange(n[0] - 1, n[-1] + 2, dtype=np.int64) / rate
    phi, psi, seg, other, w_cur, blend = _blended_pose(s, tau)
    phi_rad = np.radians(phi)
    d1 = (phi_rad[2:] - phi_rad[:-2]) * (0.5 * rate)
    d2 = (phi_rad[2:] - 2.0 * phi_rad[1:-1] + phi_rad[:-2]) * (rate * rate)
    core = slice(1, -1)
    phi_c, psi_c = phi_rad[core], np.radians(psi[core])
    seg_c, other_c, w_c, tau_c = seg[core], other[core], w_cur[core], tau[core]

    bounce, impact = _walking_extras(s, seg_c, tau_c, rate, seed)
    extra = s.extra_noise[seg_c].copy()
    blend_c = blend[core]
    if blend_c.any():
        ob, oi = _walking_extras(s, other_c[blend_c], tau_c[blend_c], rate, seed)
        wc = w_c[blend_c]
        bounce[blend_c] = ob + wc * (bounce[blend_c] - ob)
        impact[blend_c] = oi + wc * (impact[blend_c] - oi)
        oe = s.extra_noise[other_c[blend_c]]
        extra[blend_c] = oe + wc * (extra[blend_c] - oe)

    sin_phi, cos_phi = np.sin(phi_c), np.cos(phi_c)
    sin_psi, cos_psi = np.sin(psi_c), np.cos(psi_c)
    lever = THIGH_RADIUS_M / STANDARD_GRAVITY
    scale = 1.0 + bounce
    force = np.empty((len(phi_c), 3))
    force[:, 0] = cos_phi * scale + lever * d1 * d1 + impact
    force[:, 1] = -sin_phi * sin_psi * scale - lever * d2 * sin_psi
    force[:, 2] = sin_phi * cos_psi * scale + lever * d2 * cos_psi
    return force, extra
