"""Read-only CAPI proxy (port 8081): lets the parent's CAPI controllers read a child's API
before pivot, through the tunnel. GET/HEAD/OPTIONS only (405 otherwise); 503 while the child's
agent is not connected; 410 Gone once the child is pivoted (it manages itself). Unlike the
original, callers must present a client certificate from the cell CA (enforced in the TLS
handshake), and agent certificates are refused: an agent has no business reading its siblings.

A plain ASGI app rather than Starlette: it has two routes and sits on the hot path.
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter

from lattice_cell.http_front import StreamResponse, kube_request_from_scope, split_cluster_path
from lattice_cell.manifests import CAPI_READERS_GROUP
from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_tunnel import pki
from lattice_tunnel.kube_request import ResponseStream, TunnelError, status_body

CAPI_USER = "system:capi-proxy"
# Impersonated at the target: a read-only ClusterRole bound to this group ships with the agent's
# install manifests (manifests.capi_reader_rbac), so the target's RBAC refuses writes even if the
# method check above it were bypassed. (The original ran these reads as cluster-admin.)
CAPI_GROUPS = (CAPI_READERS_GROUP, "system:authenticated")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

REQUESTS = Counter("lattice_capi_proxy_requests_total", "Read-only CAPI proxy requests", ["code"])


@functools.lru_cache(maxsize=1024)
def _common_name(pem: str) -> str:
    return pki.certificate_common_name(pem.encode())  # parsed once per distinct client certificate


def client_common_name(scope: dict[str, Any]) -> str | None:
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return _common_name(chain[0]) if chain else None


class CapiProxy:
    def __init__(self, router: Router, agents: AgentRegistry, require_client_cert: bool = True) -> None:
        self.router = router
        self.agents = agents
        self.require_client_cert = require_client_cert

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        stream = self._check(scope)
        if stream is None:
            try:
                req = kube_request_from_scope(scope, b"", CAPI_USER, CAPI_GROUPS)
                stream = await self.router.open(req, agent_wait=0)
            except TunnelError as err:
                stream = ResponseStream.from_error(err)
        REQUESTS.labels(str(stream.status)).inc()
        await StreamResponse(stream)(scope, receive, send)

    def _check(self, scope: dict[str, Any]) -> ResponseStream | None:
        """An error response, or None when the request may go through."""
        method, path = scope["method"], scope["path"]
        if path == "/healthz":
            return ResponseStream.from_bytes(200, b"ok", "text/plain")
        if not path.startswith("/clusters/"):
            return _status(404, f"no route for {path}; use /clusters/<name>/<kubernetes path>", "NotFound")
        if method not in READ_METHODS:
            return _status(405, f"method {method} not allowed: the CAPI proxy is read-only", "MethodNotAllowed")
        cn = client_common_name(scope)
        if self.require_client_cert and (cn is None or cn.startswith(pki.AGENT_PREFIX)):
            return _status(403, f"client certificate {cn!r} may not use the CAPI proxy", "Forbidden")
        # The same (raw, percent-encoded) cluster name the router will use, so the pivot and
        # connection checks can never look at a different cluster than the one served.
        try:
            cluster, _ = split_cluster_path(scope.get("raw_path") or path.encode())
        except TunnelError as err:  # not a cluster path (404), a dot segment (400)
            return ResponseStream.from_error(err)
        route = self.router.subtree.lookup(cluster)
        record = self.agents.records.get(cluster)
        if (route is not None and route.info.pivoted) or (record is not None and record.pivot_complete):
            return _status(410, f"cluster {cluster!r} is pivoted and manages itself", "Gone")
        if route is None or not self.router.subtree.reachable(route):
            return _status(503, f"agent for cluster {cluster!r} is not connected", "ServiceUnavailable")
        return None


def _status(code: int, message: str, reason: str) -> ResponseStream:
    return ResponseStream.from_bytes(code, status_body(code, message, reason))


def capi_proxy_app(router: Router, agents: AgentRegistry, require_client_cert: bool = True) -> CapiProxy:
    return CapiProxy(router, agents, require_client_cert)
