"""The contract every sensor decoder keeps: bytes in, timestamped samples in g out, no I/O.

Modelled on h11: a decoder is a pure state machine. The Bleak session (``firmware_bridge.ble``) owns the
radio and hands each notification to ``receive_data``; the decoder says which bytes to write to start and
stop streaming. Anything malformed raises ``ProtocolError`` and leaves the decoder usable for the next
packet, so one bad notification never stops a session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from analysis.samples import SampleChunk


class ProtocolError(Exception):
    """A packet that does not follow the sensor's protocol (truncated, oversized, unknown type...)."""

    def __init__(self, family: str, reason: str, data: bytes | None = None) -> None:
        self.family = family
        self.reason = reason
        self.data = bytes(data) if data is not None else None
        preview = f" (packet {self.data[:24].hex()}{'...' if len(self.data) > 24 else ''})" if data else ""
        super().__init__(f"{family}: {reason}{preview}")


@dataclass(frozen=True)
class Command:
    """Bytes to write to a characteristic (``response``: write with response)."""

    characteristic: str
    data: bytes
    response: bool = True


@dataclass
class DecoderStats:
    """Counters a user can see in logs and ``--json`` output."""

    packets: int = 0
    samples: int = 0
    malformed: int = 0
    lost_packets: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)


class SensorDecoder(ABC):
    """One sensor family's protocol. Subclasses set the class variables and implement the methods."""

    family: ClassVar[str]  # short id used in config and CLI, e.g. "polar"
    display_name: ClassVar[str]  # e.g. "Polar Verity Sense / H10 (PMD)"
    service_uuid: ClassVar[str]  # the service that identifies the family
    notify_uuids: ClassVar[tuple[str, ...]]  # characteristics to subscribe to, in order

    def __init__(self, rate_hz: float | None = None) -> None:
        self.stats = DecoderStats()
        self.rate_hz = rate_hz

    @classmethod
    def recognises(
        cls, name: str | None, service_uuids: Sequence[str], manufacturer_data: Mapping[int, bytes]
    ) -> bool:
        """Does an advertisement (name, advertised service UUIDs, manufacturer data) look like this family?"""
        return cls.service_uuid.lower() in {u.lower() for u in service_uuids}

    @abstractmethod
    def start_commands(self) -> list[Command]:
        """Writes that start accelerometer streaming at ``self.rate_hz``."""

    @abstractmethod
    def stop_commands(self) -> list[Command]:
        """Writes that stop streaming."""

    @abstractmethod
    def receive_data(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        """Decode one notification; returns the samples it carries (possibly none). Raises ProtocolError."""
