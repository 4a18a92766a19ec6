"""MQTT connection settings (table ``[mqtt]``), topics, and clear descriptions of connection failures.

Split from ``sitless.alerts.mqtt`` (the publisher) so the one-shot helper, the report and the tests can use
them without the publisher's thread machinery. ``sitless.alerts.mqtt`` re-exports everything here.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sitless.analysis.setting_ranges import check_ranges, ranged

_DEVICE_ID_RE = re.compile(r"[^a-z0-9_-]+")
NAME_MISMATCH_CODES = (62, 64)  # OpenSSL x509_vfy.h: X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH


class MqttError(Exception):
    """Cannot talk to the broker (address, TLS, login) or a bad ``[mqtt]`` setting; says what to fix."""


@dataclass
class MqttSettings:
    """Table ``[mqtt]`` of the config file."""

    #: mqtt://host:port or mqtts://host:port (TLS); None: do not publish.
    url: str | None = None
    #: Names the topics and the client id; default: the host name (``default_device_id``).
    device_id: str | None = None
    protocol: str = "5"  # "5" or "3.1.1"
    client_id: str | None = None  # default "sitless-<device_id>" (stable, so the session persists)
    prefix: str | None = None  # default "sitless/<device_id>/" (same key as `sitless report --publish`)
    username: str | None = None
    password: str | None = None
    ca_certs: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    #: MQTT encodes the keep-alive in two bytes (MQTT 5.0 section 3.1.2.10); below 5 s is just chatter.
    keepalive_s: int = ranged(30, 5, 65535, "s")
    #: A four-byte integer (MQTT 5.0 section 3.1.2.11.2); 4294967295 means the session never expires.
    session_expiry_s: int = ranged(7 * 24 * 3600, 0, 4294967295, "s")
    discovery: bool = True
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.protocol not in ("5", "3.1.1"):
            raise ValueError(f'protocol must be "5" or "3.1.1", got {self.protocol!r}')
        # MQTT forbids wildcards and NUL in topic names (MQTT 5.0 section 4.7); a device id is one level.
        for name, value, banned in (
            ("device_id", self.device_id, "/+#\0"),
            ("prefix", self.prefix, "+#\0"),
            ("discovery_prefix", self.discovery_prefix, "+#\0"),
        ):
            if value is not None and (not value.strip("/") or any(c in value for c in banned)):
                raise ValueError(
                    f"{name} {value[:40]!r} cannot name MQTT topics (no {' '.join(repr(c) for c in banned)}, not empty)"
                )
        # A topic is at most 65535 bytes (MQTT 5.0 section 1.5.4); names this long are typing accidents.
        for name, limit in (("device_id", 64), ("client_id", 128), ("prefix", 256), ("discovery_prefix", 256)):
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(f"{name} is {len(value)} characters long; at most {limit} are allowed")
        for name in ("username", "password"):
            value = getattr(self, name)
            if value is not None and len(value.encode()) > 65535:
                raise ValueError(f"{name} is longer than MQTT allows (65535 bytes)")
        if self.url is not None:
            parse_broker_url(self.url)
        for name in ("ca_certs", "certfile", "keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).expanduser().is_file():
                raise ValueError(f"{name}: no such file {path}")

    def with_environment(self, environ: dict[str, str] | None = None) -> MqttSettings:
        """Credentials from the environment override the file (containers, systemd credentials)."""
        env = os.environ if environ is None else environ
        return replace(
            self,
            username=env.get("SITLESS_MQTT_USERNAME") or self.username,
            password=env.get("SITLESS_MQTT_PASSWORD") or self.password,
        )


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
    if parts.username or parts.password:
        raise ValueError(
            "broker URL must not contain credentials (they would show in process lists and logs); "
            "put username/password in [mqtt] or SITLESS_MQTT_USERNAME / SITLESS_MQTT_PASSWORD"
        )
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"broker URL {url!r} has an invalid port") from None
    return BrokerAddress(parts.hostname, port, tls)


def default_device_id(settings: MqttSettings) -> str:
    """``[mqtt] device_id``, else the host name: the daemon, replay and ``sitless report --publish`` all
    name their topics with it, so a report lands beside the prompts of the same device."""
    if settings.device_id:
        return settings.device_id
    return normalise_device_id(socket.gethostname().replace(".", "-"))


def normalise_device_id(text: str) -> str:
    """A topic- and client-id-safe device id: "C0:FF:EE:00:00:01" -> "c0ffee000001"."""
    cleaned = _DEVICE_ID_RE.sub("", text.lower().replace(":", ""))
    return cleaned or "sensor"


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def availability(self) -> str:
        return self.prefix + "availability"

    @property
    def state(self) -> str:
        return self.prefix + "state"

    @property
    def prompt(self) -> str:
        return self.prefix + "prompt"

    @property
    def prompt_outcome(self) -> str:
        return self.prefix + "prompt/outcome"

    @property
    def report_weekly(self) -> str:
        return self.prefix + "report/weekly"

    @property
    def error(self) -> str:
        return self.prefix + "error"

    def cmd(self, name: str) -> str:
        return self.prefix + "cmd/" + name


def topics_for(settings: MqttSettings, device_id: str) -> Topics:
    prefix = settings.prefix or f"sitless/{device_id}/"
    return Topics(prefix if prefix.endswith("/") else prefix + "/")


def describe_connect_error(error: BaseException, address: BrokerAddress) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_code in NAME_MISMATCH_CODES:
        # The CA is trusted (ca_certs is right); the name in the URL is not one the certificate names.
        return (
            f"{address}: the broker's TLS certificate is not issued for {address.host!r} "
            f"({error.verify_message}); use the host name the certificate names in [mqtt] url or --broker"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"{address}: the broker's TLS certificate is not trusted ({error.verify_message}); "
            "set [mqtt] ca_certs to the CA certificate that signed it"
        )
    if isinstance(error, ssl.SSLError):
        return f"{address}: TLS handshake failed ({error.reason or error}); is it a TLS listener?"
    if isinstance(error, ConnectionRefusedError):
        return f"{address}: connection refused (is the broker running and listening there?)"
    if isinstance(error, socket.gaierror):
        return f"{address}: cannot resolve host {address.host!r}"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"{address}: no answer from the broker (timeout)"
    if isinstance(error, OSError):
        return f"{address}: {error.strerror or error}"
    return f"{address}: {type(error).__name__}: {error}"


def describe_refusal(reason: object, address: BrokerAddress, username: str | None) -> str:
    code = getattr(reason, "value", reason)
    if code in (134, 135, 4, 5):
        who = f"for user {username!r}" if username else "(no username was given)"
        return (
            f"{address}: the broker refused the login {who}: {reason}; check username/password in [mqtt] "
            "of the config file or SITLESS_MQTT_USERNAME / SITLESS_MQTT_PASSWORD"
        )
    return f"{address}: the broker refused the connection: {reason}"


def make_client(
    settings: MqttSettings, client_id: str, *, persistent: bool = True
) -> tuple[paho.Client, BrokerAddress, Properties | None]:
    """A configured, unconnected paho client (shared by the publisher and the one-shot helper)."""
    if settings.url is None:
        raise MqttError("no broker configured: set [mqtt] url or pass --broker mqtt://host:port")
    try:
        address = parse_broker_url(settings.url)
    except ValueError as error:
        raise MqttError(str(error)) from None
    v5 = settings.protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else not persistent,
    )
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if address.tls or settings.ca_certs:
        try:
            client.tls_set(
                ca_certs=str(settings.ca_certs) if settings.ca_certs else None,
                certfile=str(settings.certfile) if settings.certfile else None,
                keyfile=str(settings.keyfile) if settings.keyfile else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (ssl.SSLError, OSError) as error:
            raise MqttError(f"cannot load the TLS files from [mqtt]: {error}") from None
    properties = None
    if v5 and persistent:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = settings.session_expiry_s
    return client, address, properties
