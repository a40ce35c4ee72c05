"""The API proxy's HTTP front: routes, authentication and authorization on every request, then the
tunnel (`Router.open`) with the caller's identity. A plain ASGI app (it is on the hot path of every
kubectl call), plus ``upgrade`` for the connections ``upgrades`` hands over (exec, attach,
port-forward), which are answered and relayed byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import orjson
import yaml
from prometheus_client import Counter, Gauge

from lattice_cell.http_front import StreamResponse, kube_request_from_scope, split_cluster_path
from lattice_cell.proxy import discovery
from lattice_cell.proxy.auth_throttle import client_key
from lattice_cell.proxy.authn import Authenticator
from lattice_cell.proxy.authz import ClusterAuthorizer, denial_message
from lattice_cell.proxy.identity import AuthnError, Identity, Throttled
from lattice_cell.proxy.upgrades import RawConnection
from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_tunnel.kube_request import (
    MAX_BODY,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    TunnelError,
    status_body,
    upgrade_of,
)

log = logging.getLogger(__name__)

REQUESTS = Counter("lattice_api_proxy_requests_total", "API proxy requests, by answer", ["code"])
UPGRADES = Gauge("lattice_api_proxy_upgraded_connections", "Upgraded connections (exec, attach, "
                 "port-forward) the API proxy is relaying now")
EXTRA_PROXY = "lattice.dev/proxy-cluster"
EXTRA_AUTHENTICATED_BY = "lattice.dev/authenticated-by"


class Refusal(Exception):
    """A request answered by the proxy itself (401, 403, 404, ...)."""

    def __init__(self, code: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after

    def stream(self) -> ResponseStream:
        reason = http.HTTPStatus(self.code).phrase.replace(" ", "")
        body = status_body(self.code, self.message, reason)
        if self.retry_after is None:
            return ResponseStream.from_bytes(self.code, body)
        doc = orjson.loads(body)
        doc["details"] = {"retryAfterSeconds": self.retry_after}  # as kube-apiserver's own 429s
        stream = ResponseStream.from_bytes(self.code, orjson.dumps(doc))
        stream.headers.append(("retry-after", str(self.retry_after)))  # client-go waits and retries
        return stream


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return None


def _json(code: int, doc: Any) -> ResponseStream:
    return ResponseStream.from_bytes(code, orjson.dumps(doc, option=orjson.OPT_INDENT_2))


@attrs.define
class ProxySettings:
    cell: str
    public_url: str | None = None  # e.g. https://lattice.example.com:8082; else the Host the caller used
    sa_audiences: tuple[str, ...] = ()
    agent_wait: float = 10.0  # how long a request waits for a reconnecting agent


class ApiProxyApp:
    def __init__(self, settings: ProxySettings, router: Router, agents: AgentRegistry, authn: Authenticator,
                 authz: ClusterAuthorizer, ca_bundle: Callable[[], bytes | None]) -> None:
        self.settings = settings
        self.router = router
        self.agents = agents
        self.authn = authn
        self.authz = authz
        self.ca_bundle = ca_bundle

    # ---- plain HTTP ----
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            stream = await self._serve(scope, receive)
        except Refusal as refusal:
            stream = refusal.stream()
        except TunnelError as err:
            stream = ResponseStream.from_error(err)
        REQUESTS.labels(str(stream.status)).inc()
        await StreamResponse(stream)(scope, receive, send)

    async def _serve(self, scope: dict[str, Any], receive: Any) -> ResponseStream:
        path = scope["path"]
        if path == "/healthz":
            return ResponseStream.from_bytes(200, b"ok", "text/plain")
        if path == "/auth/providers":
            return _json(200, self.providers())
        identity = await self._authenticate(scope)
        if path in ("/clusters", "/clusters/"):
            return _json(200, discovery.cluster_list(self.settings.cell, identity, self._accessible(identity, scope)))
        if path == "/kubeconfig":
            return self._kubeconfig(scope, identity)
        if not path.startswith("/clusters/"):
            raise Refusal(404, f"no route for {path}; use /clusters/<name>/<kubernetes path>, /clusters or "
                               "/kubeconfig")
        cluster, rest = self._admit(scope, identity)
        if rest is None:
            entry = next((e for e in self._entries(scope) if e["name"] == cluster), None)
            if entry is None:
                raise Refusal(404, f"cluster {cluster!r} not found in the subtree of {self.settings.cell!r}")
            return _json(200, entry)
        body = await _read_body(receive) if scope["method"] not in ("GET", "HEAD", "OPTIONS") else b""
        req = self._kube_request(scope, body, identity)
        return await self.router.open(req, agent_wait=self.settings.agent_wait)

    # ---- admission: who, and may they ----
    async def _authenticate(self, scope: dict[str, Any]) -> Identity:
        try:  # the limiter's key is the connection's peer address, never a header
            return await self.authn.authenticate(_header(scope, b"authorization"), client_key(scope.get("client")))
        except AuthnError as err:
            raise Refusal(401, f"authentication failed: {err.message}") from err
        except Throttled as err:
            wait = max(1, math.ceil(err.retry_after))
            raise Refusal(429, f"too many failed authentications from {err.client}: authentication failures are "
                               f"throttled; retry after {wait}s", wait) from err

    def _admit(self, scope: dict[str, Any], identity: Identity) -> tuple[str, str | None]:
        """(cluster, the Kubernetes path or None for `/clusters/<name>` itself) once Cedar allows it."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        cluster, rest = split_cluster_path(raw_path)
        for name, _ in scope["headers"]:
            if name.lower().startswith(b"impersonate-"):
                raise Refusal(403, f"header {name.decode('latin-1')!r} refused: the proxy acts as the caller "
                                   f"it authenticated ({identity.username!r}); impersonation is not passed on")
        route = self.router.subtree.lookup(cluster)
        labels = route.info.labels if route is not None else {}
        decision = self.authz.decide(identity, cluster, labels)
        if not decision.allowed:
            raise Refusal(403, denial_message(identity, cluster, decision))
        bare = raw_path.split(b"?", 1)[0].rstrip(b"/") == f"/clusters/{cluster}".encode()
        return cluster, None if bare else rest

    def _kube_request(self, scope: dict[str, Any], body: bytes, identity: Identity, upgrade: str = "") -> KubeRequest:
        req = kube_request_from_scope(scope, body, identity.username, identity.groups)
        extra = dict(identity.extra)
        extra[EXTRA_PROXY] = (self.settings.cell,)
        extra[EXTRA_AUTHENTICATED_BY] = (identity.method or "token",)
        return attrs.evolve(req, uid=identity.uid, extra=tuple(sorted(extra.items())), upgrade=upgrade,
                            streaming=req.streaming or bool(upgrade))

    # ---- discovery ----
    def providers(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"cluster": self.settings.cell, "oidc": [p.public() for p in self.authn.providers()]}
        if self.authn.reviewer is not None:
            doc["serviceAccount"] = {"audiences": list(self.settings.sa_audiences),
                                     "issuer": self.authn.service_account_issuer or ""}
        return doc

    def _base_url(self, scope: dict[str, Any]) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        host = _header(scope, b"host") or f"localhost:{scope.get('server', ('', 8082))[1]}"
        return f"https://{host}"

    def _entries(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        subtree = self.router.subtree
        routes = [(subtree.effective(r), r.via) for _, r in sorted(subtree.routes.items())]
        agents = {str(a["cluster"]): a for a in self.agents.summary()}
        return discovery.cluster_entries(self.settings.cell, routes, self._base_url(scope), agents)

    def _accessible(self, identity: Identity, scope: dict[str, Any]) -> list[dict[str, Any]]:
        entries = self._entries(scope)
        allowed = set(self.authz.accessible(identity, {e["name"]: e["labels"] for e in entries}))
        return [e for e in entries if e["name"] in allowed]

    def _kubeconfig(self, scope: dict[str, Any], identity: Identity) -> ResponseStream:
        entries = self._accessible(identity, scope)
        if not entries:
            raise Refusal(403, f"user {identity.username!r} may access no cluster of {self.settings.cell!r}")
        issuer = next((p for p in self.authn.providers()
                       if identity.method == f"oidc:{p.name}" and p.issuer_url == identity.issuer), None)
        args = discovery.exec_args(identity, self.settings.sa_audiences, issuer.ca_bundle if issuer else None,
                                   issuer.extra_scopes if issuer else ())
        config = discovery.kubeconfig(self.settings.cell, entries, self.ca_bundle(), args)
        query = scope.get("query_string", b"").decode("latin-1")
        if "format=yaml" in query or "yaml" in (_header(scope, b"accept") or ""):
            return ResponseStream.from_bytes(200, yaml.safe_dump(config, sort_keys=False).encode(), "application/yaml")
        return _json(200, config)

    # ---- upgraded connections (handed over by `upgrades`) ----
    async def upgrade(self, scope: dict[str, Any], conn: RawConnection) -> None:
        try:
            identity = await self._authenticate(scope)
            if not scope["path"].startswith("/clusters/"):
                raise Refusal(404, f"no upgradable route for {scope['path']}")
            cluster, rest = self._admit(scope, identity)
            if rest is None:
                raise Refusal(400, f"/clusters/{cluster} cannot be upgraded")
            req = self._kube_request(scope, b"", identity, upgrade_of(_str_headers(scope["headers"])))
            stream = await self.router.open(req, agent_wait=self.settings.agent_wait)
        except Refusal as refusal:
            stream = refusal.stream()
        except TunnelError as err:
            stream = ResponseStream.from_error(err)
        REQUESTS.labels(str(stream.status)).inc()
        try:
            if stream.sink is None:
                await _answer(conn, stream)
            else:
                UPGRADES.inc()
                try:
                    await _relay(conn, stream)
                finally:
                    UPGRADES.dec()
        finally:
            await stream.aclose()  # cancels the request down the tunnel if it still runs
            conn.close()


def _str_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]


