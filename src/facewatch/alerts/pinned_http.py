"""An HTTP POST to a household's URL that connects only to the addresses outbound.py checked:
the name is never resolved again (so DNS rebinding between the check and the connection
does not pass), yet it stays the Host header, the TLS server name and the name the
certificate is checked against. No redirect is followed, no proxy or .netrc from the
environment is used: what was checked is where the request goes, and all it sends."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from facewatch.outbound import Target

if TYPE_CHECKING:
    import requests


def _connection_classes(addresses: tuple[str, ...]) -> tuple[type[Any], type[Any]]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    def new_conn(self: Any) -> socket.socket:
        # In place of HTTPConnection._new_conn: the checked addresses, in order, not the name.
        last: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout, self.source_address)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
                continue
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            return sock
        raise NewConnectionError(self, f"failed to connect to {self.host}: {last}")

    http = type("PinnedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    https = type("PinnedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
    return http, https


def pinned_session(target: Target) -> requests.Session:
    """A session whose every connection goes to `target.addresses` (for `target.host` only)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    http, https = _connection_classes(target.addresses)
    pools = {
        "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    session = requests.Session()
    session.trust_env = False  # no proxy, no .netrc credentials: only what was checked
    adapter = PinnedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post_json(target: Target, url: str, payload: Any, *, timeout: float) -> requests.Response:
    """POST the JSON to the URL (whose host is target's), following no redirect."""
    parts = urlsplit(url)
    if parts.scheme != target.scheme or (parts.hostname or "").rstrip(".").lower() != target.host:
        raise ValueError("the URL is not the one whose addresses were checked")
    with pinned_session(target) as session:
        return session.post(url, json=payload, timeout=timeout, allow_redirects=False)
