"""The contract every sensor decoder keeps: bytes in, events out (samples in g at Unix times), no I/O.

Modelled on h11: a decoder is a pure state machine. The Bleak session (``sitless.firmware_bridge.ble``) owns
the radio and hands each notification to ``receive_data``, which returns a list of events
(``events.Samples``, ``Gap``, ``StreamStopped``, ``CommandRefused``, ``Temperature``); the decoder says
which bytes to write to start and stop streaming, and queues any it decides on later
(``commands_to_send``, as h11's ``data_to_send``). Bytes that break the protocol raise the one explicit
exception, ``ProtocolError``, and leave the decoder usable for the next packet, so one bad notification
never stops a session. A well-formed refusal is not an error: it is a ``CommandRefused`` event.

Subclasses implement ``_decode``, which returns the notification's samples (``_emit`` builds them and
enforces the one ordering rule: never a sample older than the last one) and reports anything else with
``_note_gap`` and ``_report``. Exceptions other than ``ProtocolError`` are bugs and propagate: they are
not relabelled as malformed packets (the session still survives them, and logs them as bugs).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.events import CommandRefused, Event, Gap, Samples

#: The largest ATT value BLE allows (512 bytes); anything longer is not a notification.
MAX_ATT_VALUE = 512


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
    """Bytes to write to a characteristic (``response``: write with response).

    ``read=True``: read the characteristic instead (``data`` unused); the session hands the value it
    reads to ``receive_data`` like a notification, so a decoder can check what the sensor really did
    (a micro:bit writes back the period it chose; a Thingy's configuration is read before it is changed).
    """

    characteristic: str
    data: bytes = b""
    response: bool = True
    read: bool = False
    optional: bool = False  # skipped when the sensor lacks the characteristic (older firmware)


@dataclass
class DecoderStats:
    """Counters a user can see in logs and ``--json`` output.

    ``packets``: notifications received (good or bad); ``samples``: samples emitted; ``malformed``:
    packets rejected with ``ProtocolError``; ``lost_packets``: packets the protocol's own timestamps or
    sequence show were never received (0 for families that cannot tell); ``gaps``: breaks in the stream
    (each also a ``Gap`` event); ``out_of_order``: samples dropped because they were older than one
    already emitted; ``control_errors``: commands the sensor refused (each a ``CommandRefused`` event).
    """

    packets: int = 0
    samples: int = 0
    malformed: int = 0
    lost_packets: int = 0
    gaps: int = 0
    out_of_order: int = 0
    control_errors: int = 0


class SensorDecoder(ABC):
    """One sensor family's protocol. Subclasses set the class variables and implement the methods."""

    family: ClassVar[str]  # short id used in config and CLI, e.g. "polar"
    display_name: ClassVar[str]  # e.g. "Polar Verity Sense / H10 (PMD)"
    service_uuid: ClassVar[str]  # the service that identifies the family
    notify_uuids: ClassVar[tuple[str, ...]]  # characteristics to subscribe to, in order
    #: Characteristics subscribed to when the sensor has them (a thermometer a firmware may leave out).
    optional_notify_uuids: ClassVar[tuple[str, ...]] = ()
    #: Rates (Hz) the sensor can be asked for; ``rate_hz`` is snapped to the nearest. Empty: any rate.
    supported_rates_hz: ClassVar[tuple[float, ...]] = ()
    #: The rate sitless asks for when none is configured (the classifier works 12.5-100 Hz).
    default_rate_hz: ClassVar[float] = 25.0
    #: Advertised-name prefixes that identify the family (case-insensitive).
    name_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rate_hz: float | None = None) -> None:
        self.stats = DecoderStats()
        self.requested_rate_hz = rate_hz
        self.rate_hz = self.snap_rate(rate_hz if rate_hz is not None else self.default_rate_hz)
        self._last_emitted_t = -np.inf
        self._outbox: list[Command] = []
        self._reported: list[Event] = []  # events of the notification being decoded, before its samples

    @classmethod
    def snap_rate(cls, rate_hz: float) -> float:
        """The supported rate nearest to ``rate_hz`` (ties go to the lower, cheaper rate)."""
        if rate_hz is None or not np.isfinite(rate_hz) or rate_hz <= 0:
            raise ValueError(f"{cls.family}: sample rate must be a positive number of Hz, got {rate_hz!r}")
        if not cls.supported_rates_hz:
            return float(rate_hz)
        return float(min(cls.supported_rates_hz, key=lambda r: (abs(r - rate_hz), r)))

    @classmethod
    def recognises(
        cls, name: str | None, service_uuids: Sequence[str], manufacturer_data: Mapping[int, bytes]
    ) -> bool:
        """Does an advertisement (name, advertised service UUIDs, manufacturer data) look like this family?"""
        if (
            name
            and cls.name_prefixes
            and name.lower().startswith(tuple(p.lower() for p in cls.name_prefixes))
        ):
            return True
        return cls.service_uuid.lower() in {u.lower() for u in service_uuids}

    @abstractmethod
    def start_commands(self) -> list[Command]:
        """Writes that start accelerometer streaming at ``self.rate_hz``."""

    @abstractmethod
    def stop_commands(self) -> list[Command]:
        """Writes that stop streaming."""

    def commands_to_send(self) -> list[Command]:
        """Commands the decoder decided on while receiving (e.g. after the sensor said what it is).

        The session writes them, in order, after every ``receive_data``; returns each command once.
        """
        commands, self._outbox = self._outbox, []
        return commands

    def has_commands_to_send(self) -> bool:
        return bool(self._outbox)

    def queue_commands(self, commands: Sequence[Command]) -> None:
        self._outbox.extend(commands)

    def receive_data(self, characteristic: str, data: bytes, arrival_time: float) -> list[Event]:
        """Decode one notification (or a value read back) into events, in order; possibly none.

        Raises ``ProtocolError`` for bytes that break the protocol (counted in ``stats.malformed``).
        """
        data = bytes(data)
        self.stats.packets += 1
        self._reported = []
        try:
            if len(data) > MAX_ATT_VALUE:
                raise ProtocolError(
                    self.family, f"oversized packet: {len(data)} bytes > {MAX_ATT_VALUE}", data
                )
            chunk = self._decode(str(characteristic).lower(), data, float(arrival_time))
        except ProtocolError:
            self.stats.malformed += 1
            self._reported = []
            raise
        events, self._reported = self._reported, []
        if len(chunk):
            events.append(Samples(chunk))
        return events

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        raise NotImplementedError(f"{type(self).__name__} must implement _decode or receive_data")

    # Helpers for subclasses -------------------------------------------------------------------------

    def _error(self, reason: str, data: bytes | None = None) -> ProtocolError:
        return ProtocolError(self.family, reason, data)

    def _note_gap(self, before: float, after: float, lost_packets: int | None = None) -> None:
        if np.isfinite(before) and after > before:
            self.stats.gaps += 1
            self._reported.append(Gap(float(before), float(after), lost_packets))

    def _report(self, event: Event) -> None:
        """An event of the notification being decoded (reported before its samples)."""
        if isinstance(event, CommandRefused):
            self.stats.control_errors += 1
        self._reported.append(event)

    def _emit(self, t: np.ndarray, xyz: np.ndarray, data: bytes | None = None) -> SampleChunk:
        """Return the samples as a chunk, dropping any older than the newest already emitted."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        # One sum per array is the cheap test (a sum is finite only if every term is); the exact one
        # runs only when it fails (a sum can also overflow). Once per notification, so it counts.
        if not (math.isfinite(xyz.sum()) and math.isfinite(t.sum())) and not (
            np.isfinite(xyz).all() and np.isfinite(t).all()
        ):
            raise self._error("non-finite sample value", data)
        if len(t) == 0:
            return SampleChunk.empty()
        if not (t[0] >= self._last_emitted_t and (len(t) == 1 or (t[1:] >= t[:-1]).all())):
            # Out of order (the usual packet is in order and newer: nothing to drop).
            prior_max = np.maximum.accumulate(np.concatenate(([self._last_emitted_t], t)))[:-1]
            keep = t >= prior_max
            self.stats.out_of_order += int(np.count_nonzero(~keep))
            t, xyz = t[keep], xyz[keep]
        if len(t):
            self._last_emitted_t = float(t[-1])
        self.stats.samples += len(t)
        return SampleChunk(t, xyz.astype(np.float32))
