"""Registry of this cell's direct agents: live sessions plus an attrs record per cluster.

A record outlives its stream (disconnected agents stay listed), is `stale` when a connected
agent has missed heartbeats, and keeps `pivot_complete` across reconnects. Listeners (the agent
Leases) hear of every connect, AgentReady, heartbeat and disconnect, synchronously: they must only
take note and do their I/O elsewhere.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable

import attrs

from lattice_cell.session import AgentSession
from lattice_tunnel.kube_request import AgentUnavailable

STALE_AFTER_HEARTBEATS = 3


class Connectivity(enum.StrEnum):
    CONNECTED = "connected"
    STALE = "stale"
    DISCONNECTED = "disconnected"


class Change(enum.StrEnum):
    CONNECTED = "connected"
    READY = "ready"
    HEARTBEAT = "heartbeat"
    DISCONNECTED = "disconnected"


@attrs.define
class AgentRecord:
    cluster: str
    connected: bool = False
    state: str = "Unknown"
    agent_version: str = ""
    kubernetes_version: str = ""
    protocol_version: int = 0
    api_server_endpoint: str = ""
    capi_ready: bool = False
    pivot_complete: bool = False
    connected_at: float = 0.0
    disconnected_at: float = 0.0
    last_heartbeat: float = 0.0
    connections: int = 0

    def connectivity(self, now: float, heartbeat_interval: float) -> Connectivity:
        if not self.connected:
            return Connectivity.DISCONNECTED
        last = max(self.last_heartbeat, self.connected_at)
        if now - last > STALE_AFTER_HEARTBEATS * heartbeat_interval:
            return Connectivity.STALE
        return Connectivity.CONNECTED


class AgentRegistry:
    def __init__(self, heartbeat_interval: float = 30.0) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.records: dict[str, AgentRecord] = {}
        self._sessions: dict[str, AgentSession] = {}
        self._changed = asyncio.Condition()
        self._wakers: set[asyncio.Task[None]] = set()
        self.listeners: list[Callable[[AgentRecord, Change], None]] = []

    def _tell(self, rec: AgentRecord, change: Change) -> None:
        for listener in self.listeners:
            listener(rec, change)

    def record(self, cluster: str) -> AgentRecord:
        return self.records.setdefault(cluster, AgentRecord(cluster))

    @property
    def connected_count(self) -> int:
        return len(self._sessions)

    def session(self, cluster: str) -> AgentSession | None:
        return self._sessions.get(cluster)

    def sessions(self) -> dict[str, AgentSession]:
        """The current session of every connected agent (a copy)."""
        return dict(self._sessions)

    def attach(self, session: AgentSession) -> AgentSession | None:
        """Make `session` current for its cluster; returns the session it displaced (an agent
        that reconnected before the cell noticed its old stream died)."""
        old = self._sessions.get(session.cluster)
        self._sessions[session.cluster] = session
        rec = self.record(session.cluster)
        rec.connected, rec.connected_at, rec.connections = True, time.time(), rec.connections + 1
        self._notify()
        self._tell(rec, Change.CONNECTED)
        return old

    def detach(self, session: AgentSession) -> bool:
        """Forget `session` if it is still current; True if the cluster is now disconnected."""
        if self._sessions.get(session.cluster) is not session:
            return False
        del self._sessions[session.cluster]
        rec = self.record(session.cluster)
        rec.connected, rec.disconnected_at = False, time.time()
        self._notify()
        self._tell(rec, Change.DISCONNECTED)
        return True

    def heartbeat(self, cluster: str, state: str) -> None:
        rec = self.record(cluster)
        rec.last_heartbeat, rec.state = time.time(), state
        self._tell(rec, Change.HEARTBEAT)

    def ready(self, cluster: str, *, agent_version: str, kubernetes_version: str, protocol_version: int,
              api_server_endpoint: str, state: str) -> None:
        """The agent's AgentReady: what it runs; also counts as a heartbeat."""
        rec = self.record(cluster)
        rec.agent_version, rec.kubernetes_version, rec.protocol_version = (
            agent_version, kubernetes_version, protocol_version)
        rec.api_server_endpoint, rec.state, rec.last_heartbeat = api_server_endpoint, state, time.time()
        self._tell(rec, Change.READY)

    def connectivity(self, cluster: str) -> Connectivity:
        rec = self.records.get(cluster)
        if rec is None:
            return Connectivity.DISCONNECTED
        return rec.connectivity(time.time(), self.heartbeat_interval)

    def stale_sessions(self) -> list[AgentSession]:
        now = time.time()
        return [s for c, s in self._sessions.items()
                if self.records[c].connectivity(now, self.heartbeat_interval) is Connectivity.STALE]

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()
        task = asyncio.get_running_loop().create_task(wake())
        self._wakers.add(task)  # keep a reference until it ran
        task.add_done_callback(self._wakers.discard)

    async def wait_session(self, cluster: str, timeout: float) -> AgentSession:
        """The cluster's session, waiting up to `timeout` for its agent to (re)connect."""
        session = self._sessions.get(cluster)
        if session is not None or timeout <= 0:
            if session is None:
                raise AgentUnavailable(f"agent for cluster {cluster!r} is not connected")
            return session
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: cluster in self._sessions)
        except TimeoutError as exc:
            raise AgentUnavailable(f"agent for cluster {cluster!r} did not connect within {timeout:g}s") from exc
        return self._sessions[cluster]

    def summary(self) -> list[dict[str, object]]:
        now = time.time()
        return [
            {**attrs.asdict(r), "connectivity": r.connectivity(now, self.heartbeat_interval).value}
            for r in sorted(self.records.values(), key=lambda r: r.cluster)
        ]
