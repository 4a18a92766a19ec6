"""What the Bleak session and ``sitless scan`` share: settings, events, errors, scanning.

BlueZ failures reach us as a zoo of exceptions (a missing socket, a D-Bus ``ServiceUnknown``, Bleak's
"no adapters"); ``explain_bluez_error`` turns each into one sentence that says what to do, because the
person reading it is at a desk with a sensor on their thigh, not debugging D-Bus.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bleak import BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from sitless.analysis.setting_ranges import check_ranges, ranged

BLUEZ_NOT_RUNNING = (
    "BlueZ is not running: install bluez and start bluetoothd (`sudo systemctl start bluetooth`), "
    "or use `sitless run --simulate`"
)
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
MAX_NOTIFICATION_BYTES = 512  # the largest attribute value ATT allows; anything longer is not a packet


@dataclass(frozen=True)
class SensorSettings:
    """The ``[sensor]`` table. ``family``/``address`` None: use the first recognised sensor nearby.

    ``options``: decoder options for the family (e.g. ``range_g = 4``). ``generic``: the ``[sensor.generic]``
    table, a do-it-yourself board's profile (see ``sitless.firmware_bridge.decoders.generic``); with it, a board
    advertising that service is recognised as ``generic`` and the profile's own ``rate_hz`` applies.
    The timing fields exist so tests (and unusual setups) can shrink or stretch them.
    """

    family: str | None = None
    address: str | None = None
    adapter: str | None = None  # e.g. "hci1"; None = BlueZ default adapter
    rate_hz: float = ranged(25.0, 0.5, 2000, "Hz")
    low_battery_percent: int = ranged(15, 0, 100, "%")
    watchdog_s: float = ranged(10.0, 0.1, 3600, "s")
    scan_timeout_s: float = ranged(10.0, 0.1, 3600, "s")
    connect_timeout_s: float = ranged(20.0, 0.1, 3600, "s")
    backoff_initial_s: float = ranged(1.0, 0.01, 3600, "s")
    backoff_max_s: float = ranged(30.0, 0.01, 86400, "s")
    in_progress_retry_s: float = ranged(2.0, 0, 3600, "s")
    in_progress_attempts: int = ranged(3, 1, 100)
    options: dict[str, Any] = field(default_factory=dict)
    generic: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_ranges(self)  # every number has a declared range beside its field

    def backoff_s(self, attempt: int) -> float:
        """Delay before reconnect ``attempt`` (1-based): 1, 2, 4, ... capped (defaults: 1 s to 30 s)."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, attempt - 1))


@dataclass(frozen=True)
class SessionEvent:
    """Something a user (or the daemon's status line) should know about the link.

    kind is one of: connected, disconnected, reconnecting, gap, battery, malformed, rejected (the sensor
    refused a command), stopped (the sensor ended the stream itself), notice (something about the
    sensor worth knowing, e.g. an old firmware), temperature (``celsius`` at time
    ``start``), decoder_error (a sitless bug, logged with its traceback), watchdog, error (fatal, also
    raised).
    ``message`` is a full sentence that says what happened and what to do about it.
    """

    kind: str
    address: str
    message: str
    reason: str | None = None
    attempt: int | None = None
    delay_s: float | None = None
    start: float | None = None
    end: float | None = None
    percent: int | None = None
    low: bool | None = None
    count: int | None = None
    error: str | None = None
    celsius: float | None = None


@dataclass
class SessionStats:
    connects: int = 0
    reconnects: int = 0
    malformed: int = 0
    packets: int = 0
    samples: int = 0
    watchdog_trips: int = 0
    in_progress_retries: int = 0
    rejected_commands: int = 0
    decoder_errors: int = 0
    overlapping_dropped: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class FoundSensor:
    name: str | None
    address: str
    rssi: int | None
    family: str | None  # None: not a sensor sitless knows
    model: str | None  # the family's display name
    service_uuids: tuple[str, ...] = ()


