"""The door's part of `facewatch up`: the [web] section (each mistake one line), the door's
certificate (made once, kept, made again when it expired or the names changed; a person's
own refused when it is unreadable, expired or not its key's), its public URL in every link
the functions build, and the port it needs."""

from __future__ import annotations

import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from facewatch.local.processes import StackError, free_port
from facewatch.local.up import tls
from facewatch.local.up.config import ConfigError, WebConfig, parse_config
from facewatch.local.up.door import check_listen_free, plan_door
from facewatch.local.up.home import HomeStack
from facewatch.local.up.mdns import hostname

KEYS = {
    "webhook_token": "t" * 32,
    "link_secret": "s" * 48,
    "notify_token": "n" * 32,
    "s3_access_key": "fwkey",
    "s3_secret_key": "k" * 64,
    "detect_token": "d" * 48,
}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def make_pair(
    folder: Path, *, days: int = 30, start: datetime = NOW, name: str = "pair"
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "door.example.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_without_a_web_section_the_door_is_on_the_lan_at_8443_with_a_local_name():
    web = parse_config("").config.web
    assert (web.listen, web.tls, web.cameras) == ("0.0.0.0:8443", "self-signed", False)
    assert web.url("doorbox") == "https://doorbox.local:8443"
    assert WebConfig(listen="127.0.0.1:9443").url("doorbox") == "https://127.0.0.1:9443"
    assert WebConfig(listen="0.0.0.0:443").url("doorbox") == "https://doorbox.local"
    assert WebConfig(public_url="https://door.example.test/").url("x") == "https://door.example.test"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[web]\npublic_url = 'door.local:8443'", "web.public_url: 'door.local:8443' is not a URL"),
        ("[web]\npublic_url = 'https://'", "web.public_url: 'https://' is not a URL"),
        ("[web]\npublic_url = 'ftp://door'", "web.public_url: 'ftp://door' is not a URL"),
        ("[web]\npublic_url = 'http://door.local:8443'", "web.public_url: http:// but the door speaks https"),
        ("[web]\ntls = 'off'\npublic_url = 'http://door.lan'", "web.public_url: http:// sends the console's"),
        ("[web]\ntls = 'off'", 'web.public_url: required with tls = "off"'),
        ("[web]\ntrusted_proxies = ['127.0.0.1']", 'web.trusted_proxies: only with tls = "off"'),
        ("[web]\ntls = 'off'\npublic_url = 'https://x'", 'web.trusted_proxies: required with tls = "off"'),
        ("[web]\ntls = 'off'\npublic_url = 'https://x'\ntrusted_proxies = ['me']", "web.trusted_proxies:"),
        ("[web]\nlisten = '8443'", "web.listen: '8443' is not address:port"),
        ("[web]\nlisten = 'door.local:8443'", "web.listen: 'door.local:8443' is not address:port"),
        ("[web]\nlisten = '0.0.0.0:99999'", "web.listen: '0.0.0.0:99999' is not address:port"),
        ("[web]\ntls = 'yes'", 'web.tls: \'yes\': use "self-signed", "off" or { cert_file'),
        ("[web]\ntls = { cert_file = 'a.pem' }", "web.tls: key_file: missing"),
        ("[web]\ncamera = true", "web.camera: unknown key"),
        ("[ports]\nconsole = 8443", "web.listen: port 8443 is also ports.console"),
    ],
)
def test_each_web_mistake_is_one_clear_line(text: str, line: str):
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(line), found


def test_http_behind_a_proxy_when_the_person_says_so():
    web = parse_config(
        "[web]\ntls = 'off'\npublic_url = 'http://door.lan/'\nallow_http = true\n"
        "trusted_proxies = ['10.0.0.0/8']"
    ).config.web
    assert web.url("x") == "http://door.lan" and web.trusted_proxies == ["10.0.0.0/8"]


