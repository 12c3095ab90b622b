"""The door's certificate: the person's own (checked: readable, matching its key, not
expired), or one made here on the first start and kept in DATA/tls (key owner-only), with
this host's names and LAN addresses as its names, so a phone that accepted it once keeps
meeting the same one. It is made again when it expired (or will within a day) or when
the host's names or addresses changed. `up` prints its SHA-256 fingerprint: what a person
compares with the phone's certificate warning page before accepting it."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 825
"""What Apple's phones accept for a certificate a person trusts by hand (at most 825 days)."""
RENEW_BEFORE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DoorCertificate:
    cert_file: Path
    key_file: Path
    fingerprint: str
    """SHA-256 of the certificate (DER), as browsers show it: AB:CD:…"""


def fingerprint(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def check_pair(cert_file: Path, key_file: Path, now: datetime | None = None) -> list[str]:
    """What is wrong with a certificate and key of the person's own, one line each (empty:
    nothing), each starting with the key it is about (cert_file, key_file)."""
    now = now or datetime.now(UTC)
    cert_file, key_file = cert_file.expanduser(), key_file.expanduser()
    problems: list[str] = []
    cert = key = None
    try:
        cert = _load_cert(cert_file)
    except OSError as exc:
        problems.append(f"cert_file: unreadable certificate file {cert_file} ({exc.strerror})")
    except ValueError:
        problems.append(f"cert_file: {cert_file} holds no PEM certificate")
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except OSError as exc:
        problems.append(f"key_file: unreadable key file {key_file} ({exc.strerror})")
    except (ValueError, TypeError):
        problems.append(f"key_file: {key_file} holds no PEM private key without a passphrase")
    if cert is not None:
        after, before = cert.not_valid_after_utc, cert.not_valid_before_utc
        if after <= now:
            problems.append(f"cert_file: the certificate in {cert_file} expired on {after:%Y-%m-%d}")
        elif before > now:
            problems.append(f"cert_file: the certificate in {cert_file} is valid from {before:%Y-%m-%d} only")
    if cert is not None and key is not None:
        ours = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if ours != theirs:
            problems.append(f"cert_file: the certificate in {cert_file} does not match the key in {key_file}")
    return problems


def of_files(cert_file: Path, key_file: Path) -> DoorCertificate:
    cert_file, key_file = cert_file.expanduser().resolve(), key_file.expanduser().resolve()
    return DoorCertificate(cert_file, key_file, fingerprint(_load_cert(cert_file)))


def _names_of(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    names = {str(n).lower() for n in san.get_values_for_type(x509.DNSName)}
    addresses = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return names, addresses


def needs_new(cert: x509.Certificate, names: set[str], addresses: set[str], now: datetime) -> bool:
    """A certificate made here is made again when it (nearly) expired or names other hosts."""
    if cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return True
    return _names_of(cert) != ({n.lower() for n in names}, addresses)


def self_signed(
    folder: Path, names: Iterable[str], addresses: Iterable[str], now: datetime | None = None
) -> DoorCertificate:
    """DATA/tls/door.pem and door.key: the ones there if they still fit, else new ones."""
    now = now or datetime.now(UTC)
    names, addresses = set(names), {str(ipaddress.ip_address(a)) for a in addresses}
    cert_file, key_file = folder / "door.pem", folder / "door.key"
    if cert_file.is_file() and key_file.is_file():
        try:
            cert = _load_cert(cert_file)
        except ValueError:
            cert = None
        fits = cert is not None and not needs_new(cert, names, addresses, now)
        if cert is not None and fits and not check_pair(cert_file, key_file, now):
            return DoorCertificate(cert_file, key_file, fingerprint(cert))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sorted(names)[0] if names else "facewatch")])
    san = [x509.DNSName(n) for n in sorted(names)] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(key_file, key_pem, 0o600)
    _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return DoorCertificate(cert_file, key_file, fingerprint(cert))


def _write(path: Path, body: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    os.replace(temporary, path)
