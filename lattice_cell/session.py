"""One connected agent stream, seen from the cell: outbound commands and in-flight requests.

Flow control is per request. Each KubernetesRequest grants the agent `window` response bytes;
the cell returns credit only as the HTTP client actually consumes chunks. So a slow watch
consumer stalls only its own request at the agent, while the shared gRPC stream keeps moving
(the cell's reader never blocks: an agent exceeding its window gets that request cancelled).
An upgraded request (101) also carries the client's bytes down as UpgradeData, within the same
window in that direction: the agent returns `upgrade_credit` for what it passed on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from lattice_proto import agent_pb2 as pb
from lattice_tunnel.http1_client import expire
from lattice_tunnel.kube_request import (
    AgentUnavailable,
    BadGateway,
    KubeRequest,
    ResponseStream,
    TunnelTimeout,
)

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 1024 * 1024
BODY_CHUNK = 256 * 1024
UPGRADE_CHUNK = 64 * 1024
HEAD_TIMEOUT_STREAMING = 30.0
_END = object()


class _Pending:
    """Response state of one request: head future, buffered chunks, credit bookkeeping."""

    def __init__(self, session: AgentSession, rid: int, window: int) -> None:
        self.session, self.rid, self.window = session, rid, window
        self.head: asyncio.Future[tuple[int, list[tuple[str, str]]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: deque[Any] = deque()
        self.ready = asyncio.Event()
        self.buffered = 0
        self.unreported = 0
        self.finished = False  # end or error received from the agent
        self.error: str | None = None

    def feed(self, msg: pb.KubernetesResponse) -> None:
        if msg.status_code and not self.head.done():
            self.head.set_result((msg.status_code, [(h.name, h.value) for h in msg.headers]))
        if msg.error:
            self.error = msg.error
            if not self.head.done():
                self.head.set_exception(BadGateway(f"agent {self.session.cluster}: {msg.error}"))
            self._finish()
            return
        if msg.body:
            self.buffered += len(msg.body)
            if self.buffered > self.window:
                self.error = f"agent sent {self.buffered} bytes beyond its {self.window}-byte window"
                log.warning("request %d to %s: %s; cancelling", self.rid, self.session.cluster, self.error)
                self.session.cancel(self.rid, "flow-control violation")
                self._finish()
                return
            self.chunks.append(bytes(msg.body))
        if msg.end:
            self._finish()
        self.ready.set()

    def _finish(self) -> None:
        self.finished = True
        self.chunks.append(_END)
        self.ready.set()

    def fail(self, message: str) -> None:
        if not self.head.done():
            self.head.set_exception(AgentUnavailable(message))
        if not self.finished:
            self.error = message
            self._finish()

    def complete_body(self) -> bytes | None:
        if not self.finished or self.error or not self.chunks or self.chunks[-1] is not _END:
            return None
        return b"".join(c for c in self.chunks if c is not _END)

    async def iterate(self) -> AsyncIterator[bytes]:
        while True:
            while not self.chunks:
                self.ready.clear()
                await self.ready.wait()
            item = self.chunks.popleft()
            if item is _END:
                if self.error:
                    raise BadGateway(f"stream from agent {self.session.cluster} broke: {self.error}")
                return
            self.buffered -= len(item)
            self.unreported += len(item)
            # Credit is returned once the consumer has moved on; batch it to halve message count.
            if not self.finished and self.unreported >= self.window // 2:
                self.session.send(pb.CellCommand(credit=pb.StreamCredit(request_id=self.rid, bytes=self.unreported)))
                self.unreported = 0
            yield item


class _UpgradeSink:
    """The client's bytes of an upgraded request, down to the agent as UpgradeData (flow-controlled)."""

    def __init__(self, session: AgentSession, rid: int, window: int) -> None:
        self.session, self.rid, self.credit = session, rid, window
        self.granted = asyncio.Event()
        self.done = False  # cancelled or the session closed

    def grant(self, amount: int) -> None:
        self.credit += amount
        self.granted.set()

    def stop(self) -> None:
        self.done = True
        self.granted.set()

    async def write(self, data: bytes) -> None:
        for offset in range(0, len(data), UPGRADE_CHUNK):
            piece = data[offset:offset + UPGRADE_CHUNK]
            while self.credit < len(piece) and not self.done:
                self.granted.clear()
                await self.granted.wait()
            if self.done or self.session.closed:
                raise AgentUnavailable(f"upgraded stream to {self.session.cluster} is closed")
            self.credit -= len(piece)
            self.session.send(pb.CellCommand(upgrade_data=pb.UpgradeData(request_id=self.rid, data=piece)))

    async def end(self) -> None:
        if not self.done and not self.session.closed:
            self.session.send(pb.CellCommand(upgrade_data=pb.UpgradeData(request_id=self.rid, end=True)))


