"""Where the deployment may connect on a household's behalf: the URLs a household sets (its
webhook, its MQTT broker) are checked when they are saved, and their addresses again at
every connection, since a name that resolved to a public address when saved may resolve to
the metadata service or to notify itself later (DNS rebinding).

The policy, for every address a name resolves to (all of them, not the first):
- always refused: loopback, link-local (169.254.0.0/16 holds the cloud metadata service),
  unspecified, multicast, reserved and documentation ranges, and the metadata services'
  own addresses and names (169.254.169.254, fd00:ec2::254, 100.100.100.200,
  metadata.google.internal...), whatever the deployment allows;
- private ranges (RFC 1918, IPv6 ULA, CGNAT 100.64.0.0/10) only where the deployment allows
  them (FACEWATCH_OUTBOUND_ALLOW_PRIVATE: on for `facewatch up`, whose households' Home
  Assistant is on the LAN; off for the cloud templates);
- loopback only for tests and development (FACEWATCH_OUTBOUND_ALLOW_LOOPBACK, never set by
  a template);
- never the deployment's own services (its bucket, notify, mail server, console, feedback;
  in a container, the host's gateway), by name or by address, even where private
  ranges are allowed: under compose they are private addresses on the compose network.

The connection is then made to the address that was checked (`Target.addresses`), never by
resolving the name again; the name stays the Host header and the TLS server name.

`redact_url` is the one way a household's URL appears in a log line, an error or a dead
letter: its path, query and user info can be secrets (a Home Assistant webhook id, an ntfy
topic, a broker password)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from facewatch.exceptions import BadInput

if TYPE_CHECKING:
    from facewatch.config import Settings

__all__ = [
    "OutboundPolicy",
    "OutboundRefused",
    "Target",
    "Unresolvable",
    "check_household_urls",
    "check_saved_url",
    "container_hosts",
    "policy_from_settings",
    "redact_url",
    "resolve_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
"""What FACEWATCH_OUTBOUND_ALLOW_PRIVATE opens: RFC 1918, CGNAT, IPv6 unique local."""

WEBHOOK_SCHEMES = ("http", "https")
MQTT_SCHEMES = ("mqtt", "mqtts")
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}


class OutboundRefused(BadInput):
    """A household's URL names a place the deployment does not connect to on its behalf."""


class Unresolvable(OutboundRefused):
    """The URL's name resolves to nothing (here, now)."""


def _system_resolver(host: str, port: int) -> Sequence[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    allow_private: bool = False
    allow_loopback: bool = False
    """For tests and development only: a receiver on this machine."""
    deployment_hosts: frozenset[str] = frozenset()
    """This deployment's own endpoints (the hosts of its bucket, notify, mail server, console
    and feedback; in a container, its gateway to the host): never
    a household's target, by name or by any address they resolve to, whatever
    allow_private says. Those on loopback are left to the loopback rule."""
    resolve: Resolver = field(default=_system_resolver, compare=False)
    """Name to addresses; tests stand a name that rebinds in for DNS."""

    def deployment_addresses(self) -> frozenset[IPAddress]:
        """Where the deployment's own hosts resolve now (with this policy's resolver, as the
        target is): a name that does not resolve here names nothing to protect."""
        found: set[IPAddress] = set()
        for host in self.deployment_hosts:
            literal = _literal(host)
            try:
                texts = [host] if literal is not None else self.resolve(host, 0)
            except Unresolvable:
                continue
            found.update(ipaddress.ip_address(text.split("%", 1)[0]) for text in texts)
        return frozenset(a for a in found if not a.is_loopback)

    def refusal(self, address: IPAddress) -> str | None:
        """Why the deployment does not connect to this address, or None when it may."""
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return self.refusal(embedded)
        if address in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if address in LOCAL_NAT64:
            return "a local-use NAT64 address"
        if address.is_loopback:
            return None if self.allow_loopback else "a loopback address"
        if address.is_link_local:
            return "a link-local address"
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_multicast:
            return "a multicast address"
        if any(address in net for net in PRIVATE_NETWORKS):
            return (
                None if self.allow_private else "a private address (FACEWATCH_OUTBOUND_ALLOW_PRIVATE is off)"
            )
        if not address.is_global:
            return "a reserved address"
        return None


_IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b::/96",  # NAT64's well-known prefix
        "::ffff:0:0:0/96",  # SIIT's IPv4-translated addresses
        "::/96",  # IPv4-compatible (deprecated; :: and ::1 are themselves)
    )
)
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
"""Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the prefix length the
network chose, so the whole range is refused."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64's well-known prefix,
    SIIT, IPv4-compatible)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if int(address) > 1 and any(address in net for net in _IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def policy_from_settings(settings: Settings) -> OutboundPolicy:
    """The deployment's policy; its own endpoints are the hosts its settings name (not the
    MQTT broker of FACEWATCH_MQTT_URL: the operator's, for households to share)."""
    urls = (settings.s3_endpoint_url, settings.notify_url, settings.console_url, settings.feedback_url)
    hosts = {_host_of(url) for url in urls if url} | {settings.smtp_host.rstrip(".").lower()}
    return OutboundPolicy(
        allow_private=settings.outbound_allow_private,
        allow_loopback=settings.outbound_allow_loopback,
        deployment_hosts=frozenset(h for h in hosts | set(container_hosts()) if h and not _on_loopback(h)),
    )


