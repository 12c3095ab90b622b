"""This host on the LAN: its name and addresses (for the door's certificate), and the mDNS
announcement (python-zeroconf) of `<hostname>.local` and the door as an `_https._tcp`
service, so a phone on the LAN opens https://<hostname>.local:8443 with no DNS server.
Best effort: a LAN without multicast still reaches the door by its address."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

SERVICE = "_https._tcp.local."


def hostname() -> str:
    """This host's short name, lowercase (what `<hostname>.local` is made of)."""
    return socket.gethostname().split(".")[0].lower() or "facewatch"


def lan_addresses(listen_host: str) -> list[str]:
    """The IPv4 addresses the door is reached at from the LAN: the one it listens on, or
    (listening on all) every address of this host but loopback and link-local ones."""
    try:
        only = ipaddress.ip_address(listen_host)
    except ValueError:
        return []
    if not only.is_unspecified:
        return [] if only.is_loopback else [str(only)]
    import ifaddr

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):  # IPv6 comes as a tuple; A records only here
                continue
            address = ipaddress.ip_address(ip.ip)
            if not (address.is_loopback or address.is_link_local) and str(address) not in found:
                found.append(str(address))
    return found


class Announcer:
    """`<hostname>.local` (A records of ADDRESSES) and the door's service, on the
    interfaces of those addresses, until stop()."""

    def __init__(self, name: str, addresses: Iterable[str], port: int) -> None:
        self.name, self.addresses, self.port = name, list(addresses), port
        self._zeroconf: object | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Announcer:
        if self.addresses:
            # Registering probes the LAN for a second or two first: not on the start's path.
            self._thread = threading.Thread(target=self._announce, name="facewatch-mdns", daemon=True)
            self._thread.start()
        return self

    def _announce(self) -> None:
        from zeroconf import ServiceInfo, Zeroconf

        try:
            zc = Zeroconf(interfaces=self.addresses)
            self._zeroconf = zc
            info = ServiceInfo(
                SERVICE,
                f"facewatch on {self.name}.{SERVICE}",
                addresses=[socket.inet_aton(a) for a in self.addresses],
                port=self.port,
                properties={"path": "/"},
                server=f"{self.name}.local.",
            )
            zc.register_service(info, allow_name_change=True)
            log.info("mdns: %s.local announced at %s", self.name, ", ".join(self.addresses))
        except Exception as exc:  # no multicast here: the door is still reached by its address
            log.warning("mdns: could not announce %s.local (%s): use the address instead", self.name, exc)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=10)
        zc = self._zeroconf
        if zc is not None:
            from zeroconf import Zeroconf

            if isinstance(zc, Zeroconf):
                zc.unregister_all_services()
                zc.close()
        self._zeroconf = None
