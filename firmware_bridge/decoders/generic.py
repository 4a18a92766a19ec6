"""A do-it-yourself board (ESP32, nRF52, Arduino Nano 33 BLE...) described by a ``GenericProfile``.

The board notifies on one characteristic; each notification holds one or more records in a Python
``struct`` format (e.g. ``"<hhh"``: three little-endian int16), repeated to fill the packet; the first three
numeric fields (or the ``xyz_fields`` you name, e.g. ``[1, 2, 3]`` after a counter) are x, y, z, multiplied by ``scale`` (g per LSB). ``axes`` remaps/flips them, e.g.
``"-y,x,z"`` for a board mounted rotated. ``start_writes``/``stop_writes`` are (characteristic UUID,
hex bytes) pairs written to start/stop streaming. No timestamps: the arrival clock stamps the samples.

Config (the ``[sensor.generic]`` TOML table; plain types so ``sitless.config.build_section`` builds it)::

    [sensor.generic]
    service_uuid = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
    characteristic_uuid = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
    struct_format = "<hhh"
    scale = 0.000244      # g per LSB (+-8 g on a 16-bit sensor)
    rate_hz = 25.0
    axes = "x,y,z"
    start_writes = [["6e400002-b5a3-f393-e0a9-e50e24dcca9e", "01"]]
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sitless.analysis.samples import SampleChunk
from sitless.firmware_bridge.decoders.base import MAX_ATT_VALUE, Command, SensorDecoder
from sitless.firmware_bridge.decoders.timing import ArrivalClock

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f]{4}$")
_VALUE_CODES = set("bBhHiIlLqQefd")
_AXIS = re.compile(r"^([+-]?)([xyz])$")


def _normalise_uuid(value: str, what: str) -> str:
    uuid = str(value).strip().lower()
    if not _UUID.match(uuid):
        raise ValueError(
            f"{what} {value!r} is not a UUID (like 6e400003-b5a3-f393-e0a9-e50e24dcca9e or 2a19)"
        )
    if len(uuid) == 4:  # a 16-bit SIG UUID
        uuid = f"0000{uuid}-0000-1000-8000-00805f9b34fb"
    return uuid


#: struct codes (standard sizes) as numpy types; byte order comes from the format's prefix.
_NUMPY_TYPES = {"b": "i1", "B": "u1", "h": "i2", "H": "u2", "i": "i4", "I": "u4", "l": "i4", "L": "u4",
                "q": "i8", "Q": "u8", "e": "f2", "f": "f4", "d": "f8"}  # fmt: skip
_BYTE_ORDERS = {"<": "<", ">": ">", "!": ">", "=": "="}


def numpy_layout(struct_format: str) -> np.dtype | None:
    """The records of a standard-size ``struct`` format (prefix ``<``, ``>``, ``!`` or ``=``: no
    alignment, https://docs.python.org/3/library/struct.html#byte-order-size-and-alignment) as a numpy
    type: a row of one type when every field has it (``<hhh``), else a structured type whose numeric
    fields are named f0, f1, ... (``<Ihhf``); None for native alignment."""
    order = _BYTE_ORDERS.get(struct_format[:1])
    if order is None:
        return None
    names, formats, offsets, offset = [], [], [], 0
    for count, code in re.findall(r"(\d*)([a-zA-Z?])", struct_format[1:]):
        for _ in range(int(count or 1)):
            if code != "x":
                names.append(f"f{len(names)}")
                formats.append(order + _NUMPY_TYPES[code])
                offsets.append(offset)
            offset += struct.calcsize(order + code)
    if offset != struct.calcsize(struct_format):
        return None
    if len(set(formats)) == 1 and offset == len(formats) * np.dtype(formats[0]).itemsize:
        return np.dtype((formats[0], (len(formats),)))  # one type, no padding: a row of values
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": offset})


@dataclass
class GenericProfile:
    service_uuid: str = ""
    characteristic_uuid: str = ""
    struct_format: str = "<hhh"
    scale: float = 1.0 / 1000.0
    rate_hz: float = 25.0
    axes: str = "x,y,z"
    start_writes: list[tuple[str, str]] = field(default_factory=list)
    stop_writes: list[tuple[str, str]] = field(default_factory=list)
    name_prefix: str = ""
    xyz_fields: list[int] = field(default_factory=lambda: [0, 1, 2])

    def __post_init__(self) -> None:
        """Validate everything up front so a typo fails at start-up, not on the first notification."""
        if not self.service_uuid or not self.characteristic_uuid:
            raise ValueError("generic profile needs service_uuid and characteristic_uuid")
        self.service_uuid = _normalise_uuid(self.service_uuid, "service_uuid")
        self.characteristic_uuid = _normalise_uuid(self.characteristic_uuid, "characteristic_uuid")
        try:
            size = struct.calcsize(self.struct_format)
        except struct.error as error:
            raise ValueError(
                f"struct_format {self.struct_format!r} is not a Python struct format: {error}"
            ) from None
        expanded = re.findall(r"(\d*)([a-zA-Z?])", self.struct_format.lstrip("<>!=@"))
        values = sum(int(n or 1) for n, c in expanded if c in _VALUE_CODES)
        if any(c not in _VALUE_CODES and c != "x" for _, c in expanded) or values < 3:
            raise ValueError(
                f"struct_format {self.struct_format!r} must hold at least 3 numeric fields (x, y, z) and only "
                "numbers or pad bytes (b B h H i I l L q Q e f d x)"
            )
        if len(self.xyz_fields) != 3 or not all(
            isinstance(i, int) and 0 <= i < values for i in self.xyz_fields
        ):
            raise ValueError(
                f"xyz_fields {self.xyz_fields!r} must be 3 indexes (0-{values - 1}) of the numeric fields of "
                f"{self.struct_format!r} that hold x, y and z"
            )
        if size == 0 or size > MAX_ATT_VALUE:
            raise ValueError(
                f"struct_format {self.struct_format!r} is {size} bytes; a record must be 1-512 bytes"
            )
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale != 0):
            raise ValueError(f"scale must be a non-zero number of g per LSB, got {self.scale!r}")
        if not (isinstance(self.rate_hz, (int, float)) and 0 < self.rate_hz <= 2000):
            raise ValueError(f"rate_hz must be between 0 and 2000 Hz, got {self.rate_hz!r}")
        self.axis_map()  # validates
        self.start_writes = [self._write(w, "start_writes") for w in self.start_writes]
        self.stop_writes = [self._write(w, "stop_writes") for w in self.stop_writes]

    @property
    def record_size(self) -> int:
        return struct.calcsize(self.struct_format)

    def axis_map(self) -> list[tuple[int, float]]:
        """For each output axis, (index of the input field, sign)."""
        parts = [p.strip().lower() for p in self.axes.split(",")]
        matches = [_AXIS.match(p) for p in parts]
        if len(parts) != 3 or not all(matches) or len({m.group(2) for m in matches if m}) != 3:
            raise ValueError(f'axes {self.axes!r} must name x, y and z once each, e.g. "x,y,z" or "-y,x,z"')
        return [("xyz".index(m.group(2)), -1.0 if m.group(1) == "-" else 1.0) for m in matches if m]

    @staticmethod
    def _write(pair: Sequence[str], what: str) -> tuple[str, str]:
        if len(pair) != 2:
            raise ValueError(f"each of {what} must be [characteristic_uuid, hex bytes], got {pair!r}")
        uuid, hex_bytes = pair
        try:
            bytes.fromhex(str(hex_bytes))
        except ValueError:
            raise ValueError(f'{what}: {hex_bytes!r} is not hex bytes (like "01ff")') from None
        return (_normalise_uuid(uuid, what), str(hex_bytes))


class GenericDecoder(SensorDecoder):
    """Options: ``profile`` (a ``GenericProfile`` or a dict of its fields). ``rate_hz`` overrides the profile's."""

    family: ClassVar[str] = "generic"
    display_name: ClassVar[str] = "Do-it-yourself board (generic profile)"
    service_uuid: ClassVar[str] = ""
    notify_uuids: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, rate_hz: float | None = None, *, profile: GenericProfile | Mapping[str, Any] | None = None
    ) -> None:
        if profile is None:
            raise ValueError(
                "generic: a profile (service_uuid, characteristic_uuid, struct_format, scale) is required"
            )
        if not isinstance(profile, GenericProfile):
            profile = GenericProfile(**dict(profile))
        self.profile = profile
        super().__init__(rate_hz if rate_hz is not None else profile.rate_hz)
        self.service_uuid = profile.service_uuid  # type: ignore[misc]
        self.notify_uuids = (profile.characteristic_uuid,)  # type: ignore[misc]
        self._axes = profile.axis_map()
        self._fields = list(profile.xyz_fields)
        self.clock = ArrivalClock(self.rate_hz)
        # numpy reads the records in place (one call per axis instead of a Python tuple per record);
        # (sign * v) * scale and v * (sign * scale) are the same float, so both paths give the same bits.
        self._layout = numpy_layout(profile.struct_format)
        columns = [self._fields[index] for index, _ in self._axes]
        self._factors = np.array([sign * profile.scale for _, sign in self._axes], np.float64)
        plain = self._layout is not None and self._layout.names is None and columns == [0, 1, 2]
        self._columns = None if plain and self._layout.shape[0] == 3 else np.array(columns)
        self._floats = any(c in "efd" for c in profile.struct_format)

    def _unpack_with_numpy(self, data: bytes) -> np.ndarray:
        layout = self._layout
        if layout.names is None:  # one numeric type, no padding: a plain matrix of values
            values = np.frombuffer(data, layout).reshape(-1, layout.shape[0])
            return (values if self._columns is None else values.take(self._columns, axis=1)) * self._factors
        records = np.frombuffer(data, layout)
        xyz = np.empty((len(records), 3))
        for axis, index in enumerate(self._columns):
            np.multiply(records[f"f{index}"], self._factors[axis], out=xyz[:, axis])
        return xyz

    def _unpack_with_struct(self, data: bytes) -> np.ndarray:
        """Native-alignment formats (``@``, or no prefix): ``struct`` knows the platform's padding."""
        records = np.array(list(struct.iter_unpack(self.profile.struct_format, data)), dtype=np.float64)
        raw = records[:, self._fields]
        return np.stack([sign * raw[:, index] for index, sign in self._axes], axis=1) * self.profile.scale

    @staticmethod
    def matches_profile(profile: GenericProfile, name: str | None, service_uuids: Sequence[str]) -> bool:
        if profile.name_prefix and name and name.lower().startswith(profile.name_prefix.lower()):
            return True
        return profile.service_uuid in {u.lower() for u in service_uuids}

    def start_commands(self) -> list[Command]:
        return [Command(uuid, bytes.fromhex(data)) for uuid, data in self.profile.start_writes]

    def stop_commands(self) -> list[Command]:
        return [Command(uuid, bytes.fromhex(data)) for uuid, data in self.profile.stop_writes]

    def _decode(self, characteristic: str, data: bytes, arrival_time: float) -> SampleChunk:
        if characteristic != self.profile.characteristic_uuid:
            raise self._error(f"notification from unexpected characteristic {characteristic}", data)
        size = self.profile.record_size
        if not data or len(data) % size:
            raise self._error(
                f"{len(data)} bytes is not a whole number of {size}-byte {self.profile.struct_format} records",
                data,
            )
        if self._layout is None:
            xyz = self._unpack_with_struct(data)
        elif self._floats:  # NaN or inf in the bytes: refused below, without numpy's warnings first
            with np.errstate(all="ignore"):
                xyz = self._unpack_with_numpy(data)
        else:
            xyz = self._unpack_with_numpy(data)
        t, gap = self.clock.stamp(len(xyz), arrival_time)
        if gap:
            self._note_gap(*gap)
        return self._emit(t, xyz, data)
