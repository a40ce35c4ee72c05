"""Distributable resources, parent side: read them from this cluster's ``lattice-system``
(``lattice_tunnel.distributed`` says which and how they are copied) and keep every connected child
in sync. Each round (every few seconds) reads the set; a child gets ``SyncResources`` (always the
whole set, so the child can delete what left it) when the set changed since it last got one, when
its stream is new, and at least every ``resend`` seconds."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from prometheus_client import Counter

from crds import KubeObject
from lattice_cell.registry import AgentRegistry
from lattice_proto import agent_pb2 as pb
from lattice_tunnel import distributed
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_request import AgentUnavailable

log = logging.getLogger(__name__)

SYNCS = Counter("lattice_cell_resource_syncs_total", "SyncResources commands sent to children")


async def read_resources(kube: KubeApi, origin: str, namespace: str = distributed.NAMESPACE) -> list[KubeObject]:
    """This cluster's distributable resources, as its children get them."""
    found: list[KubeObject] = []
    referencing: list[KubeObject] = []
    for kind in distributed.KINDS:
        if kind.kind == "Secret":
            continue
        items = await kube.list_objects(kind.api_version, kind.plural, namespace) or []
        for item in items:
            if distributed.propagates(item, kind):
                found.append(distributed.copy_for_child(item, kind, origin))
                referencing.append(item)
    secret_kind = distributed.BY_KIND["Secret"]
    for name in sorted(distributed.referenced_secrets(referencing)):
        secret = await kube.request("GET", f"secrets/{name}", namespace=namespace, allow=(404,))
        if secret is not None:
            found.append(distributed.copy_for_child(secret, secret_kind, origin))
    return found


def digest(resources: pb.DistributableResources) -> str:
    return hashlib.sha256(resources.SerializeToString(deterministic=True)).hexdigest()


class ResourceSync:
    def __init__(self, kube: KubeApi, cluster: str, agents: AgentRegistry, namespace: str = distributed.NAMESPACE,
                 interval: float = 3.0, resend: float = 300.0) -> None:
        self.kube = kube
        self.cluster = cluster
        self.agents = agents
        self.namespace = namespace
        self.interval = interval
        self.resend = resend
        self._sent: dict[str, tuple[int, str, float]] = {}  # cluster -> (session id, digest, when)

    async def current(self) -> pb.DistributableResources:
        return distributed.encode(await read_resources(self.kube, self.cluster, self.namespace))

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API server may be restarting; try again next round
                log.warning("resource sync: %s", exc)
            await asyncio.sleep(self.interval)

    async def round(self) -> int:
        resources = await self.current()
        mark = digest(resources)
        now = time.monotonic()
        sent = 0
        for cluster, session in self.agents.sessions().items():
            last = self._sent.get(cluster)
            if last is not None and last[0] == id(session) and last[1] == mark and now - last[2] < self.resend:
                continue
            try:
                session.send(pb.CellCommand(sync_resources=pb.SyncResources(resources=resources, full_sync=True)))
            except AgentUnavailable:
                continue
            self._sent[cluster] = (id(session), mark, now)
            SYNCS.inc()
            sent += 1
        return sent

    def status(self) -> dict[str, Any]:
        return {c: {"digest": d[:12]} for c, (_, d, _) in self._sent.items()}
