"""lattice_cell.router: a request for this cluster goes to the local API, one below to the next-hop
agent, anything else is not found; a known but disconnected cluster is unavailable."""

from __future__ import annotations

import pytest

from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.kube_request import AgentUnavailable, ClusterNotFound, KubeRequest
from lattice_tunnel.subtree import ClusterInfo
from tests.unit.tunnel_support import FakeApi


async def test_local_requests_go_to_the_local_api() -> None:
    local = FakeApi("root")
    router = Router("root", SubtreeRegistry("root"), AgentRegistry(), local)
    async with await router.open(KubeRequest("root", "GET", "/version")) as resp:
        assert resp.status == 200 and b'"cluster":"root"' in await resp.read()
    assert router.knows("root") and not router.knows("elsewhere")


async def test_unknown_clusters_and_missing_local_access_are_not_found() -> None:
    router = Router("root", SubtreeRegistry("root"), AgentRegistry())
    for cluster in ("root", "elsewhere"):
        with pytest.raises(ClusterNotFound):
            await router.open(KubeRequest(cluster, "GET", "/version"))


async def test_a_known_cluster_without_its_agent_is_unavailable() -> None:
    subtree, agents = SubtreeRegistry("root"), AgentRegistry()
    subtree.set_agent_connected("mid", True)
    subtree.apply("mid", [ClusterInfo("mid"), ClusterInfo("leaf", "mid")], full=True)
    router = Router("root", subtree, agents)
    assert router.knows("leaf")
    with pytest.raises(AgentUnavailable):
        await router.open(KubeRequest("leaf", "GET", "/version"), agent_wait=0)
