"""Serve tunnel responses over HTTP: the shared front of the CAPI proxy and (later) the auth proxy.

`kube_request_from()` turns an incoming `/clusters/{name}/<k8s path>` request into a KubeRequest
(raw path and query preserved, body capped at 10 MiB); `StreamResponse` writes a ResponseStream
back, flushing every chunk, and cancels the upstream as soon as the client disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lattice_tunnel.kube_request import (
    MAX_BODY,
    BadRequest,
    ClusterNotFound,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    TunnelError,
    forwardable_request_headers,
    status_body,
)


def error_response(err: TunnelError) -> Response:
    return Response(status_body(err.status, err.message, err.reason), status_code=err.status,
                    media_type="application/json")


def status_response(code: int, message: str, reason: str) -> Response:
    return Response(status_body(code, message, reason), status_code=code, media_type="application/json")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the {limit}-byte limit")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the {limit}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


# `.` or `..` as a whole segment, also percent-encoded (`%2e`, `.%2E`, ...) and also between
# encoded slashes (`..%2F`): a server that decodes `%2F` before resolving would see a dot segment.
_DOT_SEGMENT = re.compile(r"(?:^|/|%2f)(?:\.|%2e){1,2}(?:/|%2f|$)", re.IGNORECASE)


def split_cluster_path(raw_path: bytes, prefix: str = "/clusters/") -> tuple[str, str]:
    """(cluster, remaining raw path) from `/clusters/{name}/...`, keeping percent-encoding. A dot
    segment anywhere is refused (400): no front may check one path while the target serves
    another once it normalised `..` away."""
    path = raw_path.decode("latin-1").split("?", 1)[0]
    if _DOT_SEGMENT.search(path):
        raise BadRequest(f"path {path[:256]!r} has a '.' or '..' segment")
    if not path.startswith(prefix):
        raise ClusterNotFound(f"path {path!r} does not start with {prefix}")
    cluster, _, rest = path[len(prefix):].partition("/")
    if not cluster:
        raise ClusterNotFound("no cluster name in path")
    return cluster, "/" + rest


def kube_request_from_scope(scope: MutableMapping[str, Any], body: bytes, user: str, groups: tuple[str, ...],
                            timeout: float | None = 30.0) -> KubeRequest:
    """A KubeRequest for an ASGI `/clusters/{name}/<k8s path>` request (raw path and query kept)."""
    cluster, path = split_cluster_path(scope.get("raw_path") or scope["path"].encode())
    # No identity-bearing header (credentials, Impersonate-*, X-Remote-*, method overrides: the
    # shared lattice_tunnel.identity_headers) enters the tunnel; identity travels as user/groups.
    headers = forwardable_request_headers(
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]))
    return KubeRequest(
        cluster=cluster, method=scope["method"], path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers, body=body, user=user, groups=groups, timeout=timeout,
    )


async def kube_request_from(request: Request, user: str, groups: tuple[str, ...],
                            timeout: float | None = 30.0) -> KubeRequest:
    body = await read_body(request) if request.method not in ("GET", "HEAD", "OPTIONS") else b""
    return kube_request_from_scope(request.scope, body, user, groups, timeout)


class StreamResponse:
    """ASGI response for a ResponseStream. Bodies that already arrived whole (small GETs) go
    out in one write with Content-Length; others are chunked and flushed chunk by chunk."""

    def __init__(self, stream: ResponseStream) -> None:
        self.stream = stream

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        stream = self.stream
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in stream.headers]
        try:
            body = stream.complete_body()
            if body is not None:
                headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": stream.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send({"type": "http.response.start", "status": stream.status, "headers": headers})
            pump = asyncio.create_task(self._pump(send))
            gone = asyncio.create_task(_until_disconnect(receive))
            done, _ = await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
            for task in (pump, gone):
                if task not in done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if pump in done and pump.exception() is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await stream.aclose()  # cancels the request at the agent if it is still running

    async def _pump(self, send: Any) -> None:
        async for chunk in self.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
