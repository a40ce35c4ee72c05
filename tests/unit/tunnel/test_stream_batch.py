"""The tunnel's single writer: coalescing without delay (pure asyncio, no gRPC)."""

import asyncio

from lattice_proto import agent_pb2 as pb
from lattice_tunnel.stream_batch import MAX_BATCH_BYTES, write_batched


def msg(i: int, size: int = 0) -> pb.AgentMessage:
    return pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(request_id=i, body=b"x" * size))


def wrap(items: list[pb.AgentMessage]) -> pb.AgentMessage:
    return pb.AgentMessage(batch=pb.AgentMessageBatch(messages=items))


def ids(m: pb.AgentMessage) -> list[int]:
    if m.WhichOneof("payload") == "batch":
        return [x.kubernetes_response.request_id for x in m.batch.messages]
    return [m.kubernetes_response.request_id]


async def drive(queued: list[pb.AgentMessage | None], batching: bool = True) -> list[list[int]]:
    queue: asyncio.Queue[pb.AgentMessage | None] = asyncio.Queue()
    for m in queued:
        queue.put_nowait(m)
    written: list[list[int]] = []

    async def write(m: pb.AgentMessage) -> None:
        written.append(ids(m))

    await asyncio.wait_for(write_batched(queue, write, wrap, lambda: batching, "test"), 5)
    return written


async def test_a_lone_message_goes_out_alone_and_unwrapped() -> None:
    queue: asyncio.Queue[pb.AgentMessage | None] = asyncio.Queue()
    written: list[pb.AgentMessage] = []

    async def write(m: pb.AgentMessage) -> None:
        written.append(m)

    task = asyncio.ensure_future(write_batched(queue, write, wrap, lambda: True, "test"))
    queue.put_nowait(msg(1))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [m.WhichOneof("payload") for m in written] == ["kubernetes_response"]  # sent without waiting
    queue.put_nowait(None)
    await asyncio.wait_for(task, 5)


async def test_queued_messages_share_one_write_in_order() -> None:
    assert await drive([msg(1), msg(2), msg(3), None]) == [[1, 2, 3]]


async def test_no_batches_for_a_peer_that_does_not_understand_them() -> None:
    assert await drive([msg(1), msg(2), msg(3), None], batching=False) == [[1], [2], [3]]


async def test_a_batch_stops_at_the_byte_budget() -> None:
    big = MAX_BATCH_BYTES // 2
    written = await drive([msg(1, big), msg(2, big), msg(3, big), msg(4), None])
    assert written == [[1, 2], [3, 4]]
