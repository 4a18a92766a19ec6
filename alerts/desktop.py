"""``desktop://``: an apprise plugin that shows a notification on the desktop (freedesktop Notifications).

It calls ``org.freedesktop.Notifications.Notify`` on the session bus (the Desktop Notifications
Specification 1.2, which GNOME, KDE, dunst, mako and xfce4-notifyd implement) through dbus-fast, a pure
Python D-Bus library that bleak already needs on Linux. apprise's built-in ``dbus://`` / ``glib://`` do
the same through dbus-python or PyGObject, which need C headers to install from PyPI; they still work
when installed, since every URL is handed to apprise as written.

``desktop://?urgency=critical`` keeps the notification on screen until dismissed (urgency 0/1/2 per the
specification: low, normal, critical); ``timeout_s`` sets how long the server shows it.
"""

from __future__ import annotations

import asyncio
import logging

from apprise.decorators import notify

log = logging.getLogger(__name__)

URGENCY = {"low": 0, "normal": 1, "critical": 2}


async def send_desktop_notification(title: str, body: str, *, urgency: int = 1, timeout_ms: int = -1) -> int:
    """Notify over the session bus; returns the server's notification id. Raises on D-Bus errors."""
    from dbus_fast import Message, MessageType, Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus().connect()  # DBUS_SESSION_BUS_ADDRESS
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.Notifications",
                path="/org/freedesktop/Notifications",
                interface="org.freedesktop.Notifications",
                member="Notify",
                signature="susssasa{sv}i",
                body=["sitless", 0, "", title, body, [], {"urgency": Variant("y", urgency)}, timeout_ms],
            )
        )
    finally:
        bus.disconnect()
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")
    return int(reply.body[0])


@notify(on="desktop", name="Desktop notification (freedesktop, via dbus-fast)")
def _desktop(body: str, title: str, notify_type, meta: dict, *args, **kwargs) -> bool:
    query = meta.get("qsd", {})
    urgency = URGENCY.get(str(query.get("urgency", "normal")).lower(), 1)
    try:
        timeout_ms = int(float(query.get("timeout_s", -1)) * 1000) if "timeout_s" in query else -1
        asyncio.run(send_desktop_notification(title or "sitless", body, urgency=urgency, timeout_ms=timeout_ms))
    except Exception as error:  # noqa: BLE001 - apprise expects False for a failed delivery
        log.warning(
            "desktop notification failed: %s (is a notification daemon running on this session's D-Bus?)", error
        )
        return False
    return True
