"""The single writer of a tunnel stream: coalesce whatever is queued into one gRPC message.

In grpcio's asyncio stack a message costs roughly 0.1 ms of CPU on each side (serialisation,
the core's HTTP/2 framing and TLS, waking the event loop) almost regardless of its size, and it
was a third of the tunnel's CPU per small request. So the writer takes every message waiting in
the queue when it gets to write and sends them as one batch. It never waits for more: a quiet
stream still sends each message as soon as it is queued, alone and unwrapped; batches form only
while a previous write is in flight, i.e. exactly when there is load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from prometheus_client import Counter

# Protocol versions: 1 = one message per gRPC message; 2 = also understands batches.
PROTOCOL_VERSION = 2
BATCH_MIN_VERSION = 2
MAX_BATCH_ITEMS = 128
MAX_BATCH_BYTES = 1024 * 1024  # well under the 16 MiB message limit, and keeps one batch short on the wire


WRITES = Counter("lattice_tunnel_writes_total", "gRPC messages written to tunnel streams", ["side"])
MESSAGES = Counter("lattice_tunnel_messages_total", "Tunnel messages written (a batch carries several)", ["side"])


class _Sized(Protocol):
    def ByteSize(self) -> int: ...  # protobuf spelling


M = TypeVar("M", bound=_Sized)


async def write_batched(queue: asyncio.Queue[M | None], write: Callable[[M], Awaitable[object]],
                        wrap: Callable[[list[M]], M], batching: Callable[[], bool], side: str,
                        linger: Callable[[], bool] = lambda: False) -> None:
    """Write messages from `queue` until it yields None. `batching()` says whether the peer
    understands batches (it is asked per write: the peer announces its version after connect)."""
    writes, messages = WRITES.labels(side), MESSAGES.labels(side)
    while (first := await queue.get()) is not None:
        writes.inc()
        if linger() and batching():
            await asyncio.sleep(0)  # let the other in-flight requests' ready messages join this write
        if queue.empty() or not batching():
            messages.inc()
            await write(first)
            continue
        items, size, done = [first], first.ByteSize(), False
        while not queue.empty() and len(items) < MAX_BATCH_ITEMS and size < MAX_BATCH_BYTES:
            nxt = queue.get_nowait()
            if nxt is None:
                done = True
                break
            items.append(nxt)
            size += nxt.ByteSize()
        messages.inc(len(items))
        await write(items[0] if len(items) == 1 else wrap(items))
        if done:
            return
