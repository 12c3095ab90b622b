"""The household's phone, run by test_up_door.py inside a network namespace of its own
(`ip netns exec PHONE python -m tests.integration.door_phone ARGS.json`): it knows the box
only by its LAN address. It checks what a person checks (the certificate's fingerprint
against the one `up` printed), then does what a person does with the alert email in a real
headless Chromium: follows the console link, signs in with the button, looks at the face
and the frame, names the stranger with "I know this person", opens the frame link. It
prints one JSON object of what it saw; the test judges it."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from playwright.sync_api import sync_playwright

from tests.browser import ARGS, CHROMIUM


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # a timeout is not a refusal: something there dropped it


def _certificate(host: str, port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # compared by fingerprint below, as a person does
    with socket.create_connection((host, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def _plain_http_answered(host: str, port: int) -> bool:
    """Whether the door answers a request in clear (it must not: TLS only)."""
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


def _spki_pin(der: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _loaded(page: Any, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def visit(args: dict[str, Any]) -> dict[str, Any]:
    host, port = args["host"], args["door_port"]
    seen: dict[str, Any] = {
        "refused": {str(p): _refused(host, p) for p in args["inner_ports"]},
        "plain_http_answered": _plain_http_answered(host, port),
    }
    der = _certificate(host, port)
    seen["fingerprint"] = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    if seen["fingerprint"] != args["fingerprint"]:
        return seen  # a person stops here: the certificate is not the box's
    # Accepting the certificate after comparing it: Chromium trusts this one key, no other.
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, f"--ignore-certificate-errors-spki-list={_spki_pin(der)}"]
        )
        page = browser.new_context().new_page()
        bad: list[str] = []
        page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: bad.append(f"failed {r.url}"))
        page.goto(args["console_link"])
        seen["signin_page"] = page.title()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        seen["after_signin"] = page.url
        page.wait_for_function("[...document.images].every(img => img.complete)")
        # The alert's link lands on its visit: the visit's faces, each with its frame.
        seen["face_shown"] = _loaded(page, "#visit-faces img")
        cookies = page.context.cookies()
        frame = page.goto(urljoin(page.url, page.get_attribute("#visit-faces figcaption a", "href") or ""))
        seen["frame_shown"] = (
            frame is not None
            and frame.status == 200
            and (frame.headers.get("content-type") or "").startswith("image/")
            and len(frame.body()) > 0
        )
        seen["cookie_secure"] = [c["secure"] for c in cookies if c["name"].startswith("facewatch")]

        page.goto(args["known_link"])
        page.get_by_label("Name").fill(args["name"])
        page.get_by_role("button", name="I know this person").click()
        page.wait_for_load_state()
        seen["named"] = page.inner_text("body")

        response = page.goto(args["frame_link"])
        assert response is not None
        seen["frame_link"] = [response.status, response.headers.get("content-type"), len(response.body())]
        seen["problems"] = bad
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(visit(json.loads(Path(sys.argv[1]).read_text()))))
