"""The cell's gRPC endpoint: one bidirectional stream per agent, identity from its certificate.

The cluster a stream speaks for comes from the client certificate (`x509_pem_cert` in the auth
context), never from message fields; any message naming another cluster closes the stream with
PERMISSION_DENIED. The servicer only translates messages and calls registry/subtree/session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import grpc
from prometheus_client import Counter, Gauge

from lattice_cell.registry import AgentRegistry
from lattice_cell.session import AgentSession
from lattice_cell.subtree import SubtreeRegistry
from lattice_proto import agent_pb2 as pb
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki
from lattice_tunnel.stream_batch import BATCH_MIN_VERSION, PROTOCOL_VERSION, write_batched
from lattice_tunnel.subtree import from_proto

log = logging.getLogger(__name__)

STATE_NAMES = {v: k.removeprefix("AGENT_STATE_").title() for k, v in pb.AgentState.items()}

AGENTS_CONNECTED = Gauge("lattice_cell_agents_connected", "Agents holding a stream to this cell")
STREAMS_TOTAL = Counter("lattice_cell_agent_streams_total", "Agent streams accepted")
REJECTED_TOTAL = Counter("lattice_cell_agent_rejections_total", "Agent streams closed for identity violations",
                         ["reason"])


class IdentityViolation(Exception):
    pass


def _command_batch(commands: list[pb.CellCommand]) -> pb.CellCommand:
    return pb.CellCommand(batch=pb.CellCommandBatch(commands=commands))


def stream_identity(context: grpc.aio.ServicerContext) -> str:
    """The agent's cluster, from the verified client certificate of this stream."""
    auth = context.auth_context()
    pems = auth.get("x509_pem_cert") or []
    if not pems:
        raise pki.IdentityError("no client certificate on this stream")
    return pki.cluster_from_certificate(pems[0])


DeletingHook = Callable[[str, pb.ClusterDeleting], Awaitable[None]]


