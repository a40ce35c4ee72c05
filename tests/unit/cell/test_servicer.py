"""lattice_cell.servicer: what an agent's messages do at the cell, and what they may not claim
(one stream's messages handled by hand; the gRPC streams themselves are exercised in
tests/unit/test_tunnel_protocol.py)."""

from __future__ import annotations

import pytest

from lattice_cell.registry import AgentRegistry
from lattice_cell.servicer import CellServicer, IdentityViolation
from lattice_cell.session import AgentSession
from lattice_cell.subtree import SubtreeRegistry
from lattice_proto import agent_pb2 as pb
from lattice_tunnel import pki

BUNDLE = pki.CaBundle(pki.generate_ca())


def servicer() -> tuple[CellServicer, AgentSession]:
    agents, subtree = AgentRegistry(), SubtreeRegistry("root")
    cell = CellServicer("root", agents, subtree, lambda: BUNDLE, window=1024)
    session = AgentSession("a")
    agents.attach(session)
    subtree.set_agent_connected("a", True)
    return cell, session


async def test_ready_and_heartbeat_update_the_record() -> None:
    cell, session = servicer()
    cell._handle(session, pb.AgentMessage(cluster_name="a", ready=pb.AgentReady(
        agent_version="0.1.0", kubernetes_version="v1.35.4", protocol_version=2, state=pb.AGENT_STATE_READY)))
    record = cell.agents.records["a"]
    assert (record.agent_version, record.kubernetes_version, record.state) == ("0.1.0", "v1.35.4", "Ready")
    assert session.peer_protocol == 2


async def test_a_subtree_is_learnt_from_the_agent() -> None:
    cell, session = servicer()
    clusters = [pb.SubtreeCluster(name="a", connected=True), pb.SubtreeCluster(name="b", parent="a", connected=True)]
    cell._handle(session, pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=clusters)))
    assert cell.subtree.lookup("b") is not None and cell.subtree.lookup("b").via == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize("message", [
    pb.AgentMessage(cluster_name="other", heartbeat=pb.Heartbeat()),
    pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[pb.SubtreeCluster(name="b")])),
    pb.AgentMessage(subtree_state=pb.SubtreeState(clusters=[pb.SubtreeCluster(name="a", removed=True)])),
])
async def test_an_agent_speaks_only_for_its_own_cluster(message: pb.AgentMessage) -> None:
    cell, session = servicer()
    with pytest.raises(IdentityViolation):
        cell._handle(session, message)


async def test_a_renewal_is_signed_for_the_streams_cluster_whatever_the_csr_says() -> None:
    cell, session = servicer()
    csr, _ = pki.generate_agent_csr("a")
    cell._handle(session, pb.AgentMessage(certificate_renewal=pb.CertificateRenewal(csr_pem=csr)))
    issued = (await session.outbound.get()).certificate_issued  # type: ignore[union-attr]
    assert pki.cluster_from_certificate(issued.certificate_pem) == "a"
    forged, _ = pki.generate_agent_csr("b")  # asks for another identity: gains nothing
    cell._handle(session, pb.AgentMessage(certificate_renewal=pb.CertificateRenewal(csr_pem=forged)))
    issued = (await session.outbound.get()).certificate_issued  # type: ignore[union-attr]
    assert pki.cluster_from_certificate(issued.certificate_pem) == "a"
    cell._handle(session, pb.AgentMessage(certificate_renewal=pb.CertificateRenewal(csr_pem=b"not a CSR")))
    assert "malformed CSR" in (await session.outbound.get()).certificate_issued.error  # type: ignore[union-attr]
