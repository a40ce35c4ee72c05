"""Read-only CAPI proxy (port 8081): lets the parent's CAPI controllers read a child's API
before pivot, through the tunnel. GET/HEAD/OPTIONS only; 503 while the child's agent is not
connected; 410 Gone once the child is pivoted (it manages itself). Unlike the original, callers
must present a client certificate from the cell CA (enforced in the TLS handshake), and agent
certificates are refused: an agent has no business reading its siblings.
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from lattice_cell.http_front import StreamResponse, error_response, kube_request_from, status_response
from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_common import pki
from lattice_common.tunnel import TunnelError

CAPI_USER = "system:capi-proxy"
CAPI_GROUPS = ("system:masters", "system:authenticated")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

REQUESTS = Counter("lattice_capi_proxy_requests_total", "Read-only CAPI proxy requests", ["code"])


@functools.lru_cache(maxsize=1024)
def _common_name(pem: str) -> str:
    return pki.certificate_common_name(pem.encode())  # parsed once per distinct client certificate


def _client_cn(request: Request) -> str | None:
    chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return _common_name(chain[0]) if chain else None


def capi_proxy_app(router: Router, agents: AgentRegistry, require_client_cert: bool = True) -> Starlette:
    async def proxy(request: Request) -> Any:
        response = await _proxy(request)
        REQUESTS.labels(str(getattr(response, "status_code", None) or response.stream.status)).inc()
        return response

    async def _proxy(request: Request) -> Any:
        if request.method not in READ_METHODS:
            return status_response(405, f"method {request.method} not allowed: the CAPI proxy is read-only",
                                   "MethodNotAllowed")
        cn = _client_cn(request)
        if require_client_cert and (cn is None or cn.startswith(pki.AGENT_PREFIX)):
            return status_response(403, f"client certificate {cn!r} may not use the CAPI proxy", "Forbidden")
        cluster = request.path_params["cluster"]
        route = router.subtree.lookup(cluster)
        record = agents.records.get(cluster)
        if (route is not None and route.info.pivoted) or (record is not None and record.pivot_complete):
            return status_response(410, f"cluster {cluster!r} is pivoted and manages itself", "Gone")
        if route is None or not router.subtree.reachable(route):
            return status_response(503, f"agent for cluster {cluster!r} is not connected", "ServiceUnavailable")
        try:
            req = await kube_request_from(request, CAPI_USER, CAPI_GROUPS)
            stream = await router.open(req, agent_wait=0)
        except TunnelError as err:
            return error_response(err)
        return StreamResponse(stream)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/clusters/{cluster}", proxy, methods=methods),
        Route("/clusters/{cluster}/{path:path}", proxy, methods=methods),
    ])
