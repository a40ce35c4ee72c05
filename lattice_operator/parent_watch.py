"""Whether this cluster has a parent can change while the operator runs: ``lattice install`` takes a
new management cluster away from its (temporary) bootstrap parent once it manages itself, and
``lattice uninstall`` gives a cluster a parent to hand its Cluster API objects back to. So the
operator looks for the parent config every few seconds and runs the agent towards whatever it
names: started when it appears, stopped when it goes (the cluster is a root from then on),
restarted when it points elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lattice_agent.agent import Agent
from lattice_tunnel.parent_config import ParentConfig

log = logging.getLogger(__name__)

Build = Callable[[], Awaitable[tuple[Agent, ParentConfig] | None]]
Probe = Callable[[], Awaitable[ParentConfig | None]]


class ParentWatch:
    def __init__(self, build: Build, probe: Probe, interval: float = 5.0) -> None:
        self.build = build
        self.probe = probe
        self.interval = interval
        self.agent: Agent | None = None
        self.parent: ParentConfig | None = None
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _same(a: ParentConfig | None, b: ParentConfig | None) -> bool:
        if a is None or b is None:
            return a is b
        return (a.cluster, a.grpc_endpoint, a.ca_pem) == (b.cluster, b.grpc_endpoint, b.ca_pem)

    async def step(self) -> None:
        current = await self.probe()
        if self.agent is not None and self._same(current, self.parent):
            return
        if self.agent is not None:
            log.info("the parent config %s; stopping the agent towards %s",
                     "is gone (this cluster is a root now)" if current is None else "changed",
                     self.parent.grpc_endpoint if self.parent else "?")
            await self.stop_agent()
        if current is None:
            return
        built = await self.build()
        if built is None:
            return
        self.agent, self.parent = built
        log.info("cluster %s has a parent; running its agent towards %s", self.parent.cluster,
                 self.parent.grpc_endpoint)
        self._task = asyncio.create_task(self.agent.run())

    async def stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.agent, self.parent, self._task = None, None, None

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API server may be away; look again later
                log.warning("cannot read the parent config: %s", exc)
            await asyncio.sleep(self.interval)
