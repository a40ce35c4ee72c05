"""lattice_cell.registry: connected agents, their connectivity and sessions."""

import time

import pytest

from lattice_cell.registry import AgentRecord, AgentRegistry, Change, Connectivity
from lattice_cell.session import AgentSession
from lattice_tunnel.kube_request import AgentUnavailable


def test_agent_connectivity_states() -> None:
    now = time.time()
    rec = AgentRecord("a", connected=True, connected_at=now - 200, last_heartbeat=now - 10)
    assert rec.connectivity(now, 30) is Connectivity.CONNECTED
    rec.last_heartbeat = now - 100
    assert rec.connectivity(now, 30) is Connectivity.STALE
    rec.connected = False
    assert rec.connectivity(now, 30) is Connectivity.DISCONNECTED


async def test_a_new_session_replaces_the_old_one_and_detach_only_drops_the_current() -> None:
    agents = AgentRegistry(heartbeat_interval=30)
    first, second = AgentSession("a"), AgentSession("a")
    assert agents.attach(first) is None
    assert agents.attach(second) is first  # the newest stream wins; the caller closes the old one
    assert not agents.detach(first)  # a late detach of the replaced stream changes nothing
    assert agents.session("a") is second and agents.connectivity("a") is Connectivity.CONNECTED
    assert agents.detach(second)
    assert agents.session("a") is None and agents.connectivity("a") is Connectivity.DISCONNECTED


async def test_waiting_for_an_agent_times_out_as_unavailable() -> None:
    agents = AgentRegistry()
    with pytest.raises(AgentUnavailable):
        await agents.wait_session("nobody", timeout=0.05)



async def test_listeners_hear_every_change_in_order() -> None:
    agents = AgentRegistry(heartbeat_interval=30)
    heard: list[tuple[str, Change, bool]] = []
    agents.listeners.append(lambda rec, change: heard.append((rec.cluster, change, rec.connected)))
    session = AgentSession("a")
    agents.attach(session)
    agents.ready("a", agent_version="0.1.0", kubernetes_version="v1.35.4", protocol_version=2,
                 api_server_endpoint="https://a:6443", state="Ready")
    agents.heartbeat("a", "Ready")
    agents.detach(session)
    assert heard == [("a", Change.CONNECTED, True), ("a", Change.READY, True), ("a", Change.HEARTBEAT, True),
                     ("a", Change.DISCONNECTED, False)]
    rec = agents.records["a"]
    assert (rec.agent_version, rec.kubernetes_version, rec.protocol_version) == ("0.1.0", "v1.35.4", 2)
