"""Execute a tunnelled KubeRequest against this cluster's own API server.

The last hop of every tunnelled request lands here. It authenticates as its own identity
(kubeconfig or service account) and impersonates the original caller, so the target cluster's
RBAC and audit log see the real user. Caller-supplied Impersonate-* headers never get through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from lattice_common.kubehttp import KubeTarget, make_http_client
from lattice_common.tunnel import (
    MAX_BODY,
    BadGateway,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    TunnelTimeout,
    forwardable_request_headers,
    forwardable_response_headers,
)

_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


class KubeExecutor:
    def __init__(self, target: KubeTarget, max_connections: int = 64) -> None:
        self.target = target
        # Per-request timeouts are set below; watches must be able to stay quiet indefinitely.
        self.http = make_http_client(target, timeout=30.0, max_connections=max_connections)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _headers(self, req: KubeRequest) -> list[tuple[str, str]]:
        headers = list(forwardable_request_headers(req.headers))
        if req.user:
            headers.append(("Impersonate-User", req.user))
            headers.extend(("Impersonate-Group", g) for g in req.groups)
        return headers

    async def open(self, req: KubeRequest) -> ResponseStream:
        method = req.method.upper()
        if method not in _METHODS:
            raise BadGateway(f"unsupported method {req.method!r}")
        if not req.path.startswith("/"):
            raise BadGateway(f"request path must start with '/': {req.path!r}")
        if len(req.body) > MAX_BODY:
            raise PayloadTooLarge(f"request body of {len(req.body)} bytes exceeds {MAX_BODY}")
        if req.streaming:
            timeout = httpx.Timeout(None, connect=10.0)
        else:
            timeout = httpx.Timeout(req.timeout or 30.0, connect=10.0)
        request = self.http.build_request(
            method, self.target.server + req.target, content=req.body or None,
            headers=self._headers(req), timeout=timeout,
        )
        try:
            resp = await self.http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise TunnelTimeout(f"API server did not answer {method} {req.path} in time") from exc
        except httpx.HTTPError as exc:
            raise BadGateway(f"API server unreachable: {exc}") from exc
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers.raw]
        return ResponseStream(resp.status_code, forwardable_response_headers(headers),
                              _raw_chunks(resp), resp.aclose)


async def _raw_chunks(resp: httpx.Response) -> AsyncIterator[bytes]:
    # Raw bytes: no content decoding, so gzip/protobuf responses pass through untouched.
    try:
        async for chunk in resp.aiter_raw():
            if chunk:
                yield chunk
    except httpx.HTTPError as exc:
        raise BadGateway(f"API server stream broke: {exc}") from exc
    except asyncio.CancelledError:
        await resp.aclose()
        raise
