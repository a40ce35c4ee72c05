"""The agent-connection Leases: ``lattice-system/lattice-agent-<child>`` kept in step with the registry.

The shape is ``crds.agent_lease`` (shared with the LatticeCluster hook and ``lattice get``). The
registry tells this writer of every connect, AgentReady, heartbeat and disconnect; it notes what
changed and a single dispatcher writes through kr8s (``KubeApi``):

* a **transition** (first connect, reconnect, AgentReady, disconnect, a new agent state) is written
  in full (annotations + spec) ahead of any renewal; the first write for a cluster creates the Lease;
* a **renewal** (a heartbeat) is a merge patch of ``spec.renewTime`` alone, set to the heartbeat's own
  time. Renewals of one Lease coalesce while queued, and every write passes one token bucket
  (``writes_per_second``) with a few requests in flight, so a reconnect storm of thousands of agents
  becomes a bounded stream of writes instead of a burst at the API server.

The Lease lasts ``STALE_AFTER_HEARTBEATS`` heartbeat intervals plus the time the bucket may hold a
renewal back, so a reader's "fresh" agrees with the registry's "stale". After a cell restart, Leases
this cell left "connected" are marked disconnected once their agent has had a Lease duration to
come back. The cell's own Lease (``lattice-system/lattice-cell``) names the cluster and is renewed
every heartbeat interval. A failed write is retried with backoff; nothing here blocks the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from crds import agent_lease as al
from lattice_cell.registry import STALE_AFTER_HEARTBEATS, AgentRecord, AgentRegistry, Change
from lattice_tunnel.kube_api import KubeApi, KubeApiError

log = logging.getLogger(__name__)

GROUP_VERSION = "coordination.k8s.io/v1"
PLURAL = "leases"

WRITES = Counter("lattice_cell_lease_writes_total", "Agent and cell Lease writes", ["kind", "result"])
PENDING = Gauge("lattice_cell_lease_pending", "Agent Leases waiting to be written")


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = burst, clock()

    def delay(self) -> float:
        """Take a token; how long to wait before using it (0 when one was saved up)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class AgentLeases:
    """Writes the agent Leases of one cell; ``start`` after the registry exists, ``stop`` on the way out."""

    def __init__(self, kube: KubeApi, agents: AgentRegistry, cell: str, *, namespace: str = al.NAMESPACE,
                 writes_per_second: float = 25.0, in_flight: int = 4, version: str = "") -> None:
        self.kube, self.agents, self.cell, self.namespace = kube, agents, cell, namespace
        self.version = version
        self.in_flight = in_flight
        self.bucket = TokenBucket(writes_per_second, burst=max(1.0, writes_per_second))
        interval = agents.heartbeat_interval
        # What the bucket may hold a renewal back: a whole round of renewals of every known agent.
        self._interval = interval
        self._urgent: dict[str, None] = {}  # ordered sets
        self._renew: dict[str, None] = {}
        self._written: dict[str, tuple[bool, str, str, str, int]] = {}  # last (connected, versions, state)
        self._exists: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(in_flight)
        self._cell_acquired = time.time()
        agents.listeners.append(self.observe)

    # ---- what readers need to know ----
    def lease_duration(self) -> int:
        queued = len(self.agents.records) / self.bucket.rate
        return math.ceil(STALE_AFTER_HEARTBEATS * self._interval + queued + 1)

    def lease_of(self, rec: AgentRecord) -> al.AgentLease:
        return al.AgentLease(
            cluster=rec.cluster, holder=self.cell, connected=rec.connected,
            lease_duration_seconds=self.lease_duration(),
            renew_time=max(rec.last_heartbeat, rec.connected_at) or None,
            acquire_time=rec.connected_at or None, transitions=max(rec.connections - 1, 0),
            agent_version=rec.agent_version, kubernetes_version=rec.kubernetes_version,
            protocol_version=rec.protocol_version, state=rec.state,
            disconnected_at=rec.disconnected_at or None,
        )

    # ---- the registry's listener (synchronous: note only) ----
    def observe(self, rec: AgentRecord, change: Change) -> None:
        seen = self._written.get(rec.cluster)
        facts = (rec.connected, rec.agent_version, rec.kubernetes_version, rec.state, rec.protocol_version)
        if change is Change.HEARTBEAT and seen == facts and rec.cluster in self._exists:
            if rec.cluster not in self._urgent:
                self._renew[rec.cluster] = None
        else:
            self._urgent[rec.cluster] = None
            self._renew.pop(rec.cluster, None)
        self._kick()

    def _kick(self) -> None:
        PENDING.set(len(self._urgent) + len(self._renew))
        self._idle.clear()
        self._wake.set()

    # ---- lifecycle ----
    async def start(self) -> None:
        """Learn which Leases exist (and which this cell left connected), then write as things change."""
        orphans: list[str] = []
        try:
            for obj in await self.kube.list_labelled(GROUP_VERSION, PLURAL, self.namespace, al.AGENT_SELECTOR):
                lease = al.from_object(obj)
                if lease is None:
                    continue
                self._exists.add(lease.cluster)
                if lease.connected and lease.holder == self.cell:
                    orphans.append(lease.cluster)
        except (KubeApiError, OSError) as exc:
            log.warning("could not list agent Leases (continuing; each is created on first write): %s", exc)
        self._tasks.append(asyncio.create_task(self._dispatch()))
        self._tasks.append(asyncio.create_task(self._cell_lease()))
        if orphans:
            self._tasks.append(asyncio.create_task(self._sweep(orphans)))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._writes]:
            task.cancel()
        for task in [*self._tasks, *self._writes]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(ValueError):
            self.agents.listeners.remove(self.observe)

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued or being written (tests, and a clean shutdown)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    # ---- the writer ----
    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._urgent or self._renew:
                queue = self._urgent or self._renew
                cluster = next(iter(queue))
                del queue[cluster]
                PENDING.set(len(self._urgent) + len(self._renew))
                if (wait := self.bucket.delay()) > 0:
                    await asyncio.sleep(wait)
                await self._slots.acquire()
                urgent = queue is self._urgent or cluster not in self._exists
                task = asyncio.create_task(self._write(cluster, urgent))
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
            await self._drain()

    async def _drain(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if not (self._urgent or self._renew):
            self._idle.set()

    async def _write(self, cluster: str, urgent: bool) -> None:
        try:
            rec = self.agents.records.get(cluster)
            if rec is None:
                return
            lease = self.lease_of(rec)
            facts = (rec.connected, rec.agent_version, rec.kubernetes_version, rec.state, rec.protocol_version)
            kind = "renew"
            if cluster not in self._exists:
                kind = "create"
                body = lease.to_object(self.namespace)
                if await self.kube.create_if_absent(GROUP_VERSION, PLURAL, self.namespace, body):
                    self._exists.add(cluster)
                    self._written[cluster] = facts
                    WRITES.labels(kind, "ok").inc()
                    return
                urgent = True  # it existed after all (another writer, or a list that failed)
            if urgent:
                kind = "update" if kind == "renew" else kind
                patch: dict[str, Any] = {"metadata": {"annotations": lease.annotations()}, "spec": lease.spec()}
            else:
                patch = {"spec": {"renewTime": lease.spec().get("renewTime")}}
            done = await self.kube.merge_patch(GROUP_VERSION, PLURAL, self.namespace, al.lease_name(cluster), patch)
            if done is None:  # deleted behind our back: create it again
                self._exists.discard(cluster)
                self._urgent[cluster] = None
                self._kick()
                return
            self._exists.add(cluster)
            if urgent:
                self._written[cluster] = facts
            WRITES.labels(kind, "ok").inc()
        except (KubeApiError, OSError) as exc:
            WRITES.labels("error", "failed").inc()
            log.warning("agent Lease for %s not written (retrying): %s", cluster, exc)
            self._retry_later(cluster, urgent)
        finally:
            self._slots.release()

    def _retry_later(self, cluster: str, urgent: bool) -> None:
        def again() -> None:
            (self._urgent if urgent else self._renew)[cluster] = None
            self._kick()
        asyncio.get_running_loop().call_later(min(self._interval, 5.0), again)

    async def _sweep(self, orphans: list[str]) -> None:
        """Leases a previous run left "connected": disconnected unless the agent came back in time."""
        await asyncio.sleep(self.lease_duration())
        for cluster in orphans:
            rec = self.agents.records.get(cluster)
            if rec is not None and rec.connected:
                continue
            patch = {"metadata": {"annotations": {al.CONNECTED: "false",
                                                  al.DISCONNECTED_AT: al.micro_time(time.time())}}}
            try:
                await self.kube.merge_patch(GROUP_VERSION, PLURAL, self.namespace, al.lease_name(cluster), patch)
                WRITES.labels("sweep", "ok").inc()
            except (KubeApiError, OSError) as exc:
                WRITES.labels("error", "failed").inc()
                log.warning("could not mark the agent Lease of %s disconnected: %s", cluster, exc)

    async def _cell_lease(self) -> None:
        """``lattice-system/lattice-cell``: this cluster's name, renewed while the cell runs."""
        name, created = al.CELL_LEASE_NAME, False
        while True:
            lease = al.CellLease(cluster=self.cell, lease_duration_seconds=math.ceil(3 * self._interval),
                                 renew_time=time.time(), acquire_time=self._cell_acquired, version=self.version)
            try:
                if not created:
                    obj = lease.to_object(self.namespace)
                    if await self.kube.merge_patch(GROUP_VERSION, PLURAL, self.namespace, name, obj) is None:
                        await self.kube.create_if_absent(GROUP_VERSION, PLURAL, self.namespace, obj)
                    created = True
                else:
                    patch = {"spec": {"renewTime": lease.to_object()["spec"]["renewTime"]}}
                    if await self.kube.merge_patch(GROUP_VERSION, PLURAL, self.namespace, name, patch) is None:
                        created = False
                        continue
                WRITES.labels("cell", "ok").inc()
            except (KubeApiError, OSError) as exc:
                WRITES.labels("error", "failed").inc()
                log.warning("cell Lease not written: %s", exc)
            await asyncio.sleep(self._interval)
