"""TLS with username and password against a Mosquitto TLS listener, with a CA the test makes itself."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from sitless.alerts.mqtt import MqttError, MqttSettings, publish_retained, topics_for
from tests.alerts.conftest import TEMPLATES, _start

USER, PASSWORD = "phone", "correct horse battery staple"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN=sitless test {name}",
        cwd=directory,
    )  # fmt: skip


def make_server_cert(directory: Path, common_name: str, alt_names: str) -> None:
    """server.key/server.crt signed by ``ca`` for ``alt_names`` (e.g. "IP:127.0.0.1,DNS:localhost")."""
    (directory / "san.ext").write_text(f"subjectAltName={alt_names}\n")
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={common_name}", cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls-broker")
    make_ca(directory, "ca")
    make_ca(directory, "other-ca")
    make_server_cert(directory, "127.0.0.1", "IP:127.0.0.1,DNS:localhost")
    passwd = directory / "passwd"
    passwd.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), USER, PASSWORD], check=True, timeout=30)
    os.chmod(directory / "server.key", 0o600)
    server = _start(directory, template=TEMPLATES / "tls.conf", tls_port=None)
    yield server, directory
    server.stop()


def tls_settings(server, directory: Path, **overrides) -> MqttSettings:
    values = dict(
        url=f"mqtts://127.0.0.1:{server.extra_ports['tls_port']}",
        username=USER,
        password=PASSWORD,
        ca_certs=directory / "ca.crt",
    )
    values.update(overrides)
    return MqttSettings(**values)


def test_tls_with_username_and_password_connects_and_delivers(tls_broker, subscribe, make_publisher):
    server, directory = tls_broker
    settings = tls_settings(server, directory)
    publisher = make_publisher(settings, "tls" + uuid.uuid4().hex[:6])
    publisher.start()
    try:
        publisher.wait_connected(10)
        topic = publisher.topics.report_weekly
        publish_retained(settings, topic, '{"ok":true}')
        watcher = subscribe(server.port, [topic])  # the plain listener sees the same topics
        assert watcher.wait_for(topic)[0].json() == {"ok": True}
    finally:
        publisher.stop()


def test_credentials_can_come_from_the_environment(tls_broker, monkeypatch):
    server, directory = tls_broker
    monkeypatch.setenv("SITLESS_MQTT_USERNAME", USER)
    monkeypatch.setenv("SITLESS_MQTT_PASSWORD", PASSWORD)
    settings = tls_settings(server, directory, username=None, password=None)
    publish_retained(settings, topics_for(settings, "env").state, "{}")


def test_wrong_password_is_a_clear_error_that_does_not_leak_the_password(tls_broker, caplog, make_publisher):
    server, directory = tls_broker
    settings = tls_settings(server, directory, password="not-the-password")
    publisher = make_publisher(settings, "bad" + uuid.uuid4().hex[:6])
    publisher.start()
    try:
        with pytest.raises(MqttError, match=f"refused the login for user '{USER}'") as caught:
            publisher.wait_connected(5)
    finally:
        publisher.stop()
    assert "not-the-password" not in str(caught.value) and "not-the-password" not in caplog.text
    with pytest.raises(MqttError, match="refused the login"):
        publish_retained(settings, "sitless/x/state", "{}")


def test_untrusted_certificate_is_a_clear_error(tls_broker, make_publisher):
    server, directory = tls_broker
    settings = tls_settings(server, directory, ca_certs=directory / "other-ca.crt")
    publisher = make_publisher(settings, "untrusted")
    publisher.start()
    try:
        with pytest.raises(MqttError, match="certificate is not trusted.*ca_certs"):
            publisher.wait_connected(5)
    finally:
        publisher.stop()
    with pytest.raises(MqttError, match="certificate is not trusted"):
        publish_retained(settings, "sitless/x/state", "{}")


def test_a_certificate_for_another_host_name_says_so_and_not_to_set_ca_certs(tmp_path):
    """Issue 13 item 12: with ca_certs right, a name mismatch used to say "set [mqtt] ca_certs"."""
    make_ca(tmp_path, "ca")
    make_server_cert(tmp_path, "broker.elsewhere.example", "DNS:broker.elsewhere.example")
    (tmp_path / "passwd").touch(mode=0o600)
    server = _start(tmp_path, template=TEMPLATES / "tls.conf", tls_port=None)
    try:
        settings = MqttSettings(url=f"mqtts://127.0.0.1:{server.extra_ports['tls_port']}", ca_certs=tmp_path / "ca.crt")
        with pytest.raises(MqttError) as caught:
            publish_retained(settings, "sitless/x/state", "{}")
    finally:
        server.stop()
    message = str(caught.value)
    assert "not issued for '127.0.0.1'" in message and "ca_certs" not in message, message