def _head(status: int, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _answer(conn: RawConnection, stream: ResponseStream) -> None:
    """A refused upgrade: an ordinary response, then the connection closes."""
    try:
        body = await stream.read()
    except TunnelError as err:
        body = status_body(err.status, err.message, err.reason)
    headers = [(k, v) for k, v in stream.headers if k.lower() not in ("content-length", "connection")]
    await conn.write(_head(stream.status, [*headers, ("Content-Length", str(len(body))), ("Connection", "close")])
                     + body)


async def _relay(conn: RawConnection, stream: ResponseStream) -> None:
    """101, then bytes both ways until the target closes or the client goes away."""
    assert stream.sink is not None
    sink = stream.sink
    await conn.write(_head(101, [("Connection", "Upgrade"), *stream.headers]))

    async def down() -> None:
        async for chunk in stream:
            await conn.write(chunk)

    async def up() -> None:
        while (data := await conn.read()) is not None:
            await sink.write(data)

    tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(up()), asyncio.ensure_future(conn.lost)]
    try:
        # Over when the target's side ends (down), or the client's connection is gone (lost). A
        # client that only stops sending (up returns) is still reading: keep going.
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if tasks[0] in done or tasks[2] in done:
                break
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _read_body(receive: Any, limit: int = MAX_BODY) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the {limit}-byte limit")
        parts.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(parts)
