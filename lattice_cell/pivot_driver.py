"""The pivot, parent side: move each provisioned child's Cluster API objects into the child,
through its agent, following the handshake with the LatticeCluster hook (docs/pivot.md,
docs/cluster-lifecycle.md).

Every few seconds, for each child LatticeCluster here:

1. phase ``Pivoting`` (the hook says: infrastructure ready, control plane initialized, agent
   connected) and the agent's stream is here → set ``lattice.dev/pivot-phase=Started``;
2. once the hook acknowledges it (``status.pivot.phase: Started``: from then on it echoes what it
   observes and Metacontroller creates, changes and deletes nothing) → pause, collect the graph,
   send it in ``MoveObjectBatch``es group by group, then ``MoveComplete`` with this cluster's
   distributable resources and the child's copy of its LatticeCluster;
3. on success mark ``lattice.dev/pivot-imported=true`` (the source is never resumed after this),
   delete the source with ``delete-for-move``, set ``lattice.dev/pivot-phase=Complete``: the hook
   then shows the cluster ``Pivoted`` and emits no Cluster API children, and the CAPI proxy
   answers 410 for it.

A failure before step 3 resumes the source (the child's copies stay paused) and is retried with
backoff; ``lattice.dev/pivot-message`` says why. All state is on the objects: a cell that dies at
any point picks up where the annotations say, the agent's importer finds what it already made.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram

import crds
from crds import KubeObject
from lattice_cell.registry import AgentRegistry
from lattice_cell.resource_sync import ResourceSync
from lattice_cell.session import AgentSession
from lattice_cell.subtree import SubtreeRegistry
from lattice_move import names
from lattice_move.exporter import Exporter
from lattice_move.kube import MoveApi
from lattice_move.manifest import without_server_fields
from lattice_move.wire import batches, manifests
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_api import KubeApi

log = logging.getLogger(__name__)

PIVOTS = Counter("lattice_cell_pivots_total", "Pivot attempts", ["result"])
PIVOT_SECONDS = Histogram("lattice_cell_pivot_seconds", "Duration of successful pivots (move and cleanup)",
                          buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300))
STARTED, COMPLETE = "Started", "Complete"


class PivotFailed(Exception):
    pass


def _annotations(obj: KubeObject) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def child_copy(cluster: KubeObject) -> KubeObject:
    """The LatticeCluster as the child gets it: spec and labels; no status, no driver marks, no
    finalizers (the child's own controller adds its own)."""
    out = without_server_fields(cluster)
    out["metadata"].pop("finalizers", None)
    out["metadata"].setdefault("annotations", {})
    return out


class PivotDriver:
    def __init__(self, kube: KubeApi, cluster: str, agents: AgentRegistry, subtree: SubtreeRegistry,
                 resources: ResourceSync, *, interval: float = 2.0, ack_timeout: float = 120.0,
                 backoff_max: float = 60.0) -> None:
        self.kube = kube
        self.api = MoveApi(kube)
        self.cluster = cluster
        self.agents = agents
        self.subtree = subtree
        self.resources = resources
        self.interval = interval
        self.ack_timeout = ack_timeout
        self.backoff_max = backoff_max
        self._running: dict[str, asyncio.Task[None]] = {}
        self._retry: dict[str, tuple[float, float]] = {}  # cluster -> (not before, last delay)
        self.last: dict[str, dict[str, Any]] = {}  # cluster -> what the last attempt did (for /status)
        self.steps: dict[str, dict[str, float]] = {}  # cluster -> seconds per step of its last pivot

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pivot driver: %s", exc)
            await asyncio.sleep(self.interval)

    async def round(self) -> None:
        listing = await self.kube.request("GET", "latticeclusters", version=crds.API_VERSION, allow=(404,))
        for item in (listing or {}).get("items") or []:
            await self._consider(item)

    async def _annotate(self, name: str, values: dict[str, str | None]) -> None:
        await self.kube.request("PATCH", f"latticeclusters/{name}", version=crds.API_VERSION,
                                body={"metadata": {"annotations": values}},
                                content_type="application/merge-patch+json", allow=(404,))

    def _mark_pivoted(self, name: str) -> None:
        record = self.agents.record(name)
        if not record.pivot_complete:
            record.pivot_complete = True
            self.subtree.set_pivoted(name)

    async def _consider(self, lc: KubeObject) -> None:
        meta = lc.get("metadata") or {}
        name = str(meta.get("name") or "")
        phase = _annotations(lc).get(names.PIVOT_PHASE)
        if not name or name == self.cluster or meta.get("deletionTimestamp"):
            return
        if names.UNPIVOT_PHASE in _annotations(lc):
            return  # coming back from the child (lattice_cell.unpivot): never send it there again
        if phase == COMPLETE:
            self._mark_pivoted(name)
            return
        status = lc.get("status") or {}
        session = self.agents.session(name)
        if session is None or name in self._running or time.monotonic() < self._retry.get(name, (0.0, 0.0))[0]:
            return
        if phase is None:
            if status.get("phase") == "Pivoting":
                log.info("pivot of %s: starting (asking the LatticeCluster hook to hold still)", name)
                await self._annotate(name, {names.PIVOT_PHASE: STARTED})
            return
        if phase != STARTED or (status.get("pivot") or {}).get("phase") != STARTED:
            return  # an unknown phase holds everything; Started waits for the hook's acknowledgement
        self._running[name] = asyncio.create_task(self._attempt(name, lc, session))

    async def _attempt(self, name: str, lc: KubeObject, session: AgentSession) -> None:
        began = time.monotonic()
        try:
            moved = await self.pivot(name, lc, session)
        except Exception as exc:
            _, last = self._retry.get(name, (0.0, 0.0))
            delay = min(max(last * 2, self.interval), self.backoff_max)
            self._retry[name] = (time.monotonic() + delay, delay)
            self.last[name] = {"result": "failed", "error": str(exc), "retry_in": delay}
            PIVOTS.labels("failed").inc()
            log.warning("pivot of %s failed (retry in %.0fs): %s", name, delay, exc)
            await self._annotate(name, {names.PIVOT_MESSAGE: f"pivot failed, retrying: {exc}"[:1000]})
        else:
            seconds = time.monotonic() - began
            self._retry.pop(name, None)
            self.last[name] = {"result": "complete", "objects": moved, "seconds": round(seconds, 3)}
            PIVOTS.labels("complete").inc()
            PIVOT_SECONDS.observe(seconds)
        finally:
            self._running.pop(name, None)

    async def pivot(self, name: str, lc: KubeObject, session: AgentSession) -> int:
        """Move ``name``'s objects into it and clean up here; returns how many objects moved."""
        ns = f"capi-{name}"
        exporter = Exporter(self.api)
        steps: dict[str, float] = {}
        mark = time.monotonic()

        def step(what: str) -> None:
            nonlocal mark
            now = time.monotonic()
            steps[what] = now - mark
            mark = now

        if _annotations(lc).get(names.PIVOT_IMPORTED) != "true":
            graph = await exporter.pause_and_collect(ns, name)
            step("collect")
            try:
                await self._send(session, name, ns, graph, lc, step)
            except BaseException:
                await exporter.set_paused(ns, name, False)  # the child's copies stay paused
                raise
            await self._annotate(name, {names.PIVOT_IMPORTED: "true"})
        else:
            graph = await exporter.collect(ns, name, require_cluster=False)
        deleted = await exporter.delete_source(graph)
        await self._annotate(name, {names.PIVOT_PHASE: COMPLETE, names.PIVOT_MESSAGE: None})
        step("cleanup")
        self._mark_pivoted(name)
        self.steps[name] = steps
        log.info("pivot of %s complete: %d objects moved, %d deleted here with delete-for-move (%s)", name,
                 len(graph.ordered()), deleted, ", ".join(f"{k} {v:.2f}s" for k, v in steps.items()))
        return len(graph.ordered())

    async def _send(self, session: AgentSession, name: str, ns: str, graph: Any, lc: KubeObject,
                    step: Any = lambda _what: None) -> None:
        move_id = uuid.uuid4().hex
        for group in batches(graph, move_id, name, ns):
            acks = await asyncio.gather(*(session.call(pb.CellCommand(move_batch=b), self.ack_timeout)
                                          for b in group))
            errors = [e for a in acks for e in a.move_ack.errors]
            if errors:
                first = errors[0]
                raise PivotFailed(f"{len(errors)} objects not imported, e.g. {first.message}")
        step("batches")
        complete = pb.MoveComplete(move_id=move_id, cluster_name=name, target_namespace=ns,
                                   resources=await self.resources.current(), manifests=manifests([child_copy(lc)]))
        ack = (await session.call(pb.CellCommand(move_complete=complete), self.ack_timeout)).move_complete_ack
        if not ack.success:
            raise PivotFailed(f"the child could not finish the move: {ack.error}")
        step("complete")

    def status(self) -> dict[str, Any]:
        return {"running": sorted(self._running), "last": self.last}

