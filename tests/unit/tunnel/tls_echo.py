"""An HTTPS echo server on loopback (an embedded uvicorn ``HttpServer``) for the tunnel tests:
it answers with the method, path, query, headers and client certificate chain it saw."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from lattice_tunnel import pki
from lattice_tunnel.embedded_uvicorn import HttpServer

BUNDLE = pki.CaBundle(pki.generate_ca())


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]], "body": body.decode(),
        "client_cert_chain": scope.get("extensions", {}).get("tls", {}).get("client_cert_chain"),
    }
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(seen)})


@contextlib.asynccontextmanager
async def tls_echo(*, require_client_cert: bool = False) -> AsyncIterator[HttpServer]:
    leaf = pki.issue_server_certificate(BUNDLE)
    ctx = pki.server_ssl_context(leaf.chain_pem, leaf.key_pem, BUNDLE.trust_pem() if require_client_cert else None)
    server = HttpServer(echo, "127.0.0.1", 0, ctx, "echo")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
