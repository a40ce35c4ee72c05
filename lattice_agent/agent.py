"""The agent: one outbound mTLS gRPC stream to the parent cell, kept alive forever.

Connects with exponential backoff and full jitter (so 2,000 agents do not reconnect in step),
sends AgentReady then its full subtree, heartbeats every 30 s, reports subtree deltas, serves
tunnelled requests, and notices a silently dropped connection through HTTP/2 keepalive pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

import attrs
import grpc
from prometheus_client import Counter, Gauge

from lattice_agent.pivot import SelfManagement
from lattice_agent.request_handler import RequestHandler
from lattice_proto import agent_pb2 as pb
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki
from lattice_tunnel.kube_request import Forwarder
from lattice_tunnel.stream_batch import BATCH_MIN_VERSION, PROTOCOL_VERSION, write_batched
from lattice_tunnel.subtree import ClusterInfo, SubtreeSource, to_proto

log = logging.getLogger(__name__)

AGENT_VERSION = "0.1.0"

CONNECTED = Gauge("lattice_agent_connected", "1 while the agent holds a stream to its parent cell")
CONNECTS = Counter("lattice_agent_connects_total", "Successful stream setups (first one included)")
FAILURES = Counter("lattice_agent_connect_failures_total", "Failed or broken streams")


@attrs.define
class AgentConfig:
    cluster: str
    grpc_endpoint: str  # host:port of the parent cell
    ca_pem: bytes  # trust bundle for the cell's server certificate
    cert_pem: bytes
    key_pem: bytes
    server_name: str = ""  # TLS name override; default: the endpoint host
    heartbeat_interval: float = 30.0
    keepalive_time: float = 30.0  # HTTP/2 ping when idle ...
    keepalive_timeout: float = 20.0  # ... and give up if no ack arrives within this
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    connect_timeout: float = 10.0
    kubernetes_version: str = ""
    api_server_endpoint: str = ""


class Agent:
    def __init__(self, config: AgentConfig, local: Forwarder | None = None,
                 downstream: Forwarder | None = None, subtree: SubtreeSource | None = None,
                 on_credentials: Callable[[bytes, bytes, bytes], Awaitable[None]] | None = None,
                 self_management: SelfManagement | None = None) -> None:
        self.config = config
        self.self_management = self_management
        self.local = local
        self.downstream = downstream
        self.subtree = subtree
        self.on_credentials = on_credentials
        self.started = time.monotonic()
        self.state = pb.AGENT_STATE_READY
        self.connected = asyncio.Event()
        self.parent_cluster = ""
        self.cell_protocol = 1
        self.connections = 0
        self._stop = asyncio.Event()
        self._pending_key: bytes | None = None

    # ---- lifecycle ----
    async def run(self) -> None:
        delay = self.config.backoff_initial
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                FAILURES.inc()
                log.warning("agent %s: stream to %s ended: %s", self.config.cluster, self.config.grpc_endpoint,
                            _describe(exc))
            finally:
                self.connected.clear()
                CONNECTED.set(0)
            if self._stop.is_set():
                break
            if time.monotonic() - began > 60:  # a long healthy stream resets the backoff
                delay = self.config.backoff_initial
            sleep = random.uniform(0, delay)  # full jitter
            delay = min(delay * 2, self.config.backoff_max)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), sleep)

    def stop(self) -> None:
        self._stop.set()

    def _channel(self) -> grpc.aio.Channel:
        c = self.config
        creds = grpc.ssl_channel_credentials(c.ca_pem, c.key_pem, c.cert_pem)
        options: list[tuple[str, object]] = [
            ("grpc.keepalive_time_ms", int(c.keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int(c.keepalive_timeout * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            # Without these, core rate-limits pings on a quiet stream to one per 5 min and a
            # half-open connection goes unnoticed far longer than keepalive_time + timeout.
            ("grpc.http2.min_time_between_pings_ms", int(c.keepalive_time * 1000)),
            ("grpc.http2.min_ping_interval_without_data_ms", int(c.keepalive_time * 1000)),
            ("grpc.http2.ping_timeout_ms", int(c.keepalive_timeout * 1000)),  # else 60 s in recent cores
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
            ("grpc.use_local_subchannel_pool", 1),  # one TCP connection per agent, even in one process
            ("grpc.initial_reconnect_backoff_ms", 1000),
        ]
        if c.server_name:
            options.append(("grpc.ssl_target_name_override", c.server_name))
        return grpc.aio.secure_channel(c.grpc_endpoint, creds, options=options)

    # ---- one stream ----
    async def _connect_once(self) -> None:
        outbound: asyncio.Queue[pb.AgentMessage | None] = asyncio.Queue()
        self.cell_protocol = 1  # no batches until this cell's Welcome says it understands them
        handler = RequestHandler(self.config.cluster, outbound.put_nowait, self.local, self.downstream)

        async def writer(call: grpc.aio.StreamStreamCall) -> None:
            await write_batched(outbound, call.write, _message_batch,
                                lambda: self.cell_protocol >= BATCH_MIN_VERSION, "agent",
                                lambda: len(handler.running) > 1)

        async with self._channel() as channel:
            await asyncio.wait_for(channel.channel_ready(), self.config.connect_timeout)
            stub = agent_pb2_grpc.LatticeAgentStub(channel)  # type: ignore[no-untyped-call]
            call = stub.Connect()
            tasks: list[asyncio.Task[None]] = [asyncio.create_task(writer(call))]
            subscription = self.subtree.subscribe() if self.subtree else None
            try:
                first = await asyncio.wait_for(call.read(), self.config.connect_timeout)
                if first is grpc.aio.EOF or first.WhichOneof("command") != "welcome":
                    raise ConnectionError("cell did not start the stream with Welcome")
                await self._welcome(first.welcome)
                if self.self_management is not None:
                    await self.self_management.refresh()
                    self.self_management.on_pivoted = lambda: outbound.put_nowait(pb.AgentMessage(
                        subtree_state=pb.SubtreeState(full=False, clusters=[self._self_entry()])))
                outbound.put_nowait(self._ready())
                outbound.put_nowait(pb.AgentMessage(subtree_state=self._full_subtree()))
                self.connections += 1
                CONNECTS.inc()
                CONNECTED.set(1)
                self.connected.set()
                log.info("agent %s connected to cell %s at %s", self.config.cluster, self.parent_cluster,
                         self.config.grpc_endpoint)
                tasks.append(asyncio.create_task(self._heartbeats(outbound, handler)))
                if subscription is not None:
                    tasks.append(asyncio.create_task(self._deltas(outbound, subscription)))
                if self.self_management is not None:
                    tasks.append(asyncio.create_task(self.self_management.watch_deletion(outbound.put_nowait)))
                if self.on_credentials and pki.renewal_due(self.config.cert_pem):
                    outbound.put_nowait(self._renewal_request())
                while True:
                    cmd = await call.read()
                    if cmd is grpc.aio.EOF:
                        raise ConnectionError("cell closed the stream")
                    await self._dispatch(cmd, handler, outbound)
            finally:
                outbound.put_nowait(None)
                handler.close_all()
                for task in tasks:
                    task.cancel()
                if subscription is not None and self.subtree is not None:
                    self.subtree.unsubscribe(subscription)
                call.cancel()

    async def _welcome(self, welcome: pb.Welcome) -> None:
        self.parent_cluster = welcome.cell_cluster
        self.cell_protocol = welcome.protocol_version
        if welcome.agent_cluster != self.config.cluster:
            raise ConnectionError(f"cell sees this agent as {welcome.agent_cluster!r}, "
                                  f"configured as {self.config.cluster!r}")
        if self.subtree is not None:  # before the full state goes up: nothing below may claim these
            self.subtree.set_ancestors([*welcome.ancestors, welcome.cell_cluster])
        if welcome.ca_bundle_pem and welcome.ca_bundle_pem != self.config.ca_pem:
            # The cell pre-announces a rotated CA; keep it for the next connection.
            self.config.ca_pem = welcome.ca_bundle_pem
            if self.on_credentials:
                await self.on_credentials(self.config.cert_pem, self.config.key_pem, welcome.ca_bundle_pem)

    def _ready(self) -> pb.AgentMessage:
        return pb.AgentMessage(cluster_name=self.config.cluster, ready=pb.AgentReady(
            agent_version=AGENT_VERSION, kubernetes_version=self.config.kubernetes_version,
            state=self.state, api_server_endpoint=self.config.api_server_endpoint,
            protocol_version=PROTOCOL_VERSION,
        ))

    def _self_entry(self) -> pb.SubtreeCluster:
        return pb.SubtreeCluster(name=self.config.cluster, parent=self.parent_cluster,
                                 phase=pb.AgentState.Name(self.state).removeprefix("AGENT_STATE_").title(),
                                 connected=True,
                                 pivoted=self.self_management is not None and self.self_management.pivoted)

    def _full_subtree(self) -> pb.SubtreeState:
        entries = [self._self_entry()]
        if self.subtree is not None:
            entries.extend(to_proto(e) for e in self.subtree.snapshot())
        return pb.SubtreeState(full=True, clusters=entries)

    async def _heartbeats(self, outbound: asyncio.Queue[pb.AgentMessage | None], handler: RequestHandler) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            outbound.put_nowait(pb.AgentMessage(heartbeat=pb.Heartbeat(
                state=self.state, unix_millis=int(time.time() * 1000),
                uptime_seconds=int(time.monotonic() - self.started), active_requests=len(handler.running),
            )))

    async def _deltas(self, outbound: asyncio.Queue[pb.AgentMessage | None],
                      subscription: asyncio.Queue[list[ClusterInfo]]) -> None:
        while True:
            changes = await subscription.get()
            outbound.put_nowait(pb.AgentMessage(subtree_state=pb.SubtreeState(
                full=False, clusters=[to_proto(c) for c in changes])))

    def _renewal_request(self) -> pb.AgentMessage:
        csr, key = pki.generate_agent_csr(self.config.cluster)
        self._pending_key = key
        return pb.AgentMessage(certificate_renewal=pb.CertificateRenewal(csr_pem=csr))

    async def _dispatch(self, cmd: pb.CellCommand, handler: RequestHandler,
                        outbound: asyncio.Queue[pb.AgentMessage | None]) -> None:
        kind = cmd.WhichOneof("command")
        if self.self_management is not None and self.self_management.handle(cmd, outbound.put_nowait,
                                                                             self.parent_cluster):
            return
        if kind == "batch":
            for inner in cmd.batch.commands:
                if inner.WhichOneof("command") != "batch":  # never nested; ignore if it is
                    await self._dispatch(inner, handler, outbound)
        elif kind == "kubernetes_request":
            handler.on_request(cmd.kubernetes_request)
        elif kind == "credit":
            handler.on_credit(cmd.credit)
        elif kind == "request_body":
            handler.on_body(cmd.request_body)
        elif kind == "cancel":
            handler.on_cancel(cmd.cancel)
        elif kind == "upgrade_data":
            handler.on_upgrade_data(cmd.upgrade_data)
        elif kind == "certificate_issued":
            issued = cmd.certificate_issued
            if issued.error or self._pending_key is None:
                log.warning("certificate renewal refused: %s", issued.error or "no request pending")
            else:
                self.config.cert_pem, self.config.key_pem = issued.certificate_pem, self._pending_key
                self.config.ca_pem = issued.ca_bundle_pem or self.config.ca_pem
                if self.on_credentials:
                    await self.on_credentials(self.config.cert_pem, self.config.key_pem, self.config.ca_pem)
                log.info("agent %s renewed its client certificate", self.config.cluster)
        elif kind in ("move_batch", "move_complete"):
            # An agent without access to its own API server cannot import; refuse at once.
            err = "this agent cannot import a pivot (it runs without a Kubernetes API client)"
            if kind == "move_batch":
                outbound.put_nowait(pb.AgentMessage(move_ack=pb.MoveObjectAck(
                    request_id=cmd.command_id, errors=[pb.MoveObjectError(message=err)])))
            else:
                outbound.put_nowait(pb.AgentMessage(move_complete_ack=pb.MoveCompleteAck(
                    request_id=cmd.command_id, success=False, error=err)))
        elif kind == "exec_request":
            outbound.put_nowait(pb.AgentMessage(exec_data=pb.ExecData(
                request_id=cmd.exec_request.request_id, stream_id=3, stream_end=True,
                data=b"exec through the tunnel is not implemented yet")))


def _message_batch(messages: list[pb.AgentMessage]) -> pb.AgentMessage:
    return pb.AgentMessage(batch=pb.AgentMessageBatch(messages=messages))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
