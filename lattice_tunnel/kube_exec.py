"""Execute a tunnelled KubeRequest against this cluster's own API server.

The last hop of every tunnelled request lands here. It authenticates as its own identity
(kubeconfig or service account) and impersonates the original caller, so the target cluster's
RBAC and audit log see the real user. Caller-supplied identity headers (Impersonate-*, X-Remote-*,
method overrides: lattice_tunnel.identity_headers) never get through, here as at the first hop.
The HTTP client is the lean httptools one (lattice_tunnel.http1_client), not httpx/kr8s: this is the
hot path of every proxied request, and kr8s has no impersonation or raw streaming anyway.

Its own identity is the process's (kubeconfig or pod service account) unless `bearer` is given:
then only that token authenticates it (no client certificate), which is how the last hop runs as
the `lattice-proxy` ServiceAccount that may impersonate and nothing else (`impersonator`).
Upgrade requests (exec, attach, port-forward) get `Connection: Upgrade` and their `Upgrade` again
here; a 101 answer comes back as a byte relay (`ResponseStream.sink`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

from lattice_tunnel import pki
from lattice_tunnel.http1_client import Http1Client, HttpError, Response
from lattice_tunnel.kube_request import (
    MAX_BODY,
    BadGateway,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    TunnelTimeout,
    forwardable_request_headers,
    forwardable_response_headers,
)
from lattice_tunnel.kube_target import KubeTarget

_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def impersonation_headers(req: KubeRequest) -> list[tuple[str, str]]:
    """Kubernetes impersonation of the tunnelled caller: user, groups, uid and extras (extra keys
    percent-encoded, as kube-apiserver expects in a header name)."""
    if not req.user:
        return []
    headers = [("Impersonate-User", req.user)]
    headers.extend(("Impersonate-Group", g) for g in req.groups)
    if req.uid:
        headers.append(("Impersonate-Uid", req.uid))
    for key, values in req.extra:
        name = f"Impersonate-Extra-{quote(key, safe='')}"
        headers.extend((name, v) for v in values)
    return headers


class _UpgradedSink:
    """The client's bytes onto the upgraded API-server connection."""

    def __init__(self, resp: Response) -> None:
        self.resp = resp

    async def write(self, data: bytes) -> None:
        try:
            await self.resp.write(data)
        except HttpError as exc:
            raise BadGateway(f"API server connection closed: {exc}") from exc

    async def end(self) -> None:
        # TLS cannot half-close, and kubectl closes only once it is done: the exchange is over.
        self.resp.close_connection()


class KubeExecutor:
    def __init__(self, target: KubeTarget, max_idle: int = 32,
                 bearer: Callable[[], str | None] | None = None) -> None:
        self.target = target
        self.bearer = bearer or target.bearer
        cert, key = (None, None) if bearer else (target.client_cert_pem, target.client_key_pem)
        ctx = pki.client_ssl_context(target.ca_pem, cert, key, verify=not target.insecure)
        self.http = Http1Client(target.server, ctx, max_idle=max_idle)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _headers(self, req: KubeRequest) -> list[tuple[str, str]]:
        headers = list(forwardable_request_headers(req.headers))
        token = self.bearer()
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        headers.extend(impersonation_headers(req))
        if req.upgrade:
            headers.extend((("Connection", "Upgrade"), ("Upgrade", req.upgrade)))
        return headers

    async def open(self, req: KubeRequest) -> ResponseStream:
        method = req.method.upper()
        if method not in _METHODS:
            raise BadGateway(f"unsupported method {req.method!r}")
        if not req.path.startswith("/"):
            raise BadGateway(f"request path must start with '/': {req.path!r}")
        if len(req.body) > MAX_BODY:
            raise PayloadTooLarge(f"request body of {len(req.body)} bytes exceeds {MAX_BODY}")
        timeout = None if req.streaming else (req.timeout or 30.0)
        try:
            resp = await self.http.request(method, req.target, self._headers(req), req.body, timeout=timeout)
        except TimeoutError as exc:
            raise TunnelTimeout(f"API server did not answer {method} {req.path} in time") from exc
        except HttpError as exc:
            raise BadGateway(f"API server unreachable: {exc}") from exc
        if resp.upgraded and req.upgrade:
            headers = [(k, v) for k, v in resp.headers if k.lower() not in ("connection", "keep-alive")]
            return ResponseStream(101, headers, _chunks(resp), resp.aclose, sink=_UpgradedSink(resp))
        return ResponseStream(resp.status, forwardable_response_headers(resp.headers), _chunks(resp), resp.aclose)


async def _chunks(resp: Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in resp.chunks():
            if chunk:
                yield chunk
    except HttpError as exc:
        raise BadGateway(f"API server stream broke: {exc}") from exc
    except asyncio.CancelledError:
        await resp.aclose()
        raise
