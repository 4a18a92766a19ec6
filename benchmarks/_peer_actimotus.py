"""Run the peer, acti-motus (PyPI ``acti-motus``, Acti4's Python successor), on our samples.

acti-motus expects a DataFrame indexed by UTC datetimes with columns acc_x, acc_y, acc_z in g, x along
the thigh (+1 g upright), i.e. a sensor on the front of the thigh; we pass the recording unchanged, as a
user would, and turn on its own orientation fix (``orientation=True``: upside-down / inside-out flips).
``vendor="Other"``: our data do not come from a SENS device, whose SD correction ``"Sens"`` applies.

Labels are mapped to ours: sit/kneel -> sitting; lie -> lying; stand/shuffle/squat -> standing;
walking paces, run, stairs -> walking; bicycle/row -> cycling; non-wear -> nonwear; seconds it does not
label (gaps) -> unknown.
"""

from __future__ import annotations

import numpy as np

from sitless.analysis.postures import Posture, PostureSeconds
from sitless.analysis.samples import SampleChunk

PEER_TO_OURS = {
    "non-wear": Posture.NONWEAR,
    "lie": Posture.LYING,
    "sit": Posture.SITTING,
    "kneel": Posture.SITTING,
    "squat": Posture.STANDING,
    "stand": Posture.STANDING,
    "shuffle": Posture.STANDING,
    "slow-walk": Posture.WALKING,
    "walk": Posture.WALKING,
    "fast-walk": Posture.WALKING,
    "run": Posture.WALKING,
    "stairs": Posture.WALKING,
    "bicycle": Posture.CYCLING,
    "row": Posture.CYCLING,
}


def peer_version() -> str:
    from importlib.metadata import version

    return version("acti-motus")


def classify_with_actimotus(samples: SampleChunk, vendor: str = "Other") -> PostureSeconds:
    """Per-second postures from acti-motus (Features then Activities), mapped to our codes."""
    import pandas as pd
    from actimotus import Activities, Features

    index = pd.to_datetime(samples.t, unit="s", utc=True)
    frame = pd.DataFrame(samples.xyz.astype(np.float64), index=index, columns=["acc_x", "acc_y", "acc_z"])
    features = Features().compute(frame)
    activities, _references = Activities(vendor=vendor, orientation=True).compute(features)
    labels = activities["activity"].astype(str)
    seconds = (labels.index.as_unit("s").asi8 // 1).astype(np.int64)
    codes = np.array([PEER_TO_OURS.get(label, Posture.UNKNOWN) for label in labels.to_numpy()], np.int8)
    start = int(np.floor(samples.t[0]))
    stop = int(np.floor(samples.t[-1])) + 1
    out = np.full(stop - start, Posture.UNKNOWN, np.int8)
    inside = (seconds >= start) & (seconds < stop)
    out[seconds[inside] - start] = codes[inside]
    return PostureSeconds(start, out)
