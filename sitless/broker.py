"""A private Mosquitto on a free loopback port: for the tests and for ``sitless demo``.

Why a real Mosquitto rather than a Python broker: the pure-Python amqtt lacks MQTT 5, leaks retained
messages across subscriptions and keeps no offline QoS 1 queue (see the MQTT reference), so tests
against it would prove nothing about a real deployment. Mosquitto runs as a plain subprocess from a
config template; ``persistence`` keeps sessions and queued messages across a restart, which the outage
tests need. Everything lives in one private directory (0700).
"""

from __future__ import annotations

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

INSTALL_HINT = "install it with `sudo apt-get install mosquitto`"

#: The default config: loopback only, anonymous (nothing else can reach it), persistent sessions.
#: ``$user``: the user running sitless (see ``start_private_broker``).
DEFAULT_TEMPLATE = """\
user $user
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $data_dir/
autosave_interval 1
autosave_on_changes true
log_dest file $data_dir/mosquitto.log
log_type error
log_type warning
log_type notice
"""


class BrokerError(Exception):
    """Mosquitto is missing or did not start; the message says why and how to fix it."""


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise BrokerError(f"mosquitto (the MQTT broker) is not installed: {INSTALL_HINT}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateBroker:
    """A running (or stopped) Mosquitto; ``restart()`` brings it back on the same port and data."""

    port: int
    directory: Path
    config_path: Path
    process: subprocess.Popen | None = None
    extra_ports: dict[str, int] = field(default_factory=dict)
    #: Linux: the kernel sends Mosquitto SIGTERM when the process that started it dies, even by
    #: ``kill -9`` (prctl PR_SET_PDEATHSIG), so ``sitless demo`` never leaves a broker behind.
    die_with_parent: bool = False

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        binary = find_mosquitto()
        log = (self.directory / "stderr.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config_path)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with(os.getpid()) if self.die_with_parent else None,  # noqa: PLW1509
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited at start (code {self.process.returncode}): {self._log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(
            f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout:.0f} s: {self._log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop (SIGTERM: Mosquitto saves its persistence file)."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as in a crash or an OOM kill."""
        self._end(signal.SIGKILL, 5.0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _end(self, sig: int, timeout: float) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def _log_tail(self) -> str:
        text = ""
        for name in ("stderr.log", "mosquitto.log"):
            path = self.directory / name
            if path.exists():
                text += path.read_text(errors="replace")
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return " | ".join(lines[-4:]) or "no log output"

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> PrivateBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with(parent: int):
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when ``parent`` dies (Linux only).

    PR_SET_PDEATHSIG follows the thread that forked: the demo starts its broker from the main thread.
    If the parent already died between fork and here, the child exits at once.
    """

    def arrange() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            return  # not Linux: the demo's finally still stops the broker
        if os.getppid() != parent:
            os._exit(1)

    return arrange


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def start_private_broker(
    directory: Path | str | None = None,
    *,
    template: str | Path | None = None,
    port: int | None = None,
    die_with_parent: bool = False,
    **values: object,
) -> PrivateBroker:
    """Write the config from ``template`` (text or a file; ``$port``, ``$data_dir`` and ``values``
    substituted) into ``directory`` (a new private temp dir by default) and start Mosquitto.

    Ports named in ``values`` as ``<name>_port=None`` are given free ports and reported in
    ``extra_ports`` (a TLS listener next to the plain one, say).
    """
    find_mosquitto()
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sitless-broker-"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    text = DEFAULT_TEMPLATE if template is None else template
    if isinstance(text, Path) or (isinstance(text, str) and "\n" not in text and Path(text).is_file()):
        text = Path(text).read_text()
    extra = {k: free_port() for k, v in values.items() if k.endswith("_port") and v is None}
    substitutions = {**{k: str(v) for k, v in values.items()}, **{k: str(v) for k, v in extra.items()}}
    broker_port = port or free_port()
    # `user`: started as root, Mosquitto would drop to the "mosquitto" user and lose access to the
    # private directory (persistence, password file, certificates); keep the caller's user.
    substitutions.setdefault("user", getpass.getuser())
    config = Template(str(text)).substitute(port=broker_port, data_dir=str(root), **substitutions)
    config_path = root / "mosquitto.conf"
    config_path.write_text(config)
    broker = PrivateBroker(broker_port, root, config_path, extra_ports=extra, die_with_parent=die_with_parent)
    broker.start()
    return broker
