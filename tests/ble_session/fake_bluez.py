"""A simulated BlueZ (``org.bluez``) on a private D-Bus bus, so the REAL Bleak BlueZ backend can be tested.

This machine has no Bluetooth radio (no AF_BLUETOOTH, no /dev/vhci), so bluetoothd cannot run. Bleak only
talks D-Bus, though, so a service that owns ``org.bluez`` and exports the same objects (Adapter1, Device1,
GattService1, GattCharacteristic1) is indistinguishable to it. dbus-fast's MessageBus already answers
ObjectManager.GetManagedObjects for ``/`` and emits InterfacesAdded/Removed on export/unexport.

The fake runs in its own thread with its own event loop (``FakeBlueZ.start``), so the code under test can
own the main thread and call ``asyncio.run`` itself, exactly as the ``sitless`` CLI does. Every scripting
method (``send``, ``drop_link``, ``fail_next_connect``, ``vanish``...) is safe to call from the test thread.
"""

import asyncio
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated

from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
)
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_method, dbus_property

StrList = Annotated[list[str], DBusSignature("as")]
ManufacturerDict = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
READ = PropertyAccess.READ
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"


@dataclass
class Char:
    """A characteristic the peripheral offers: UUID, BlueZ flags ("read", "write", "notify"...), value."""

    uuid: str
    flags: tuple[str, ...]
    value: bytes = b""


@dataclass
class Service:
    uuid: str
    chars: list[Char]


@dataclass
class Peripheral:
    """What a sensor looks like over the air. ``on_write(uuid, data)`` returns (uuid, bytes) notifications.

    A write stores the value (as a GATT server does); ``write_back(uuid, data)``, if set, returns what the
    firmware puts there instead (a micro:bit writes back the period it really chose).
    """

    address: str
    name: str
    services: list[Service]
    advertised_uuids: list[str] = field(default_factory=list)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    battery_percent: int | None = 80
    rssi: int = -58
    on_write: Callable[[str, bytes], list[tuple[str, bytes]]] | None = None
    write_back: Callable[[str, bytes], bytes] | None = None


class GattCharacteristic(ServiceInterface):
    def __init__(self, device: "Device", path: str, service_path: str, char: Char) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.device, self.path, self.service_path, self.char = device, path, service_path, char
        self.notifying = False

    @dbus_property(access=READ)
    def UUID(self) -> DBusStr:
        return self.char.uuid

    @dbus_property(access=READ)
    def Service(self) -> DBusObjectPath:
        return self.service_path

    @dbus_property(access=READ)
    def Flags(self) -> StrList:
        return list(self.char.flags)

    @dbus_property(access=READ)
    def Value(self) -> DBusBytes:
        return self.char.value

    @dbus_property(access=READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        return self.char.value

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        self.device.written.append((self.char.uuid, bytes(value)))
        write_back = self.device.peripheral.write_back
        self.char.value = write_back(self.char.uuid, bytes(value)) if write_back else bytes(value)
        if self.device.peripheral.on_write:
            for uuid, reply in self.device.peripheral.on_write(self.char.uuid, bytes(value)):
                self.device.notify(uuid, reply)

    @dbus_method()
    def StartNotify(self) -> None:
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})
        self.device.bluez.changed.set()

    @dbus_method()
    def StopNotify(self) -> None:
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    def notify(self, data: bytes) -> None:
        self.char.value = bytes(data)
        self.emit_properties_changed({"Value": self.char.value})


