"""What a decoder reports: one list of events per notification, as h11's ``Connection.next_event`` does.

A notification can carry samples, show that packets were lost, say that the sensor stopped the stream or
refused a command, or carry a temperature. Each is its own small record, so the session reacts to each
explicitly (``match`` on the type) instead of diffing mutable counters. Bytes that break the protocol are
not an event: they raise ``ProtocolError`` (see ``base``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sitless.analysis.samples import SampleChunk


@dataclass(frozen=True)
class Samples:
    """Accelerations in g at Unix times, never older than a sample already reported."""

    chunk: SampleChunk


@dataclass(frozen=True)
class Gap:
    """The stream broke between two sample times (packets lost, or the sensor's clock jumped).

    ``lost_packets``: how many the protocol's own timestamps or counters show were lost (None when it
    cannot tell, e.g. an arrival-clock sensor that simply went quiet).
    """

    start: float
    end: float
    lost_packets: int | None = None


@dataclass(frozen=True)
class StreamStopped:
    """The sensor ended the stream itself (Polar: "measurement stopped"); nothing more will arrive."""

    reason: str


@dataclass(frozen=True)
class CommandRefused:
    """The sensor answered a command with a well-formed refusal (the bytes were fine, the request not).

    ``status``: the protocol's name or code for it; ``advice``: what the user can do, where the status
    says (None: nothing specific beyond ``reason``).
    """

    reason: str
    status: str | None = None
    advice: str | None = None


@dataclass(frozen=True)
class Temperature:
    """Temperatures the sensor measured (degrees Celsius) at Unix times.

    ``where``: what the thermometer sits on, as far as the vendor says ("board", "skin side"...): a
    board next to the skin reads between skin and room temperature, which is evidence for (non-)wear.
    """

    t: np.ndarray
    celsius: np.ndarray
    where: str = "board"


@dataclass(frozen=True)
class Notice:
    """Something about the sensor the user should know, with what to do (an old firmware, a settling time)."""

    message: str


Event = Samples | Gap | StreamStopped | CommandRefused | Temperature | Notice
