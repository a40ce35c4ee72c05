"""Run several uvicorn servers inside one asyncio program (cell: bootstrap, proxy, health).

Two small adaptations of uvicorn: signal handling stays with our `main` (uvicorn would replace
it per server), and the client certificate of a TLS connection is exposed to the app through
the ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`, PEM strings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from uvicorn.protocols.http.h11_impl import H11Protocol

ASGIApp = Any


class _TlsScope:
    def __init__(self, app: ASGIApp, chain: list[str]) -> None:
        self.app, self.chain = app, chain

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("extensions", {})["tls"] = {"client_cert_chain": self.chain}
        await self.app(scope, receive, send)


def _prepare(protocol: Any, transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # asyncio only sets TCP_NODELAY when the listening socket has proto=IPPROTO_TCP, which
        # socket.create_server() does not: without it every response waits ~40 ms (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der:
        pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
        protocol.app = _TlsScope(protocol.app, [pem])


class PeerCertH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _prepare(self, transport)


try:  # httptools parses requests several times faster than h11; use it when installed
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class PeerCertHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            _prepare(self, transport)

    HTTP_PROTOCOL: type[asyncio.Protocol] = PeerCertHttpToolsProtocol
except ImportError:  # pragma: no cover
    HTTP_PROTOCOL = PeerCertH11Protocol


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """One uvicorn server on an already-bound socket (so port 0 works and is known up front)."""

    def __init__(self, app: ASGIApp, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                 name: str = "http", http_protocol: type[asyncio.Protocol] | None = None) -> None:
        self.name = name
        self.sock = socket.create_server((host, port))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, http=http_protocol or HTTP_PROTOCOL, loop="asyncio", lifespan="off", log_level="warning",
            access_log=False, timeout_keep_alive=75, proxy_headers=False, server_header=False,
            ssl_context_factory=(lambda _cfg, _default: ssl_context) if ssl_context else None,
        )
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]), name=self.name)
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        logging.getLogger(__name__).info("%s listening on port %d", self.name, self.port)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 5)
