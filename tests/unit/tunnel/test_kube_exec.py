"""lattice_tunnel.kube_exec: the last hop authenticates as itself and impersonates the caller; what
the caller sent for identity never gets through (against an HTTPS echo server on loopback; the
real API servers are in tests/integration/test_tunnel.py)."""

from __future__ import annotations

import json

import pytest

from lattice_tunnel.kube_exec import KubeExecutor
from lattice_tunnel.kube_request import BadGateway, KubeRequest
from lattice_tunnel.kube_target import KubeTarget
from tests.unit.tunnel.tls_echo import BUNDLE, tls_echo


async def test_the_caller_is_impersonated_by_the_agents_own_identity() -> None:
    async with tls_echo() as server:
        target = KubeTarget(server=f"https://localhost:{server.port}", ca_pem=BUNDLE.trust_pem(), token="agent-sa")
        executor = KubeExecutor(target)
        try:
            req = KubeRequest("a", "GET", "/api/v1/pods", query="limit=1", user="alice", groups=("dev", "ops"),
                              headers=(("Impersonate-User", "root"), ("Authorization", "Bearer stolen"),
                                       ("Accept", "application/json")))
            async with await executor.open(req) as resp:
                seen = json.loads(await resp.read())
        finally:
            await executor.aclose()
    headers = [(k.lower(), v) for k, v in seen["headers"]]
    assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/api/v1/pods", "limit=1")
    assert ("authorization", "Bearer agent-sa") in headers and ("authorization", "Bearer stolen") not in headers
    assert [v for k, v in headers if k == "impersonate-user"] == ["alice"]
    assert [v for k, v in headers if k == "impersonate-group"] == ["dev", "ops"]


async def test_bad_requests_never_leave() -> None:
    executor = KubeExecutor(KubeTarget(server="https://localhost:1"))
    try:
        for req in (KubeRequest("a", "TRACE", "/x"), KubeRequest("a", "GET", "no-slash")):
            with pytest.raises(BadGateway):
                await executor.open(req)
    finally:
        await executor.aclose()
