"""Serve a `responses`-style fake (one with `register(mock)`) on loopback HTTPS, for other processes.

The Salesforce fake answers `requests` through `responses` callbacks, which only work inside the process
that registered them. A `gomme` subprocess (killed mid-run by the crash tests, measured alone by the
benchmarks) needs a real server: `Served` collects the fake's routes with the same `add_callback` calls,
then answers them from a ThreadingHTTPServer behind TLS (simple-salesforce always speaks https). Its
self-signed certificate is written to `ca_file`; point the client at it with REQUESTS_CA_BUNDLE.

Callbacks run one at a time (the fakes are not thread-safe), get a request shaped like the one
`responses` passes (method, url, headers, body) and may return an exception: the connection is then
dropped without an answer, as for a reset.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.structures import CaseInsensitiveDict

Callback = Callable[[Any], Any]


class Registrable(Protocol):
    host: str

    def register(self, mock: Any) -> None: ...


@dataclass(frozen=True)
class ServedRequest:
    """The parts of a `requests.PreparedRequest` the fakes read."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes | None


class _Routes:
    """Quacks like `responses.RequestsMock` for `register()`."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Callback]] = []

    def add_callback(self, method: str, url: re.Pattern[str], callback: Callback, content_type: Any = None) -> None:
        self.routes.append((method, url, callback))


class Served:
    """`with Served(org, directory) as served:` → the org answers on `served.url` until the block ends."""

    def __init__(self, fake: Registrable, directory: Path) -> None:
        self.fake = fake
        self.ca_file = directory / "fake-ca.pem"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._routes = _Routes()

    def __enter__(self) -> Served:
        owner = self

        class Handler(_Handler):
            served = owner

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = _tls(self.ca_file).wrap_socket(server.socket, server_side=True)
        self._server = server
        self.fake.host = self.host
        self.fake.register(self._routes)
        serve = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.02), name="served", daemon=True)
        serve.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def host(self) -> str:
        assert self._server is not None, "enter the context first"
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def answer(self, request: ServedRequest) -> Any:
        for method, pattern, callback in self._routes.routes:
            if method == request.method and pattern.match(request.url):
                with self._lock:
                    return callback(request)
        return 404, {"Content-Type": "application/json"}, '[{"errorCode": "NOT_FOUND", "message": "(fake) no route"}]'


class _Handler(BaseHTTPRequestHandler):
    served: Served
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_PATCH(self) -> None:
        self._respond("PATCH")

    def do_PUT(self) -> None:
        self._respond("PUT")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(dict(self.headers.items()))
        url = f"https://{self.served.host}{self.path}"
        reply = self.served.answer(ServedRequest(method, url, headers, body))
        if isinstance(reply, BaseException):
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, extra, text = reply
        data = text.encode() if isinstance(text, str) else bytes(text or b"")
        try:
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client is gone (killed): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _tls(ca_file: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1, written to `ca_file`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gomme fake CRM")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = ca_file.with_suffix(".key")
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_file.chmod(0o600)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ca_file, key_file)
    return context