class GattService(ServiceInterface):
    def __init__(self, device_path: str, uuid: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.device_path, self.uuid = device_path, uuid

    @dbus_property(access=READ)
    def UUID(self) -> DBusStr:
        return self.uuid

    @dbus_property(access=READ)
    def Device(self) -> DBusObjectPath:
        return self.device_path

    @dbus_property(access=READ)
    def Primary(self) -> DBusBool:
        return True


class Device(ServiceInterface):
    """org.bluez.Device1 plus the test's handle on the peripheral (``written``, ``send``, ``drop_link``)."""

    def __init__(self, bluez: "FakeBlueZ", adapter: "Adapter", peripheral: Peripheral) -> None:
        super().__init__("org.bluez.Device1")
        self.bluez, self.adapter, self.peripheral = bluez, adapter, peripheral
        self.path = f"{adapter.path}/dev_{peripheral.address.replace(':', '_')}"
        self.connected = False
        self.services_resolved = False
        self.in_range = True
        self.rssi = peripheral.rssi
        self.connect_errors: list[tuple[str, str]] = []
        self.written: list[tuple[str, bytes]] = []
        self.connect_calls = 0
        self.chars: dict[str, GattCharacteristic] = {}
        self._gatt: list[tuple[str, ServiceInterface]] = []
        services = list(peripheral.services)
        if peripheral.battery_percent is not None:
            services.append(
                Service(
                    BATTERY_SERVICE,
                    [Char(BATTERY_LEVEL, ("read", "notify"), bytes([peripheral.battery_percent]))],
                )
            )
        handle = 0x000C
        for service in services:
            service_path = f"{self.path}/service{handle:04x}"
            self._gatt.append((service_path, GattService(self.path, service.uuid)))
            for char in service.chars:
                handle += 1
                gatt_char = GattCharacteristic(self, f"{service_path}/char{handle:04x}", service_path, char)
                self.chars.setdefault(char.uuid.lower(), gatt_char)  # duplicates: the first one streams
                self._gatt.append((gatt_char.path, gatt_char))
            handle += 1

    # ---- org.bluez.Device1 ----
    @dbus_property(access=READ)
    def Address(self) -> DBusStr:
        return self.peripheral.address

    @dbus_property(access=READ)
    def AddressType(self) -> DBusStr:
        return "public"

    @dbus_property(access=READ)
    def Name(self) -> DBusStr:
        return self.peripheral.name

    @dbus_property(access=READ)
    def Alias(self) -> DBusStr:
        return self.peripheral.name

    @dbus_property(access=READ)
    def Adapter(self) -> DBusObjectPath:
        return self.adapter.path

    @dbus_property(access=READ)
    def Paired(self) -> DBusBool:
        return False

    @dbus_property(access=READ)
    def Connected(self) -> DBusBool:
        return self.connected

    @dbus_property(access=READ)
    def ServicesResolved(self) -> DBusBool:
        return self.services_resolved

    @dbus_property(access=READ)
    def UUIDs(self) -> StrList:
        return list(self.peripheral.advertised_uuids)

    @dbus_property(access=READ)
    def RSSI(self) -> DBusInt16:
        return self.rssi

    @dbus_property(access=READ)
    def ManufacturerData(self) -> ManufacturerDict:
        return {k: Variant("ay", v) for k, v in self.peripheral.manufacturer_data.items()}

    @dbus_property(access=READ)
    def ServiceData(self) -> DBusDict:
        return {}

    @dbus_method()
    async def Connect(self) -> None:
        self.connect_calls += 1
        if self.connect_errors:
            name, text = self.connect_errors.pop(0)
            raise DBusError(name, text)
        if not self.in_range:
            await asyncio.sleep(0.2)
            raise DBusError("org.bluez.Error.Failed", "Page Timeout")
        if self.connected:
            return
        self.connected = True
        self.emit_properties_changed({"Connected": True})
        for path, interface in self._gatt:
            self.bluez.bus.export(path, interface)
        await asyncio.sleep(0.01)
        self.services_resolved = True
        self.emit_properties_changed({"ServicesResolved": True})
        self.bluez.changed.set()

    @dbus_method()
    def Disconnect(self) -> None:
        self._link_down()

    # ---- scripting, called in the fake's loop ----
    def _link_down(self) -> None:
        if not self.connected:
            return
        for char in self.chars.values():
            char.notifying = False
        self.connected = self.services_resolved = False
        self.emit_properties_changed({"ServicesResolved": False})
        self.emit_properties_changed({"Connected": False})
        for path, _interface in reversed(self._gatt):
            self.bluez.bus.unexport(path)
        self.bluez.changed.set()

    def notify(self, uuid: str, data: bytes) -> bool:
        """One notification, delivered only if the link is up and the central subscribed."""
        char = self.chars[uuid.lower()]
        if not (self.connected and char.notifying):
            return False
        char.notify(data)
        return True

    def advertise(self) -> None:
        if self.in_range and not self.connected:
            self.rssi = self.peripheral.rssi - (
                self.rssi == self.peripheral.rssi
            )  # a changed RSSI is an advert
            self.emit_properties_changed({"RSSI": self.rssi})

    def is_streaming(self, uuid: str) -> bool:
        char = self.chars.get(uuid.lower())
        return bool(self.connected and char and char.notifying)


class Adapter(ServiceInterface):
    def __init__(self, bluez: "FakeBlueZ", name: str, address: str) -> None:
        super().__init__("org.bluez.Adapter1")
        self.bluez, self.hci, self.address = bluez, name, address  # not .name: ServiceInterface uses it
        self.path = f"/org/bluez/{name}"
        self.discovering = False
        self.discovery_starts = 0
        self._advertiser: asyncio.Task | None = None

    @dbus_property(access=READ)
    def Address(self) -> DBusStr:
        return self.address

    @dbus_property(access=READ)
    def Name(self) -> DBusStr:
        return self.hci

    @dbus_property(access=READ)
    def Powered(self) -> DBusBool:
        return True

    @dbus_property(access=READ)
    def Discovering(self) -> DBusBool:
        return self.discovering

    @dbus_property(access=READ)
    def Roles(self) -> StrList:
        return ["central", "peripheral"]

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        pass

    @dbus_method()
    def StartDiscovery(self) -> None:
        self.discovery_starts += 1
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})
        if self._advertiser is None or self._advertiser.done():
            self._advertiser = asyncio.get_running_loop().create_task(self._advertise_while_discovering())

    @dbus_method()
    def StopDiscovery(self) -> None:
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    async def _advertise_while_discovering(self) -> None:
        """Real sensors advertise every 20 ms to 1 s; one advert sent inside StartDiscovery would be missed."""
        while self.discovering:
            for device in list(self.bluez.devices.values()):
                if device.adapter is self:
                    device.advertise()
            await asyncio.sleep(0.05)


