"""The classifier's settings (TOML table ``[classifier]``), in a module of their own.

Every stage of the classifier (``labeller``, ``nonwear``, ``classify``) reads them, and none of those
modules should import another just for the type: this module imports nothing of the classifier, which
breaks the old cycle classify -> labeller -> nonwear -> classify. ``sitless.analysis.classify`` re-exports
``ClassifierSettings`` (the application imports it from there).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sitless.analysis.setting_ranges import check_ranges, ranged


@dataclass(frozen=True)
class ClassifierSettings:
    """TOML table ``[classifier]``. Defaults follow Acti4 (Skotte 2014) unless said otherwise; each
    says why. docs/classifier.md gives the real-data evidence behind the ones that changed in issue 9."""

    #: Thigh inclination (deg from the upright reference) above which the wearer sits or lies (Acti4: 45).
    sit_inclination_deg: float = ranged(45.0, 1, 89, "deg")
    #: Total SD (g, 2-s window) above which the thigh moves (Acti4 walk/cycle threshold on SD_x: 0.1 g).
    move_sd_g: float = ranged(0.1, 0.001, 2, "g")
    #: Steps: a moving 2-s window whose two seconds both peak above this |a| has heel strikes (1.5-3 g;
    #: real thighs: 99 % of walking seconds peak above 1.8 g). Both seconds, because a single bump
    #: (a car on a rough road, a knock on the desk leg) also peaks; walking keeps peaking.
    step_peak_g: float = ranged(1.6, 1, 16, "g")
    #: ... and the thigh swings: the SD of |a| stays below this share of the total SD. Walking turns
    #: the thigh's direction (real thighs: 0.55 median, 97 % below 0.65); pedalling and vehicles load it
    #: along its length (real cycling: 0.81 median, 1.5 % below 0.65), so a bike ride that peaks does
    #: not teach the upright reference.
    step_swing_ratio: float = ranged(0.65, 0, 1)
    #: A step second teaches the reference only at the end of this many step seconds in a row: gait
    #: goes on (real walking: 83 % of its seconds end such a run), a bump or a hard pedal stroke
    #: does not (real cycling: 0.2 %).
    step_sustained_s: int = ranged(4, 1, 60, "s")
    #: The sensor axis that runs along the thigh when the sensor is worn as intended: the guess before
    #: walking teaches the upright reference, and the line pedalling is judged against (a loaded
    #: stepping second 15-60 deg from it does not teach). "x" for thigh sensors (Acti4's convention;
    #: hardware.md's pods and research devices are worn with x along the thigh); "y" for a phone in a
    #: trouser pocket (Android and iOS put y along the phone's long side, which a pocket holds along
    #: the thigh: WISDM's standing phones read gravity within 25 deg of y for 9 of 11 people).
    long_axis: str = "x"
    #: How far that axis may lie from the thigh's own when the sensor is worn as intended. Before walking
    #: has taught the reference, the pedalling band starts this much further from the axis (a still
    #: or loaded second less inclined than that is not taken for pedalling, and teaches if it steps).
    #: 0 for a strapped thigh sensor (HuGaDB: 8 deg, inside the band's own margin: walking 0-10 deg,
    #: pedalling 20-38); 30 for a phone, which tilts in a pocket (WISDM's standing phones: 3-36 deg).
    long_axis_tolerance_deg: float = ranged(0.0, 0, 90, "deg")
    #: Moving with the thigh inclined at least this much is cycling. Walking defines the upright
    #: reference, so walking seconds scatter about 0 deg (real thighs: 99 % within 10 deg); pedalling
    #: keeps the hip flexed (real: median 34 deg, a quarter under 30; Acti4 uses 25 deg from standing,
    #: which lies 5-10 deg behind the walking mean). 15 deg lies between the two.
    cycle_min_inclination_deg: float = ranged(15.0, 0, 90, "deg")
    #: Still on the saddle (coasting, stopped at a light) after cycling: the thigh stays inclined at least
    #: this much (Acti4's cycling angle; real standing thighs stay under 22 deg).
    coast_min_inclination_deg: float = ranged(25.0, 0, 90, "deg")
    #: Out of the saddle: a moving upright thigh with no heel strike since at least this many seconds of
    #: pedalling is still riding (walking away begins with steps; a ride is more than a stray second).
    ride_min_s: int = ranged(10, 1, 3600, "s")
    #: Moving with more inclination than this is fidgeting while seated: pedalling thighs average
    #: 34 deg (real: 99 % under 50 deg), seated ones lie at 65-100 deg (real sitting: 99 % above 65).
    cycle_max_inclination_deg: float = ranged(60.0, 0, 180, "deg")
    #: Pedalling keeps the thigh's mean direction from one second to the next (each second averages
    #: about a pedal stroke: real cycling turns 1.7 deg median, 99.5 % under 17 deg); standing up or
    #: sitting down turns it through the saddle's angles within a second (real: median 11 and 26 deg,
    #: 90 % up to 46 and 59 deg). A moving second turned more than this from the one before is not
    #: pedalling.
    cycle_max_turn_deg: float = ranged(20.0, 0, 180, "deg")
    #: Rotation about the thigh axis (deg away from the learned sitting direction) that means lying on
    #: the side or front (Hettiarachchi 2021 / Lyden 2016: 65 deg).
    lying_rotation_deg: float = ranged(65.0, 5, 180, "deg")
    #: Non-wear (analysis/nonwear.py). A worn thigh, however still, carries the pulse, breathing and
    #: postural tremor on top of the sensor's noise; a sensor on a desk carries its noise only. "Still"
    #: = total SD of the 2-s window below ``nonwear_still_sd_g``, the tremor floor: above MEMS noise
    #: (real MPU-6050 at rest: 0.004 g), at the median of real still sitting (0.010 g), so a wearer crosses
    #: it again and again while a sensor at rest never does. Non-wear after ``nonwear_still_min``
    #: minutes of uninterrupted stillness (labels are final within 3 s, so these minutes keep the posture
    #: their orientation suggests: the cost of never calling a still sitter "off the body").
    nonwear_still_sd_g: float = ranged(0.01, 0.0001, 2, "g")
    nonwear_still_min: float = ranged(10.0, 0.1, 1440, "min")
    #: Acti4's unconditional rule, for a noisy sensor whose rest SD is above the tremor floor: SD below
    #: this (Acti4: 0.01 g on each axis, i.e. about 0.017 g in total) for ``long_still_min`` minutes.
    long_still_sd_g: float = ranged(0.02, 0.0001, 2, "g")
    long_still_min: float = ranged(90.0, 1, 1440, "min")
    #: Temperature (optional input, ``StreamingClassifier.feed_temperature``): a sensor against the skin
    #: reads 30-35 deg C; off the body it falls to room temperature within minutes. A still sensor colder
    #: than this is off the body at once; a warmer one is worn, whatever the stillness. The latest
    #: reading counts for ``temperature_valid_s`` seconds.
    skin_min_celsius: float = ranged(27.0, -40, 60, "deg C")
    temperature_valid_s: float = ranged(120.0, 1, 86400, "s")
    #: Seconds of stillness before a cold sensor is called off the body (evidence, not a blip).
    nonwear_min_still_s: int = ranged(5, 1, 3600, "s")
    #: After a re-mount, until walking teaches again, read the thigh against the direction learned
    #: before it (a strap goes back on the same way) rather than the long axis. False for a phone: it
    #: goes back into the pocket long side down, but at another tilt (WISDM 1611: 52 deg from its
    #: earlier walking direction, 36 deg from y).
    reuse_reference_after_remount: bool = True
    #: Re-learn the reference after this many seconds of non-wear (the sensor was taken off and put back).
    relearn_after_nonwear_s: int = ranged(60, 1, 86400, "s")
    #: ... or after a data gap this long (the sensor may have been taken off while out of range).
    relearn_after_gap_min: float = ranged(30.0, 0.1, 10080, "min")
    #: Walking seconds the upright reference averages over, and how many are needed before it is used.
    reference_walk_s: int = ranged(30, 1, 3600, "s")
    reference_min_walk_s: int = ranged(4, 1, 3600, "s")
    #: The thigh's front direction is learned from the first ``forward_learn_after_upright_s`` seconds
    #: of each sedentary spell entered from upright (sitting down); lying is told from sitting once
    #: ``forward_min_sedentary_s`` such seconds have been seen since the sensor was put on.
    forward_learn_after_upright_s: int = ranged(10, 1, 3600, "s")
    forward_min_sedentary_s: int = ranged(8, 1, 86400, "s")

    def __post_init__(self) -> None:
        check_ranges(self)  # each number's declared range; what ranges cannot say follows
        if self.long_axis not in ("x", "y", "z"):
            raise ValueError(f"long_axis must be one of 'x', 'y', 'z', got {self.long_axis!r}")
        if self.reference_walk_s < self.reference_min_walk_s or self.reference_min_walk_s < 1:
            raise ValueError("need 1 <= reference_min_walk_s <= reference_walk_s")

    def for_sensor(self, kind: str) -> ClassifierSettings:
        """These settings with what a kind of sensor implies (``SENSOR_KINDS``)."""
        if kind not in SENSOR_KINDS:
            raise ValueError(f"sensor kind must be one of {', '.join(SENSOR_KINDS)}, got {kind!r}")
        return dataclasses.replace(self, **SENSOR_KINDS[kind])


#: What the kind of sensor says about its axes (``sitless classify --sensor``): a sensor strapped to the
#: thigh runs its x axis along it (hardware.md's wearing instructions, Acti4's convention); a phone in a
#: trouser pocket runs its long side (y on Android and iOS) along the thigh, tilted by up to about 30
#: degrees (WISDM's standing phones: 3-36 deg from y).
SENSOR_KINDS: dict[str, dict[str, str | float | bool]] = {
    "thigh": {"long_axis": "x", "long_axis_tolerance_deg": 0.0},
    "phone": {
        "long_axis": "y",
        "long_axis_tolerance_deg": 30.0,
        "step_peak_g": 1.4,
        "reuse_reference_after_remount": False,
    },
}
