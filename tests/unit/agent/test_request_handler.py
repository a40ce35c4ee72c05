"""lattice_agent.request_handler: the cell's requests served here or passed down, answered in
credited chunks (driven by hand against an in-process API stand-in; the gRPC path is in
tests/unit/test_tunnel_protocol.py, the real API servers in tests/integration/test_tunnel.py)."""

from __future__ import annotations

import asyncio

from lattice_agent.request_handler import RequestHandler
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_request import ResponseStream
from tests.unit.tunnel_support import FakeApi


async def answers(queue: asyncio.Queue[pb.AgentMessage], rid: int) -> list[pb.KubernetesResponse]:
    out: list[pb.KubernetesResponse] = []
    async with asyncio.timeout(5):
        while not (out and out[-1].end):
            msg = (await queue.get()).kubernetes_response
            assert msg.request_id == rid
            out.append(msg)
    return out


def handler(
    local: FakeApi | None = None, downstream: FakeApi | None = None
) -> tuple[RequestHandler, asyncio.Queue[pb.AgentMessage]]:
    queue: asyncio.Queue[pb.AgentMessage] = asyncio.Queue()
    return RequestHandler("a", queue.put_nowait, local, downstream), queue


async def test_this_clusters_requests_go_to_the_local_api_with_the_identity() -> None:
    api = FakeApi("a")
    h, queue = handler(local=api)
    h.on_request(pb.KubernetesRequest(request_id=1, target_cluster="a", method="GET", path="/api/v1/pods",
                                      user="u", groups=["g"], window_bytes=65536))
    (only,) = await answers(queue, 1)
    assert only.status_code == 200 and b'"cluster":"a"' in only.body
    assert (api.seen[0].user, api.seen[0].groups) == ("u", ("g",))


async def test_other_clusters_go_down_or_are_not_found() -> None:
    below = FakeApi("b")
    h, queue = handler(local=FakeApi("a"), downstream=below)
    h.on_request(pb.KubernetesRequest(request_id=2, target_cluster="b", method="GET", path="/x", window_bytes=65536))
    assert b'"cluster":"b"' in (await answers(queue, 2))[0].body
    leaf, leaf_queue = handler(local=FakeApi("a"))
    leaf.on_request(pb.KubernetesRequest(request_id=3, target_cluster="z", method="GET", path="/x"))
    (missing,) = await answers(leaf_queue, 3)
    assert missing.status_code == 404 and b"NotFound" in missing.body


async def test_a_body_in_parts_is_reassembled_and_credit_paces_the_answer() -> None:
    big = b"x" * (200 * 1024)
    api = FakeApi("a", handler=lambda req: ResponseStream.from_bytes(200, big + req.body))
    h, queue = handler(local=api)
    h.on_request(pb.KubernetesRequest(request_id=4, target_cluster="a", method="PUT", path="/p", body=b"he",
                                      more_body=True, window_bytes=65536))
    h.on_body(pb.RequestBody(request_id=4, data=b"llo", end=True))
    first = (await asyncio.wait_for(queue.get(), 5)).kubernetes_response
    assert first.status_code == 200 and len(first.body) == 64 * 1024
    await asyncio.sleep(0.05)
    assert queue.empty()  # the window is used up until the cell credits more
    h.on_credit(pb.StreamCredit(request_id=4, bytes=1 << 20))
    rest = await answers(queue, 4)
    assert first.body + b"".join(m.body for m in rest) == big + b"hello"
