"""The peers of the notification tests: an HTTP server speaking ntfy's API, and a real notification
daemon (Debian's dunst) on a private D-Bus session under Xvfb.

Why a stand-in for ntfy: no ntfy server is packaged for Debian or PyPI here, and nothing from outside can
be fetched. This server implements the parts of ntfy's documented HTTP API that sitless and apprise use
(docs.ntfy.sh/publish and /subscribe/api): publishing as JSON to ``/`` (what apprise sends, with the
``X-Actions`` / ``X-Title`` headers), publishing a plain body to ``/<topic>`` (what the ntfy app does
when a button with ``"action": "http"`` is tapped), and polling ``/<topic>/json?poll=1&since=<id>``.
It can be told to fail the next N publishes with HTTP 500, as an overloaded server would.

dunst is real: it owns ``org.freedesktop.Notifications`` on its session bus and, started with ``-print``,
writes each notification it shows to stdout, which the test reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class NtfyServer:
    def __init__(self) -> None:
        self.topics: dict[str, list[dict]] = {}
        self.requests: list[dict] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlsplit(self.path).path.strip("/")
                with server.lock:
                    server.requests.append({"path": path, "headers": dict(self.headers), "body": body})
                    if server.fail_next > 0:
                        server.fail_next -= 1
                        return self._answer(500, {"code": 50001, "error": "internal server error"})
                if path:  # POST /<topic>: a plain-text message (an action button)
                    message = {"topic": path, "message": body.decode()}
                else:  # POST /: JSON publish
                    message = json.loads(body)
                    if "X-Actions" in self.headers and "actions" not in message:
                        message["actions"] = json.loads(self.headers["X-Actions"])
                    message.setdefault("title", self.headers.get("X-Title"))
                self._answer(200, server.store(message))

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                if len(segments) != 2 or segments[1] != "json":
                    return self._answer(404, {"error": "not found"})
                since = parse_qs(parts.query).get("since", ["all"])[0]
                with server.lock:
                    messages = list(server.topics.get(segments[0], []))
                if since != "all":
                    ids = [m["id"] for m in messages]
                    if since in ids:
                        messages = messages[ids.index(since) + 1 :]
                    elif since.isdigit():
                        messages = [m for m in messages if m["time"] >= int(since)]
                text = "".join(json.dumps(m) + "\n" for m in messages).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def _answer(self, status: int, payload: dict) -> None:
                text = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def store(self, message: dict) -> dict:
        event = {"id": uuid.uuid4().hex[:12], "time": int(time.time()), "event": "message", **message}
        with self.lock:
            self.topics.setdefault(message["topic"], []).append(event)
        return event

    def messages(self, topic: str) -> list[dict]:
        with self.lock:
            return list(self.topics.get(topic, []))

    def wait_for(self, topic: str, count: int = 1, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.messages(topic)) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"ntfy topic {topic!r}: expected {count} message(s), got {len(self.messages(topic))}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class DesktopSession:
    """Xvfb + a private dbus-daemon + dunst -print; ``environ`` points a client at them."""

    def __init__(self, tmp: Path) -> None:
        missing = [p for p in ("Xvfb", "dbus-daemon", "dunst") if shutil.which(p) is None]
        if missing:
            raise RuntimeError(f"the desktop notification test needs {missing} (scripts/setup installs xvfb, dunst)")
        tmp.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self._log = None
        try:
            self._start(tmp)
        except BaseException:
            self.close()
            raise

    def _start(self, tmp: Path) -> None:
        read, write = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(write)
        self.procs.append(xvfb)
        with os.fdopen(read) as pipe:
            self.display = ":" + pipe.readline().strip()
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE, text=True
        )
        self.procs.append(bus)
        self.bus_address = bus.stdout.readline().strip()
        (tmp / "dunstrc").write_text("[global]\n    timeout = 0\n")
        self.environ = {
            **os.environ,
            "DISPLAY": self.display,
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "XDG_CONFIG_HOME": str(tmp),
        }
        self.log_path = tmp / "dunst.out"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        dunst = subprocess.Popen(
            ["dunst", "-print", "-config", str(tmp / "dunstrc")], env=self.environ, stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(dunst)
        self._wait_for_name()

    def _wait_for_name(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if asyncio.run(self._has_owner("org.freedesktop.Notifications")):
                return
            if self.procs[-1].poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"dunst did not take org.freedesktop.Notifications: {self.log_path.read_text()}")

    async def _has_owner(self, name: str) -> bool:
        from dbus_fast import Message
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_address=self.bus_address).connect()
        try:
            reply = await bus.call(
                Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus", member="NameHasOwner", signature="s", body=[name])
            )  # fmt: skip
            return bool(reply.body and reply.body[0])
        finally:
            bus.disconnect()

    def shown(self) -> list[dict[str, str]]:
        """The notifications dunst printed: app name, summary and (multi-line) body of each."""
        pattern = re.compile(r"appname: '(.*?)'\n\s*summary: '(.*?)'\n\s*body: '(.*?)'\n\s*icon:", re.DOTALL)
        text = self.log_path.read_text()
        return [{"appname": a, "summary": s, "body": b} for a, s, b in pattern.findall(text)]

    def wait_shown(self, count: int = 1, timeout: float = 15.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.shown()) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"dunst showed {len(self.shown())} notification(s), expected {count}")

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._log:
            self._log.close()