class FakeBlueZ:
    """The simulated bluetoothd. ``start()`` runs it in a thread; ``call(fn, ...)`` runs fn in its loop."""

    def __init__(self, bus_address: str, adapters: Iterable[str] = ("hci0",)) -> None:
        self.bus_address = bus_address
        self.adapter_names = tuple(adapters)
        self.adapters: dict[str, Adapter] = {}
        self.devices: dict[str, Device] = {}
        self.bus: MessageBus
        self.loop = asyncio.new_event_loop()
        self.changed: asyncio.Event
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-bluez", daemon=True)
        self._streams: list[asyncio.Task] = []

    # ---- lifecycle ----
    def start(self) -> "FakeBlueZ":
        self._thread.start()
        self.call_async(self._start())
        return self

    async def _start(self) -> None:
        self.changed = asyncio.Event()
        self.bus = await MessageBus(bus_address=self.bus_address).connect()
        for index, name in enumerate(self.adapter_names):
            adapter = Adapter(self, name, f"00:1A:7D:DA:71:{index:02X}")
            self.adapters[name] = adapter
            self.bus.export(adapter.path, adapter)
            for device in self.devices.values():
                if device.adapter.hci == name:
                    device.adapter = adapter
        for device in self.devices.values():
            self.bus.export(device.path, device)
        await self.bus.request_name("org.bluez")

    def stop(self) -> None:
        """Shut down the fake (fixture teardown)."""
        if self._thread.is_alive():
            self.call(self._disconnect_bus)
            self.call_async(self._cancel_tasks())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _disconnect_bus(self) -> None:
        for task in self._streams:
            task.cancel()
        for adapter in self.adapters.values():
            adapter.discovering = False
        if self.bus.connected:
            self.bus.disconnect()
        for interfaces in self.bus._path_exports.values():  # detach the objects from the dead connection
            for interface in interfaces.values():
                ServiceInterface._remove_bus(interface, self.bus)
        self.bus._path_exports.clear()

    def vanish(self) -> None:
        """bluetoothd dies: its D-Bus connection closes, no signal tells Bleak the device is gone."""
        self.call(self._disconnect_bus)

    def restart(self) -> None:
        """bluetoothd comes back (devices forget their connections), re-exporting everything."""

        def forget() -> None:
            for device in self.devices.values():
                device.connected = device.services_resolved = False
                for char in device.chars.values():
                    char.notifying = False

        self.call(forget)
        self.call_async(self._start())

    def call(self, fn: Callable, *args):
        """Run ``fn(*args)`` in the fake's loop and return its result (thread-safe)."""
        return self.call_async(_as_coroutine(fn, *args))

    def call_async(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    # ---- scripting ----
    def add_device(self, peripheral: Peripheral, adapter: str = "hci0") -> Device:
        def add() -> Device:
            device = Device(self, self.adapters[adapter], peripheral)
            self.devices[device.path] = device
            self.bus.export(device.path, device)
            return device

        return self.call(add)

    def fail_next_connect(self, device: Device, error: str = "org.bluez.Error.InProgress") -> None:
        self.call(lambda: device.connect_errors.append((error, "Operation already in progress")))

    def drop_link(self, device: Device, *, stay_away: bool = True) -> None:
        """Link loss (supervision timeout); ``stay_away`` keeps the sensor out of range until ``reappear``."""

        def drop() -> None:
            device.in_range = not stay_away
            device._link_down()

        self.call(drop)

    def reappear(self, device: Device) -> None:
        self.call(lambda: setattr(device, "in_range", True))

    def wait_streaming(self, device: Device, uuid: str, timeout: float = 10.0) -> None:
        """Block until the central subscribed to ``uuid`` on ``device``."""

        async def wait() -> None:
            while not device.is_streaming(uuid):
                self.changed.clear()
                await self.changed.wait()

        self.call_async(asyncio.wait_for(wait(), timeout), timeout + 1)

    def send(
        self, device: Device, uuid: str, packets: Iterable[bytes], interval: float = 0.0, burst: int = 10
    ):
        """Stream ``packets`` as notifications in the background; returns a future of how many were delivered.

        Packets sent while the link is down are lost, like a real sensor's. Yields to the loop every
        ``burst`` packets (thousands of signals in one go starve the bus otherwise).
        """
        packets = [bytes(p) for p in packets]

        async def stream() -> int:
            delivered = 0
            for index, packet in enumerate(packets):
                delivered += device.notify(uuid, packet)
                if interval:
                    await asyncio.sleep(interval)
                elif index % burst == burst - 1:
                    await asyncio.sleep(0.002)
            return delivered

        async def start():
            task = asyncio.get_running_loop().create_task(stream())
            self._streams.append(task)
            return task

        task = self.call_async(start())
        return asyncio.run_coroutine_threadsafe(_await(task), self.loop)


async def _as_coroutine(fn: Callable, *args):
    return fn(*args)


async def _await(task: asyncio.Task):
    return await task
