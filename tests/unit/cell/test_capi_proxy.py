"""lattice_cell.capi_proxy: the read-only proxy's checks before anything enters the tunnel (the
full path through a real agent is in tests/unit/test_tunnel_protocol.py)."""

from __future__ import annotations

import httpx
import pytest

from lattice_cell.capi_proxy import CAPI_GROUPS, CAPI_USER, capi_proxy_app, client_common_name
from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel import pki
from lattice_tunnel.subtree import ClusterInfo


def proxy(require_client_cert: bool = False) -> tuple[httpx.AsyncClient, SubtreeRegistry]:
    subtree, agents = SubtreeRegistry("root"), AgentRegistry()
    app = capi_proxy_app(Router("root", subtree, agents), agents, require_client_cert=require_client_cert)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://cell"), subtree


def test_the_identity_is_a_read_only_group_never_masters() -> None:
    assert CAPI_USER == "system:capi-proxy"
    assert "system:masters" not in CAPI_GROUPS and "lattice:capi-readers" in CAPI_GROUPS


def test_client_common_name_comes_from_the_verified_chain() -> None:
    leaf = pki.issue_client_certificate(pki.CaBundle(pki.generate_ca()), "capi-controller")
    scope = {"extensions": {"tls": {"client_cert_chain": [leaf.chain_pem.decode()]}}}
    assert client_common_name(scope) == "capi-controller"
    assert client_common_name({}) is None


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/healthz", 200),
    ("GET", "/api/v1/pods", 404),  # not under /clusters/
    ("POST", "/clusters/a/api/v1/namespaces", 405),  # read-only
    ("DELETE", "/clusters/a/api/v1/namespaces/x", 405),
    ("GET", "/clusters/a/api/v1/pods", 503),  # no agent for a
    ("GET", "/clusters/a/%2e%2e/b/api", 400),  # a dot segment (httpx resolves a literal "..")
])
async def test_checks(method: str, path: str, status: int) -> None:
    client, _ = proxy()
    async with client:
        r = await client.request(method, path)
    assert r.status_code == status
    if status != 200:
        assert r.json()["kind"] == "Status" and r.json()["code"] == status


async def test_a_pivoted_cluster_is_gone() -> None:
    client, subtree = proxy()
    subtree.set_agent_connected("a", True)
    subtree.apply("a", [ClusterInfo("a", pivoted=True)], full=True)
    async with client:
        r = await client.get("/clusters/a/api/v1/pods")
    assert r.status_code == 410 and "pivoted" in r.json()["message"]


async def test_without_a_client_certificate_it_is_forbidden() -> None:
    client, _ = proxy(require_client_cert=True)
    async with client:
        r = await client.get("/clusters/a/api/v1/pods")
    assert r.status_code == 403
