"""Serve the cell's KubernetesRequests: locally when the target is this cluster, else down the
subtree through the co-located cell (multi-hop), streaming the response back in chunks.

Each request runs in its own task and may send only as many body bytes as the cell has
credited (window + StreamCredit). A slow consumer upstream therefore pauses only its own
request here — and, because we stop reading, its own upstream (API server or next hop).

An upgrade request (exec, attach, port-forward) that its target accepts (101) becomes a byte
relay: the target's bytes go up as response chunks, the client's bytes arrive as UpgradeData and
go to the target, and `upgrade_credit` tells the cell how much it may send next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_request import (
    MAX_BODY,
    ClusterNotFound,
    Forwarder,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    TunnelError,
    TunnelTimeout,
    status_body,
)

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MIN_WINDOW = CHUNK

ACTIVE = Gauge("lattice_agent_active_requests", "Tunnelled requests in progress at this agent", ["kind"])
SERVED = Counter("lattice_agent_requests_total", "Tunnelled requests served", ["route", "code"])


class _Running:
    def __init__(self, req: pb.KubernetesRequest) -> None:
        self.req = req
        self.body = bytearray(req.body)
        self.credit = max(req.window_bytes, MIN_WINDOW)
        self.credit_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        # Upgrades: the client's bytes, waiting for the target (None = the client closed).
        self.incoming: asyncio.Queue[bytes | None] | None = asyncio.Queue() if req.upgrade else None
        self.incoming_bytes = 0


def kube_request(m: pb.KubernetesRequest, body: bytes) -> KubeRequest:
    """The KubeRequest a tunnelled message asks for (identity and upgrade kept as they came)."""
    return KubeRequest(
        cluster=m.target_cluster, method=m.method, path=m.path, query=m.query,
        headers=tuple((h.name, h.value) for h in m.headers), body=body, user=m.user, groups=tuple(m.groups),
        uid=m.uid, extra=tuple((k, tuple(v.values)) for k, v in sorted(m.extra.items())), upgrade=m.upgrade,
        timeout=m.timeout_ms / 1000 if m.timeout_ms else None, streaming=m.streaming or bool(m.upgrade),
    )


class RequestHandler:
    def __init__(self, cluster: str, send: Callable[[pb.AgentMessage], None],
                 local: Forwarder | None, downstream: Forwarder | None) -> None:
        self.cluster = cluster
        self.send = send
        self.local = local
        self.downstream = downstream
        self.running: dict[int, _Running] = {}

    # ---- messages from the cell ----
    def on_request(self, req: pb.KubernetesRequest) -> None:
        run = _Running(req)
        self.running[req.request_id] = run
        if not req.more_body:
            self._start(run)

    def on_body(self, part: pb.RequestBody) -> None:
        run = self.running.get(part.request_id)
        if run is None or run.task is not None:
            return
        run.body.extend(part.data)
        if len(run.body) > MAX_BODY:
            self.running.pop(part.request_id, None)
            self._reply_error(part.request_id, PayloadTooLarge(f"request body exceeds {MAX_BODY} bytes"))
        elif part.end:
            self._start(run)

    def on_credit(self, credit: pb.StreamCredit) -> None:
        run = self.running.get(credit.request_id)
        if run is not None:
            run.credit += credit.bytes
            run.credit_event.set()

    def on_upgrade_data(self, part: pb.UpgradeData) -> None:
        run = self.running.get(part.request_id)
        if run is None or run.incoming is None:
            return  # late bytes of a finished or cancelled relay
        run.incoming_bytes += len(part.data)
        if run.incoming_bytes > 2 * max(run.req.window_bytes, MIN_WINDOW):
            log.warning("request %d: the cell sent %d upgrade bytes beyond its window; cancelling",
                        part.request_id, run.incoming_bytes)
            self.on_cancel(pb.CancelRequest(request_id=part.request_id, reason="flow-control violation"))
            return
        if part.data:
            run.incoming.put_nowait(bytes(part.data))
        if part.end:
            run.incoming.put_nowait(None)

    def on_cancel(self, cancel: pb.CancelRequest) -> None:
        run = self.running.pop(cancel.request_id, None)
        if run is not None and run.task is not None:
            log.debug("request %d cancelled by the cell: %s", cancel.request_id, cancel.reason)
            run.task.cancel()

    def close_all(self) -> None:
        for run in self.running.values():
            if run.task is not None:
                run.task.cancel()
        self.running.clear()

    # ---- execution ----
    def _start(self, run: _Running) -> None:
        run.task = asyncio.get_running_loop().create_task(self._serve(run))

    def _reply_error(self, rid: int, err: TunnelError) -> None:
        self.send(pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(
            request_id=rid, status_code=err.status, end=True,
            headers=[pb.Header(name="content-type", value="application/json")],
            body=status_body(err.status, err.message, err.reason),
        )))

    async def _serve(self, run: _Running) -> None:
        m = run.req
        req = kube_request(m, bytes(run.body))
        route = "local" if req.cluster == self.cluster else "forward"
        kind = "upgrade" if req.upgrade else "stream" if req.streaming else "request"
        ACTIVE.labels(kind).inc()
        code = "error"
        try:
            stream = await self._open(req)
            code = str(stream.status)
            async with stream:
                if stream.sink is not None and run.incoming is not None:
                    await self._relay_upgraded(run, stream)
                else:
                    await self._relay(run, stream, req.streaming)
        except asyncio.CancelledError:
            code = "cancelled"
        except TunnelError as err:
            code = str(err.status)
            self._reply_error(m.request_id, err)
        except Exception as exc:  # never let one request take the stream down
            log.exception("request %d (%s %s) failed", m.request_id, req.method, req.path)
            self.send(pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(
                request_id=m.request_id, error=f"agent {self.cluster}: {exc}", end=True)))
        finally:
            ACTIVE.labels(kind).dec()
            SERVED.labels(route, code).inc()
            self.running.pop(m.request_id, None)

    async def _open(self, req: KubeRequest) -> ResponseStream:
        target = self.local if req.cluster == self.cluster else self.downstream
        if target is None:
            raise ClusterNotFound(f"cluster {req.cluster!r} not found below {self.cluster!r}")
        if req.streaming or not req.timeout:
            return await target.open(req)
        try:
            async with asyncio.timeout(req.timeout):
                return await target.open(req)
        except TimeoutError as exc:
            raise TunnelTimeout(f"cluster {req.cluster} did not answer within {req.timeout:g}s") from exc

    async def _relay_upgraded(self, run: _Running, stream: ResponseStream) -> None:
        """Both directions of an upgraded connection until the target closes it (or the cell
        cancels this request, which cancels this task and so closes the target connection)."""
        assert stream.sink is not None and run.incoming is not None
        sink, incoming, rid = stream.sink, run.incoming, run.req.request_id

        async def client_to_target() -> None:
            while (data := await incoming.get()) is not None:
                await sink.write(data)
                run.incoming_bytes -= len(data)
                self.send(pb.AgentMessage(upgrade_credit=pb.StreamCredit(request_id=rid, bytes=len(data))))
            await sink.end()

        pump = asyncio.get_running_loop().create_task(client_to_target())
        try:
            await self._relay(run, stream, True)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump

    async def _relay(self, run: _Running, stream: ResponseStream, streaming: bool) -> None:
        rid = run.req.request_id
        head = True

        async def emit(data: bytes, end: bool) -> None:
            nonlocal head
            while run.credit < len(data):  # per-request flow control
                run.credit_event.clear()
                await run.credit_event.wait()
            run.credit -= len(data)
            msg = pb.KubernetesResponse(request_id=rid, body=data, end=end)
            if head:
                msg.status_code = stream.status
                msg.headers.extend(pb.Header(name=k, value=v) for k, v in stream.headers)
                head = False
            self.send(pb.AgentMessage(kubernetes_response=msg))

        # Non-streaming responses hold one chunk back so the last chunk carries end=true
        # (a small object is then a single message); watches flush every chunk immediately.
        held: bytes | None = None
        if streaming:
            await emit(b"", False)  # headers before the first event, or watch clients hang
        try:
            async for chunk in stream:
                for offset in range(0, len(chunk), CHUNK):
                    piece = chunk[offset:offset + CHUNK]
                    if streaming:
                        await emit(piece, False)
                        continue
                    if held is not None:
                        await emit(held, False)
                    held = piece
        except TunnelError as err:
            if head:
                raise
            if held is not None:
                await emit(held, False)
            self.send(pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(
                request_id=rid, error=err.message, end=True)))
            return
        await emit(held or b"", True)