class BleSessionError(Exception):
    """A failure with a user-facing explanation (``str(error)``); ``fatal`` ones are not retried."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class SensorNotFound(BleSessionError):
    """The sensor did not advertise during a scan (off, out of range, or held by a phone app)."""


class BlueZUnavailable(BleSessionError):
    """No system bus, or nobody owns ``org.bluez``, or no usable adapter."""


def registry_module() -> ModuleType:
    """The decoder registry, imported late: ``sitless scan --help`` must work without it."""
    return importlib.import_module("sitless.firmware_bridge.decoders.registry")


def bluez_args(adapter: str | None) -> dict[str, Any]:
    return {"adapter": adapter} if adapter else {}


def explain_bluez_error(error: BaseException, adapter: str | None = None) -> BleSessionError | None:
    """A user-facing error for "BlueZ is missing or unusable", or None if ``error`` is something else."""
    if isinstance(error, BleSessionError):
        return error
    if isinstance(error, FileNotFoundError | ConnectionRefusedError):
        return BlueZUnavailable(f"{BLUEZ_NOT_RUNNING} (no D-Bus system bus: {error})")
    if isinstance(error, BleakDBusError) and error.dbus_error in (
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
    ):
        return BlueZUnavailable(BLUEZ_NOT_RUNNING)
    if isinstance(error, BleakBluetoothNotAvailableError):
        return BlueZUnavailable(
            f"no usable Bluetooth adapter ({error.args[0]}): check `bluetoothctl list` and "
            "`bluetoothctl power on`, or use `sitless run --simulate`"
        )
    if isinstance(error, BleakError) and adapter and "not found" in str(error) and adapter in str(error):
        return BlueZUnavailable(
            f"Bluetooth adapter {adapter} not found: list adapters with `bluetoothctl list`"
        )
    return None


def recognise_family(
    registry: ModuleType,
    name: str | None,
    service_uuids: Sequence[str],
    manufacturer_data: Mapping[int, bytes],
    generic: Any | None = None,
) -> tuple[str | None, str | None]:
    """(family, display name) of an advertisement, or (None, None). ``generic``: a GenericProfile."""
    extra = {"generic": generic} if generic is not None else {}
    decoder_class = registry.recognise(name, list(service_uuids), dict(manufacturer_data), **extra)
    if decoder_class is None:
        return None, None
    return decoder_class.family, decoder_class.display_name


def generic_profile(settings: SensorSettings) -> Any | None:
    """The ``[sensor.generic]`` table as a GenericProfile (None without one). Raises ValueError if wrong."""
    if not settings.generic:
        return None
    from sitless.firmware_bridge.decoders.generic import GenericProfile

    try:
        return GenericProfile(**settings.generic)
    except TypeError as error:  # an unknown key
        raise ValueError(f"[sensor.generic]: {error}") from None


async def scan(
    timeout: float = 5.0,
    adapter: str | None = None,
    *,
    registry: ModuleType | None = None,
    generic: Any | None = None,
) -> list[FoundSensor]:
    """Everything advertising nearby, recognised sensors first, strongest first.

    ``generic``: a GenericProfile, so a do-it-yourself board is recognised too.
    Raises ``BlueZUnavailable`` (with advice) when BlueZ or the adapter is missing.
    """
    registry = registry or registry_module()
    try:
        found = await BleakScanner.discover(timeout=timeout, return_adv=True, bluez=bluez_args(adapter))
    except Exception as error:
        explained = explain_bluez_error(error, adapter)
        if explained is not None:
            raise explained from None
        raise
    sensors = []
    for device, adv in found.values():
        name = adv.local_name or device.name
        family, model = recognise_family(registry, name, adv.service_uuids, adv.manufacturer_data, generic)
        sensors.append(FoundSensor(name, device.address, adv.rssi, family, model, tuple(adv.service_uuids)))
    sensors.sort(key=lambda s: (s.family is None, -(s.rssi if s.rssi is not None else -200)))
    return sensors


def describe_error(error: BaseException) -> str:
    """A one-line reason for a failed connect, for the reconnecting event."""
    if isinstance(error, BleakDBusError):
        return f"BlueZ error {error.dbus_error}" + (
            f" ({error.dbus_error_details})" if error.dbus_error_details else ""
        )
    if isinstance(error, TimeoutError):
        return "connection timed out"
    return str(error) or type(error).__name__
