"""lattice_operator.parent_watch: the agent follows the parent config appearing, changing, going."""

from __future__ import annotations

from typing import Any

from lattice_operator.parent_watch import ParentWatch
from lattice_tunnel.parent_config import ParentConfig


class FakeAgent:
    def __init__(self, parent: ParentConfig) -> None:
        self.parent = parent
        self.stopped = False

    async def run(self) -> None:
        import asyncio

        await asyncio.Event().wait()

    def stop(self) -> None:
        self.stopped = True


def config(endpoint: str) -> ParentConfig:
    return ParentConfig("kid", endpoint, "", "", b"ca")


async def test_the_agent_starts_stops_and_restarts_with_the_parent_config() -> None:
    current: list[ParentConfig | None] = [None]
    built: list[FakeAgent] = []

    async def probe() -> ParentConfig | None:
        return current[0]

    async def build() -> tuple[Any, ParentConfig] | None:
        if current[0] is None:
            return None
        built.append(FakeAgent(current[0]))
        return built[-1], current[0]

    watch = ParentWatch(build, probe)
    await watch.step()
    assert watch.agent is None  # a root
    current[0] = config("a:1")
    await watch.step()
    await watch.step()
    assert len(built) == 1 and watch.agent is built[0]
    current[0] = config("b:2")  # a new parent (lattice uninstall)
    await watch.step()
    assert built[0].stopped and watch.agent is built[1]
    current[0] = None  # detached (lattice install)
    await watch.step()
    assert built[1].stopped and watch.agent is None
