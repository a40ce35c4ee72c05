"""The source side of a move: pause, collect the graph, and — once the target has everything —
delete the source objects so that no infrastructure goes with them.

Deletion first marks every object, in one patch each, with clusterctl's ``delete-for-move``
annotation and no finalizers (the providers then delete the object, never the machine, load
balancer or network it stands for) — dependents before their owners, so that no owner's deletion
(by Metacontroller, which drops marked children at once) can cascade to an unmarked dependent —
and only then deletes them, with a UID precondition. The
namespace stays: its owner (the LatticeCluster controller) removes it once the pivot is complete.
Every step may be repeated.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from crds import KubeObject
from lattice_move import names
from lattice_move.graph import MoveGraph, Node, build_graph
from lattice_move.kube import MoveApi
from lattice_move.resources import NAMESPACE, ResourceType

log = logging.getLogger(__name__)
T = TypeVar("T")

CAPI_CLUSTER = ResourceType(names.CAPI_GROUP_SUFFIX, "v1beta2", "Cluster", "clusters")


async def bounded(limit: int, jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``jobs`` with at most ``limit`` at a time, in order of the results."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))


class Exporter:
    def __init__(self, api: MoveApi, concurrency: int = 16) -> None:
        self.api = api
        self.concurrency = concurrency

    async def set_paused(self, namespace: str, cluster: str, paused: bool) -> bool:
        """Pause (or resume) Cluster API's reconciliation of the Cluster; False if it is absent."""
        rtype = await self.api.resource(CAPI_CLUSTER.api_version, "Cluster")
        done = await self.api.merge_patch(rtype, namespace, cluster, {"spec": {"paused": True if paused else None}})
        return done is not None

    async def set_class_paused(self, graph: MoveGraph, paused: bool) -> None:
        for node in graph.ordered():
            if node.rtype.kind == "ClusterClass" and node.rtype.group == names.CAPI_GROUP_SUFFIX:
                value = "" if paused else None
                await self.api.merge_patch(node.rtype, node.namespace, node.name,
                                           {"metadata": {"annotations": {names.PAUSED_ANNOTATION: value}}})

    async def collect(self, namespace: str, cluster: str, *, require_cluster: bool = True) -> MoveGraph:
        types = await self.api.move_types()
        lists = await bounded(self.concurrency, [functools.partial(self.api.list, t, namespace) for t in types])
        objects = [(t, obj) for t, items in zip(types, lists, strict=True) for obj in items]
        ns_obj = await self.api.get(NAMESPACE, None, namespace)
        return build_graph(objects, cluster, namespace, ns_obj, require_cluster=require_cluster)

    async def pause_and_collect(self, namespace: str, cluster: str) -> MoveGraph:
        """Pause first, then read: what is collected is what the target gets, and nothing
        changes it any more (Cluster API's controllers honour ``spec.paused``)."""
        if not await self.set_paused(namespace, cluster, True):
            await self.collect(namespace, cluster)  # raises the clear "no Cluster" error
        graph = await self.collect(namespace, cluster)
        await self.set_class_paused(graph, True)
        return graph

    async def delete_source(self, graph: MoveGraph) -> int:
        """Mark every object first (``delete-for-move``, no finalizers), dependents before their
        owners, then delete them all: whatever deletes a marked object (us; Metacontroller, which
        leaves marked children out of the echo and deletes them at once; the garbage collector after
        an owner went) deletes only the object, and an owner is marked only once everything below
        it is."""
        live: list[Node] = []
        for group in reversed(graph.groups):  # dependents marked before their owners
            nodes = [n for n in group if n.rtype is not NAMESPACE and n.rtype.kind != "Namespace"]
            marked = await bounded(self.concurrency, [functools.partial(self._mark, n) for n in nodes])
            live += [n for n, ok in zip(nodes, marked, strict=True) if ok]
        results = await bounded(self.concurrency, [functools.partial(self._delete, n) for n in live])
        return sum(results)

    async def _mark(self, node: Node) -> bool:
        patch: KubeObject = {"metadata": {"annotations": {names.DELETE_FOR_MOVE: ""}, "finalizers": None}}
        return await self.api.merge_patch(node.rtype, node.namespace, node.name, patch) is not None

    async def _delete(self, node: Node) -> bool:
        return await self.api.delete(node.rtype, node.namespace, node.name, node.uid)
