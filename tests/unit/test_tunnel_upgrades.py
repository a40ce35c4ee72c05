"""Upgraded requests (exec, attach, port-forward) through the tunnel: a byte relay of the upgraded
connection, hop by hop, over real gRPC with mTLS, to a raw HTTP/1.1 server that switches protocols
(tunnel_support.UpgradeServer) behind the leaf's real last hop (KubeExecutor)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from lattice_agent.agent import Agent
from lattice_cell.cell import Cell
from lattice_tunnel.kube_exec import KubeExecutor
from lattice_tunnel.kube_request import KubeRequest, ResponseStream
from lattice_tunnel.kube_target import KubeTarget
from tests.unit.tunnel_support import UpgradeServer, agent_config, eventually, running, start_cell

pytestmark = pytest.mark.timeout(60)


@pytest_asyncio.fixture(loop_scope="function")
async def chain() -> AsyncIterator[tuple[Cell, UpgradeServer]]:
    """root cell <- mid (agent + cell) <- leaf agent, whose API server is the UpgradeServer."""
    root, mid = await start_cell("root"), await start_cell("mid")
    server = await UpgradeServer().start()
    leaf_exec = KubeExecutor(KubeTarget(server=f"http://127.0.0.1:{server.port}", token="leaf-admin"))
    mid_agent = Agent(agent_config(root, "mid"), local=mid.router.local, downstream=mid.router, subtree=mid.subtree)
    leaf_agent = Agent(agent_config(mid, "leaf"), local=leaf_exec)
    try:
        async with running(mid_agent), running(leaf_agent):
            await eventually(lambda: root.subtree.lookup("leaf") is not None
                             and root.subtree.reachable(root.subtree.lookup("leaf")))  # type: ignore[arg-type]
            yield root, server
    finally:
        await leaf_exec.aclose()
        await server.stop()
        await mid.stop()
        await root.stop()


def exec_request(path: str = "/api/v1/namespaces/demo/pods/p/exec", upgrade: str = "SPDY/3.1") -> KubeRequest:
    return KubeRequest("leaf", "POST", path, "command=cat&stdin=true", headers=(("X-Stream-Protocol-Version",
                       "v4.channel.k8s.io"),), user="alice", groups=("dev",), uid="u-1",
                       extra=(("lattice.dev/proxy-cluster", ("root",)),), upgrade=upgrade)


async def read_exactly(stream: ResponseStream, size: int) -> bytes:
    got = b""
    it = aiter(stream)
    while len(got) < size:
        got += await anext(it)
    return got


async def test_upgrade_relays_bytes_both_ways_through_two_hops(chain: tuple[Cell, UpgradeServer]) -> None:
    root, server = chain
    stream = await root.router.open(exec_request())
    try:
        assert stream.status == 101 and stream.sink is not None
        assert ("Upgrade", "SPDY/3.1") in stream.headers
        head = server.heads[-1]
        # Hop-by-hop headers are set again at the last hop; the caller is impersonated, uid and extra too.
        assert head["connection"] == ["Upgrade"] and head["upgrade"] == ["SPDY/3.1"]
        assert head["impersonate-user"] == ["alice"] and head["impersonate-group"] == ["dev"]
        assert head["impersonate-uid"] == ["u-1"]
        assert head["impersonate-extra-lattice.dev%2fproxy-cluster"] == ["root"]
        assert head["authorization"] == ["Bearer leaf-admin"]
        await stream.sink.write(b"hello")
        assert await read_exactly(stream, 5) == b"HELLO"
    finally:
        await stream.aclose()


async def test_large_transfers_respect_the_window_in_both_directions(chain: tuple[Cell, UpgradeServer]) -> None:
    root, _ = chain
    stream = await root.router.open(exec_request(upgrade="websocket"))
    payload = bytes(range(97, 123)) * (200 * 1024)  # 5.2 MB, five times the 1 MiB window
    try:
        assert stream.sink is not None
        writer = asyncio.create_task(stream.sink.write(payload))
        echoed = await read_exactly(stream, len(payload))
        await writer
        assert echoed == payload.upper()
    finally:
        await stream.aclose()


async def test_client_going_away_closes_the_target_connection(chain: tuple[Cell, UpgradeServer]) -> None:
    root, server = chain
    stream = await root.router.open(exec_request())
    assert stream.sink is not None
    await stream.sink.write(b"x")
    assert await read_exactly(stream, 1) == b"X"
    assert server.open_connections == 1
    await stream.aclose()  # the client went away: CancelRequest hop by hop, the last hop closes its connection
    await eventually(lambda: server.open_connections == 0)


async def test_target_closing_ends_the_stream(chain: tuple[Cell, UpgradeServer]) -> None:
    root, _ = chain
    stream = await root.router.open(exec_request())
    assert stream.sink is not None
    await stream.sink.write(b"CLOSE")
    async with asyncio.timeout(10):
        assert [chunk async for chunk in stream] == []
    await stream.aclose()


async def test_client_end_closes_the_target_connection(chain: tuple[Cell, UpgradeServer]) -> None:
    root, server = chain
    stream = await root.router.open(exec_request())
    assert stream.sink is not None
    await stream.sink.end()
    async with asyncio.timeout(10):
        assert [chunk async for chunk in stream] == []
    await eventually(lambda: server.open_connections == 0)
    await stream.aclose()


async def test_a_refused_upgrade_is_an_ordinary_response(chain: tuple[Cell, UpgradeServer]) -> None:
    root, _ = chain
    stream = await root.router.open(exec_request("/forbidden/exec"))
    assert stream.status == 403 and stream.sink is None
    assert b"pods/exec is forbidden" in await stream.read()
    await stream.aclose()