def request_message(rid: int, req: KubeRequest, window: int, body: bytes, more_body: bool) -> pb.KubernetesRequest:
    msg = pb.KubernetesRequest(
        request_id=rid, target_cluster=req.cluster, method=req.method, path=req.path, query=req.query,
        headers=[pb.Header(name=k, value=v) for k, v in req.headers], body=body, more_body=more_body,
        user=req.user, groups=list(req.groups), window_bytes=window, streaming=req.streaming,
        timeout_ms=0 if req.streaming or not req.timeout else int(req.timeout * 1000),
        uid=req.uid, upgrade=req.upgrade,
    )
    for key, values in req.extra:
        msg.extra[key].values.extend(values)
    return msg


class AgentSession:
    def __init__(self, cluster: str, window: int = DEFAULT_WINDOW) -> None:
        self.cluster = cluster
        self.window = window
        self.outbound: asyncio.Queue[pb.CellCommand | None] = asyncio.Queue()
        self.closed = False
        self.close_reason = ""
        self.peer_protocol = 1  # until AgentReady says otherwise: no batches
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._upgrades: dict[int, _UpgradeSink] = {}
        self._calls: dict[int, asyncio.Future[pb.AgentMessage]] = {}

    # ---- outbound ----
    def send(self, cmd: pb.CellCommand) -> None:
        if self.closed:
            raise AgentUnavailable(f"agent {self.cluster} is not connected")
        if not cmd.command_id:
            cmd.command_id = next(self._ids)
        self.outbound.put_nowait(cmd)

    def cancel(self, rid: int, reason: str) -> None:
        self._pending.pop(rid, None)
        sink = self._upgrades.pop(rid, None)
        if sink is not None:
            sink.stop()
        if not self.closed:
            self.send(pb.CellCommand(cancel=pb.CancelRequest(request_id=rid, reason=reason)))

    async def call(self, cmd: pb.CellCommand, timeout: float) -> pb.AgentMessage:
        """Send a command that the agent acknowledges with request_id = command_id (move, ...)."""
        cmd.command_id = next(self._ids)
        fut: asyncio.Future[pb.AgentMessage] = asyncio.get_running_loop().create_future()
        self._calls[cmd.command_id] = fut
        try:
            self.send(cmd)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise TunnelTimeout(f"agent {self.cluster} did not acknowledge command in {timeout}s") from exc
        finally:
            self._calls.pop(cmd.command_id, None)

    def resolve_call(self, request_id: int, msg: pb.AgentMessage) -> None:
        fut = self._calls.get(request_id)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    # ---- Kubernetes requests ----
    async def open(self, req: KubeRequest) -> ResponseStream:
        rid = next(self._ids)
        pending = _Pending(self, rid, self.window)
        self._pending[rid] = pending
        first, rest = req.body[:BODY_CHUNK], req.body[BODY_CHUNK:]
        msg = request_message(rid, req, self.window, first, bool(rest))
        try:
            self.send(pb.CellCommand(command_id=rid, kubernetes_request=msg))
            for offset in range(0, len(rest), BODY_CHUNK):
                part = rest[offset:offset + BODY_CHUNK]
                end = offset + BODY_CHUNK >= len(rest)
                self.send(pb.CellCommand(request_body=pb.RequestBody(request_id=rid, data=part, end=end)))
            wait = HEAD_TIMEOUT_STREAMING if req.streaming else (req.timeout or HEAD_TIMEOUT_STREAMING)
            # A timer on the future itself: wait_for + shield cost three extra loop turns per request.
            timer = asyncio.get_running_loop().call_later(wait, expire, pending.head)
            try:
                status, headers = await pending.head
            finally:
                timer.cancel()
        except TimeoutError as exc:
            self.cancel(rid, "timeout")
            raise TunnelTimeout(f"cluster {req.cluster} did not answer {req.method} {req.path} "
                                f"within {wait:g}s") from exc
        except BaseException:
            self.cancel(rid, "aborted")
            raise

        sink: _UpgradeSink | None = None
        if status == 101 and req.upgrade:
            sink = self._upgrades[rid] = _UpgradeSink(self, rid, self.window)

        async def close() -> None:
            if self._pending.get(rid) is pending:
                if pending.finished:
                    del self._pending[rid]
                    self._upgrades.pop(rid, None)
                else:
                    self.cancel(rid, "client went away")

        if sink is not None:
            return ResponseStream(status, headers, pending.iterate(), close, sink=sink)
        return ResponseStream(status, headers, pending.iterate(), close, pending.complete_body)

    def on_upgrade_credit(self, credit: pb.StreamCredit) -> None:
        sink = self._upgrades.get(credit.request_id)
        if sink is not None:
            sink.grant(credit.bytes)

    def on_response(self, msg: pb.KubernetesResponse) -> None:
        pending = self._pending.get(msg.request_id)
        if pending is None:
            return  # late chunks of a cancelled request
        pending.feed(msg)
        if pending.finished and pending.head.done() and pending.error:
            self._pending.pop(msg.request_id, None)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for pending in self._pending.values():
            pending.fail(f"agent {self.cluster} disconnected: {reason}")
        self._pending.clear()
        for sink in self._upgrades.values():
            sink.stop()
        self._upgrades.clear()
        for fut in self._calls.values():
            if not fut.done():
                fut.set_exception(AgentUnavailable(f"agent {self.cluster} disconnected: {reason}"))
        self.outbound.put_nowait(None)