def _on_loopback(host: str) -> bool:
    """Left to the loopback rule, which refuses it everywhere but in tests and development
    (where the test's own receivers are on loopback beside the deployment)."""
    literal = _literal(host)
    return host == "localhost" or host.endswith(".localhost") or bool(literal and literal.is_loopback)


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))
"""Files Docker and Podman put in every container."""
DOCKER_HOST_NAMES = ("host.docker.internal", "gateway.docker.internal")


def container_hosts(
    markers: Sequence[Path] = CONTAINER_MARKERS, routes: Path = Path("/proc/net/route")
) -> tuple[str, ...]:
    """In a container (compose): the host gateway's names and the default gateway's address,
    where the host's published ports (detect, console, feedback) answer. Nothing elsewhere,
    where the default gateway is the LAN's router."""
    if not any(marker.exists() for marker in markers):
        return ()
    return (*DOCKER_HOST_NAMES, *_default_gateways(routes))


def _default_gateways(routes: Path) -> tuple[str, ...]:
    """The IPv4 default gateways of /proc/net/route (little-endian hex)."""
    try:
        lines = routes.read_text().splitlines()[1:]
    except OSError:
        return ()
    found: list[str] = []
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            with contextlib.suppress(ValueError):
                found.append(str(ipaddress.IPv4Address(int(fields[2], 16).to_bytes(4, "little"))))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Target:
    """A URL whose every address was checked: connect to `addresses`, name `host`."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _parts(url: str, schemes: Collection[str]) -> tuple[str, str, int]:
    if any(c in url for c in "\r\n\t\x00 "):  # urlsplit would drop some of them silently
        raise OutboundRefused(f"{redact_url(url)}: the URL has a space or control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"{redact_url(url)} is not a URL: {exc}") from None
    if parts.scheme not in schemes:
        raise OutboundRefused(
            f"{redact_url(url)}: the URL must start with {' or '.join(s + '://' for s in schemes)}"
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise OutboundRefused(f"{redact_url(url)}: the URL has no host")
    return parts.scheme, host, port or DEFAULT_PORTS[parts.scheme]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _name_refusal(host: str, policy: OutboundPolicy) -> str | None:
    if host in METADATA_NAMES:
        return "a cloud metadata name"
    if (host == "localhost" or host.endswith(".localhost")) and not policy.allow_loopback:
        return "a loopback name"
    return None


def _refuse(url: str, why: str) -> OutboundRefused:
    return OutboundRefused(f"{redact_url(url)} is refused: {why}")


def resolve_target(url: str, policy: OutboundPolicy, schemes: Collection[str] = WEBHOOK_SCHEMES) -> Target:
    """At connect time: the URL's host resolved, every address checked against the policy.
    Refused (OutboundRefused) when the name does not resolve or any address is refused, so
    a name that answers with a public and a private address passes neither."""
    scheme, host, port = _parts(url, schemes)
    why = _name_refusal(host, policy)
    if why is not None:
        raise _refuse(url, why)
    literal = _literal(host)
    if host in policy.deployment_hosts:
        raise _refuse(url, f"{host} is one of this deployment's own services")
    found = [str(literal)] if literal is not None else list(policy.resolve(host, port))
    if not found:
        raise Unresolvable(f"{redact_url(url)}: {host} resolves to no address")
    own = policy.deployment_addresses() if policy.deployment_hosts else frozenset()
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = policy.refusal(address)
        if why is None and (address in own or _embedded_ipv4(address) in own):
            why = "an address of this deployment's own services"
        if why is not None:
            raise _refuse(url, f"{address} is {why}" if literal else f"{host} resolves to {address}, {why}")
    return Target(scheme, host, port, tuple(found))


def check_saved_url(url: str, policy: OutboundPolicy, schemes: Collection[str] = WEBHOOK_SCHEMES) -> str:
    """When a household saves a URL: its form, and where it points now. A name that does not
    resolve here is kept (it may resolve where notify runs); every connection checks it
    again (resolve_target)."""
    with contextlib.suppress(Unresolvable):
        resolve_target(url, policy, schemes)
    return url


def redact_url(url: str) -> str:
    """A household's URL as it may be logged, kept in a dead letter or put in an error:
    scheme, host and port only; user info, path and query (where webhook ids, ntfy topics
    and passwords live) become `***`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<a malformed URL>"
    if ":" in host:
        host = f"[{host}]"
    user = "***@" if parts.username is not None or parts.password is not None else ""
    where = f"{parts.scheme}://{user}{host}" + (f":{port}" if port else "")
    secret = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{where}/***" if secret else f"{where}/"


def check_household_urls(
    webhook_url: str | None, mqtt_url: str | None, policy: OutboundPolicy, *, deployment_mqtt_url: str | None
) -> None:
    """When a household saves its settings: its webhook and broker URLs, checked as
    `check_saved_url` does. The deployment's own broker (FACEWATCH_MQTT_URL) is its
    operator's choice and not checked again."""
    if webhook_url is not None:
        check_saved_url(webhook_url, policy, WEBHOOK_SCHEMES)
    if mqtt_url is not None and mqtt_url != deployment_mqtt_url:
        check_saved_url(mqtt_url, policy, MQTT_SCHEMES)
