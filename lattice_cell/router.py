"""Route a KubeRequest to the cluster it names: this cell's own API server, or the direct child
agent whose subtree contains the target (which forwards it further down if needed)."""

from __future__ import annotations

from lattice_cell.registry import AgentRegistry
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.kube_request import (
    AgentUnavailable,
    ClusterNotFound,
    Forwarder,
    KubeRequest,
    ResponseStream,
)


class Router:
    """`lattice_tunnel.kube_request.Forwarder` for everything at or below this cell.

    `agent_wait` is how long to wait for a disconnected next-hop agent to come back before
    answering 503 (0 = fail fast, as the read-only CAPI proxy does)."""

    def __init__(self, cell_name: str, subtree: SubtreeRegistry, agents: AgentRegistry,
                 local: Forwarder | None = None, agent_wait: float = 0.0) -> None:
        self.cell_name = cell_name
        self.subtree = subtree
        self.agents = agents
        self.local = local
        self.agent_wait = agent_wait

    def knows(self, cluster: str) -> bool:
        return cluster == self.cell_name or self.subtree.lookup(cluster) is not None

    async def open(self, req: KubeRequest, agent_wait: float | None = None) -> ResponseStream:
        if req.cluster == self.cell_name:
            if self.local is None:
                raise ClusterNotFound(f"cell {self.cell_name!r} has no local API access configured")
            return await self.local.open(req)
        route = self.subtree.lookup(req.cluster)
        if route is None:
            raise ClusterNotFound(f"cluster {req.cluster!r} not found in the subtree of {self.cell_name!r}")
        if not route.info.connected and route.via in self.agents.records and route.via != req.cluster:
            raise AgentUnavailable(f"cluster {req.cluster!r} is not connected to its parent {route.info.parent!r}")
        wait = self.agent_wait if agent_wait is None else agent_wait
        session = await self.agents.wait_session(route.via, wait)
        return await session.open(req)