def test_a_certificate_of_ones_own_is_checked_when_the_config_is(tmp_path: Path):
    good_cert, good_key = make_pair(tmp_path, start=datetime.now(UTC))
    other_cert, _ = make_pair(tmp_path, start=datetime.now(UTC), name="other")
    old_cert, old_key = make_pair(tmp_path, start=datetime(2020, 1, 1, tzinfo=UTC), name="old")

    def web(cert: Path, key: Path) -> str:
        return f"[web]\ntls = {{ cert_file = '{cert}', key_file = '{key}' }}\n"

    assert parse_config(web(good_cert, good_key)).config.web.tls.cert_file == good_cert  # type: ignore[union-attr]
    assert problems(web(other_cert, good_key)) == [
        f"web.tls.cert_file: the certificate in {other_cert} does not match the key in {good_key}"
    ]
    assert problems(web(old_cert, old_key)) == [
        f"web.tls.cert_file: the certificate in {old_cert} expired on 2020-01-31"
    ]
    missing = tmp_path / "no.key"
    assert problems(web(good_cert, missing)) == [
        f"web.tls.key_file: unreadable key file {missing} (No such file or directory)"
    ]
    assert problems(web(good_cert, tmp_path)) == [
        f"web.tls.key_file: unreadable key file {tmp_path} (Is a directory)"
    ]
    assert problems(web(good_key, good_key)) == [f"web.tls.cert_file: {good_key} holds no PEM certificate"]


def test_the_self_signed_certificate_is_made_once_and_kept(tmp_path: Path):
    folder = tmp_path / "tls"
    made = tls.self_signed(folder, {"doorbox", "doorbox.local"}, {"127.0.0.1", "192.168.1.5"}, NOW)
    assert stat.S_IMODE(made.key_file.stat().st_mode) == 0o600
    assert tls.check_pair(made.cert_file, made.key_file, NOW) == []
    cert = x509.load_pem_x509_certificate(made.cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"doorbox", "doorbox.local"}
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.168.1.5"}
    assert len(made.fingerprint.split(":")) == 32

    again = tls.self_signed(folder, {"doorbox.local", "doorbox"}, {"192.168.1.5", "127.0.0.1"}, NOW)
    assert again.fingerprint == made.fingerprint
    moved = tls.self_signed(folder, {"doorbox", "doorbox.local"}, {"127.0.0.1", "192.168.1.9"}, NOW)
    assert moved.fingerprint != made.fingerprint
    expired = NOW + timedelta(days=tls.VALID_DAYS)
    later = tls.self_signed(folder, {"doorbox", "doorbox.local"}, {"127.0.0.1", "192.168.1.9"}, expired)
    assert later.fingerprint != moved.fingerprint


def test_every_link_the_functions_build_starts_with_the_public_url(tmp_path: Path):
    loaded = parse_config("[web]\nlisten = '127.0.0.1:9443'\npublic_url = 'https://door.example.test:9443'\n")
    stack = HomeStack(tmp_path / "data", loaded, base_env={})
    stack.door_plan = plan_door(loaded.config.web, tmp_path / "tls", NOW)
    env = stack._function_env(KEYS)
    assert env["FACEWATCH_CONSOLE_URL"] == "https://door.example.test:9443/"
    assert env["FACEWATCH_FEEDBACK_URL"] == "https://door.example.test:9443/feedback/"
    assert env["FACEWATCH_FRAME_LINK_URL"] == "https://door.example.test:9443/picture"
    assert "FACEWATCH_DETECT_TOKEN" not in env
    cert = x509.load_pem_x509_certificate(stack.door_plan.certificate.cert_file.read_bytes())  # type: ignore[union-attr]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "door.example.test" in san.get_values_for_type(x509.DNSName)
    assert f"{hostname()}.local" in san.get_values_for_type(x509.DNSName)


def test_a_door_port_in_use_is_refused():
    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(StackError) as caught:
            check_listen_free(WebConfig(listen=f"127.0.0.1:{port}"))
    assert str(caught.value) == (
        f"port {port} (web.listen) is in use: free it or choose another in [web] listen"
    )


def test_behind_a_proxy_the_links_are_the_proxys_and_there_is_no_certificate(tmp_path: Path):
    loaded = parse_config(
        "[web]\nlisten = '127.0.0.1:9443'\ntls = 'off'\npublic_url = 'https://door.example.test'\n"
        "trusted_proxies = ['127.0.0.1']\ncameras = true\n"
    )
    stack = HomeStack(tmp_path / "data", loaded, base_env={})
    stack.door_plan = plan_door(loaded.config.web, tmp_path / "tls", NOW)
    assert stack.door_plan.certificate is None and not (tmp_path / "tls").exists()
    env = stack._function_env(KEYS)
    assert env["FACEWATCH_CONSOLE_URL"] == "https://door.example.test/"
    assert env["FACEWATCH_FRAME_LINK_URL"] == "https://door.example.test/picture"
    stack.keys = KEYS  # type: ignore[misc]
    assert stack.exports()["FACEWATCH_DETECT_TOKEN"] == KEYS["detect_token"]
