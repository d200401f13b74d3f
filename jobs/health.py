"""The daemon's HTTP endpoint: `/healthz` for probes and `/metrics` for Prometheus, on one address."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app

DEFAULT_ADDRESS = "127.0.0.1:9464"

HealthCheck = Callable[[], Mapping[str, bool]]


class EndpointUnavailable(OSError):
    """The address cannot be listened on (in use, not local, no permission)."""


def parse_address(text: str) -> tuple[str, int]:
    """`host:port`, `[v6 host]:port` or `:port` (all interfaces); port 0 picks a free one."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"'{text}' is not host:port (such as {DEFAULT_ADDRESS})")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port)  # noqa: S104 - `:port` asks for every interface explicitly


def endpoint_app(health: HealthCheck, registry: CollectorRegistry) -> WSGIApplication:
    """`/healthz`: 200 when every check holds, else 503, with the checks as JSON. `/metrics`: the registry."""
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            served: Iterable[bytes] = metrics(environ, start_response)
            return served
        if path == "/healthz":
            checks = dict(health())
            healthy = all(checks.values())
            body = json.dumps({"status": "ok" if healthy else "unhealthy", **checks}).encode()
            status = "200 OK" if healthy else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /healthz or /metrics\n"]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds up shutdown


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """No access log: its plain-text lines would break the daemon's JSON log stream."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpEndpoint:
    """Serves a WSGI app on a background thread; `start` returns the bound (host, port)."""

    def __init__(self, address: str, app: WSGIApplication) -> None:
        self.host, self.port = parse_address(address)
        self.app = app
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        server_class = _V6Server if ":" in self.host else _Server
        try:
            server = make_server(self.host, self.port, self.app, server_class=server_class,
                                 handler_class=_QuietHandler)
        except OSError as exc:
            raise EndpointUnavailable(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="gomme-http", daemon=True)
        self._thread.start()
        return self.host, server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
