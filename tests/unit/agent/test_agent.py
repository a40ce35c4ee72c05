"""lattice_agent.agent: the stream to the parent cell (a real in-process cell over mTLS gRPC; the
protocol in depth is tests/unit/test_tunnel_protocol.py)."""

from __future__ import annotations

import asyncio

from lattice_agent.agent import Agent
from lattice_agent.request_handler import RequestHandler
from lattice_cell.subtree import SubtreeRegistry
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.subtree import ClusterInfo
from tests.unit.tunnel_support import FakeApi, agent_config, eventually, running, start_cell


async def test_an_agent_connects_and_advertises_itself_and_its_subtree() -> None:
    cell = await start_cell("root")
    below = SubtreeRegistry("a")
    below.set_agent_connected("b", True)
    below.apply("b", [ClusterInfo("b")], full=True)
    try:
        async with running(Agent(agent_config(cell, "a"), local=FakeApi("a"), subtree=below)) as agent:
            assert agent.parent_cluster == "root" and agent.connections == 1
            await eventually(lambda: cell.subtree.lookup("b") is not None)
            route = cell.subtree.lookup("b")
            assert route is not None and route.via == "a" and route.info.parent == "a"
            below.apply("b", [ClusterInfo("b"), ClusterInfo("c", "b")], full=True)  # a delta travels up
            await eventually(lambda: cell.subtree.lookup("c") is not None)
    finally:
        await cell.stop()


async def test_without_an_api_client_pivot_and_exec_are_refused_explicitly() -> None:
    cell = await start_cell("root")
    try:
        agent = Agent(agent_config(cell, "a"))
        outbound: asyncio.Queue[pb.AgentMessage | None] = asyncio.Queue()
        handler = RequestHandler("a", outbound.put_nowait, None, None)
        await agent._dispatch(pb.CellCommand(command_id=7, move_batch=pb.MoveObjectBatch()), handler, outbound)
        await agent._dispatch(pb.CellCommand(exec_request=pb.ExecRequest(request_id=8)), handler, outbound)
        ack, exec_data = outbound.get_nowait(), outbound.get_nowait()
        assert ack is not None and ack.move_ack.request_id == 7 and "cannot import" in ack.move_ack.errors[0].message
        assert exec_data is not None and exec_data.exec_data.request_id == 8 and exec_data.exec_data.stream_end
    finally:
        await cell.stop()
