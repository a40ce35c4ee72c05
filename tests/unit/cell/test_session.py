"""lattice_cell.session: one agent's stream as the cell sees it, driven by hand (the real gRPC
stream is in tests/unit/test_tunnel_protocol.py): requests out, responses in, flow control."""

from __future__ import annotations

import asyncio

import pytest

from lattice_cell.session import AgentSession
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_request import AgentUnavailable, BadGateway, KubeRequest


async def sent(session: AgentSession) -> pb.CellCommand:
    cmd = await asyncio.wait_for(session.outbound.get(), 1)
    assert cmd is not None
    return cmd


async def test_a_request_goes_out_and_its_answer_comes_back() -> None:
    session = AgentSession("a", window=1024)
    opening = asyncio.create_task(session.open(KubeRequest("a", "GET", "/api/v1/pods", user="u", groups=("g",))))
    cmd = await sent(session)
    req = cmd.kubernetes_request
    assert (req.target_cluster, req.path, req.user, list(req.groups), req.window_bytes) == (
        "a", "/api/v1/pods", "u", ["g"], 1024)
    session.on_response(pb.KubernetesResponse(request_id=req.request_id, status_code=200, body=b"ok", end=True))
    stream = await opening
    assert stream.status == 200 and stream.complete_body() == b"ok"  # all there: a front can set Content-Length
    assert await stream.read() == b"ok"
    await stream.aclose()
    assert session.in_flight == 0


async def test_more_than_the_window_cancels_the_request() -> None:
    session = AgentSession("a", window=4)
    opening = asyncio.create_task(session.open(KubeRequest("a", "GET", "/big")))
    rid = (await sent(session)).kubernetes_request.request_id
    session.on_response(pb.KubernetesResponse(request_id=rid, status_code=200, body=b"too many bytes"))
    stream = await opening
    assert (await sent(session)).cancel.request_id == rid
    with pytest.raises(BadGateway):
        await stream.read()


async def test_closing_fails_what_is_in_flight_and_refuses_more() -> None:
    session = AgentSession("a")
    opening = asyncio.create_task(session.open(KubeRequest("a", "GET", "/slow")))
    await sent(session)
    session.close("stream ended")
    with pytest.raises(AgentUnavailable):
        await opening
    with pytest.raises(AgentUnavailable):
        session.send(pb.CellCommand())