class CellServicer(agent_pb2_grpc.LatticeAgentServicer):
    def __init__(self, cell_name: str, agents: AgentRegistry, subtree: SubtreeRegistry,
                 ca: Callable[[], pki.CaBundle], window: int,
                 on_cluster_deleting: DeletingHook | None = None) -> None:
        self.cell_name = cell_name
        self.agents = agents
        self.subtree = subtree
        self.ca = ca
        self.window = window
        self.on_cluster_deleting = on_cluster_deleting
        self._background: set[asyncio.Future[None]] = set()

    async def Connect(self, request_iterator: object, context: grpc.aio.ServicerContext) -> None:
        try:
            cluster = stream_identity(context)
        except pki.IdentityError as exc:
            REJECTED_TOTAL.labels("bad-certificate").inc()
            log.warning("rejected agent stream from %s: %s", context.peer(), exc)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"not an agent identity: {exc}")
            return
        session = AgentSession(cluster, self.window)
        displaced = self.agents.attach(session)
        if displaced is not None:
            displaced.close("replaced by a newer stream from the same agent")
        self.subtree.set_agent_connected(cluster, True)
        STREAMS_TOTAL.inc()
        AGENTS_CONNECTED.set(self.agents.connected_count)
        log.info("agent %s connected from %s", cluster, context.peer())
        session.send(pb.CellCommand(welcome=pb.Welcome(
            cell_cluster=self.cell_name, agent_cluster=cluster, protocol_version=PROTOCOL_VERSION,
            ca_bundle_pem=self.ca().trust_pem(), heartbeat_interval_seconds=int(self.agents.heartbeat_interval),
            ancestors=list(self.subtree.ancestors),
        )))
        reader = asyncio.create_task(self._read(session, context))
        violation = ""
        try:
            await write_batched(session.outbound, context.write, _command_batch,
                                lambda: session.peer_protocol >= BATCH_MIN_VERSION, "cell",
                                lambda: session.in_flight > 1)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            violation = session.close_reason if session.close_reason.startswith("identity:") else ""
            session.close(session.close_reason or "stream ended")
            if self.agents.detach(session):
                self.subtree.set_agent_connected(cluster, False)
            AGENTS_CONNECTED.set(self.agents.connected_count)
            log.info("agent %s disconnected: %s", cluster, session.close_reason)
        if violation:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, violation.removeprefix("identity: "))

    async def _read(self, session: AgentSession, context: grpc.aio.ServicerContext) -> None:
        reason = "agent closed the stream"
        try:
            while (msg := await context.read()) is not grpc.aio.EOF:
                assert isinstance(msg, pb.AgentMessage)
                self._handle(session, msg)
        except IdentityViolation as exc:
            REJECTED_TOTAL.labels("forged-cluster").inc()
            log.warning("agent %s: %s; closing stream", session.cluster, exc)
            reason = f"identity: {exc}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken stream; the agent reconnects
            reason = f"read failed: {exc}"
        session.close(reason)

    def _check(self, session: AgentSession, named: str, what: str) -> None:
        if named and named != session.cluster:
            raise IdentityViolation(
                f"{what} names cluster {named!r} but the client certificate is for {session.cluster!r}"
            )

    def _handle(self, session: AgentSession, msg: pb.AgentMessage) -> None:
        cluster = session.cluster
        self._check(session, msg.cluster_name, "message")
        kind = msg.WhichOneof("payload")
        if kind == "batch":
            for inner in msg.batch.messages:
                if inner.WhichOneof("payload") != "batch":  # never nested; ignore if it is
                    self._handle(session, inner)
        elif kind == "kubernetes_response":
            session.on_response(msg.kubernetes_response)
        elif kind == "upgrade_credit":
            session.on_upgrade_credit(msg.upgrade_credit)
        elif kind == "heartbeat":
            self.agents.heartbeat(cluster, STATE_NAMES.get(msg.heartbeat.state, "Unknown"))
        elif kind == "ready":
            r = msg.ready
            self.agents.ready(cluster, agent_version=r.agent_version, kubernetes_version=r.kubernetes_version,
                              protocol_version=r.protocol_version, api_server_endpoint=r.api_server_endpoint,
                              state=STATE_NAMES.get(r.state, "Unknown"))
            session.peer_protocol = r.protocol_version
        elif kind == "bootstrap_complete":
            self._check(session, msg.bootstrap_complete.cluster_name, "BootstrapComplete")
            self.agents.record(cluster).capi_ready = msg.bootstrap_complete.capi_ready
        elif kind == "subtree_state":
            self._subtree(session, msg.subtree_state)
        elif kind == "cluster_deleting":
            self._check(session, msg.cluster_deleting.cluster_name, "ClusterDeleting")
            if self.on_cluster_deleting is not None:
                task = asyncio.ensure_future(self.on_cluster_deleting(cluster, msg.cluster_deleting))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        elif kind == "move_ack":
            session.resolve_call(msg.move_ack.request_id, msg)
        elif kind == "move_complete_ack":
            session.resolve_call(msg.move_complete_ack.request_id, msg)
        elif kind == "certificate_renewal":
            self._renew(session, msg.certificate_renewal.csr_pem)
        elif kind == "exec_data":
            pass  # exec sessions arrive with the auth proxy; nothing is waiting yet

    def _subtree(self, session: AgentSession, state: pb.SubtreeState) -> None:
        infos = [from_proto(c) for c in state.clusters]
        if state.full and not any(i.name == session.cluster for i in infos):
            raise IdentityViolation(f"full subtree state does not contain the agent's own cluster {session.cluster!r}")
        own = [i for i in infos if i.name == session.cluster]
        if any(i.removed for i in own):
            raise IdentityViolation("an agent cannot remove its own cluster from the subtree")
        self.subtree.apply(session.cluster, infos, state.full)  # refusals are logged and counted there

    def _renew(self, session: AgentSession, csr_pem: bytes) -> None:
        try:
            cert = pki.sign_agent_csr(self.ca(), csr_pem, session.cluster)
            reply = pb.CertificateIssued(certificate_pem=cert, ca_bundle_pem=self.ca().trust_pem())
        except pki.PkiError as exc:
            reply = pb.CertificateIssued(error=str(exc))
        session.send(pb.CellCommand(certificate_issued=reply))
