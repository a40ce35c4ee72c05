"""lattice_cell.agent_leases: what the writer queues and how fast it may write (its writes against a
real kube-apiserver are in tests/integration/test_agent_leases.py)."""

from typing import Any

from lattice_cell.agent_leases import AgentLeases, TokenBucket
from lattice_cell.registry import AgentRegistry
from lattice_cell.session import AgentSession


def test_token_bucket_spends_its_burst_then_paces() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    assert [bucket.delay(), bucket.delay()] == [0.0, 0.0]
    assert bucket.delay() == 0.1  # the third write waits one token's time
    now[0] = 1.0
    assert bucket.delay() == 0.0  # refilled (capped at the burst)


def _writer() -> tuple[AgentRegistry, AgentLeases]:
    agents = AgentRegistry(heartbeat_interval=30)
    unused: Any = None  # observe() never touches the API; the dispatcher is not started here
    return agents, AgentLeases(unused, agents, "mgmt", writes_per_second=50)


async def test_transitions_queue_ahead_of_renewals_and_renewals_coalesce() -> None:
    agents, leases = _writer()
    for name in ("a", "b"):
        agents.attach(AgentSession(name))
    assert list(leases._urgent) == ["a", "b"] and not leases._renew
    # Written once (pretend): now heartbeats only renew, and many heartbeats are one pending write.
    for name in ("a", "b"):
        leases._exists.add(name)
        leases._urgent.pop(name)
        rec = agents.records[name]
        leases._written[name] = (rec.connected, rec.agent_version, rec.kubernetes_version, rec.state,
                                 rec.protocol_version)
    agents.heartbeat("a", "Unknown")
    agents.heartbeat("a", "Unknown")
    assert list(leases._renew) == ["a"] and not leases._urgent
    agents.heartbeat("b", "Ready")  # a new state is a transition
    assert list(leases._urgent) == ["b"]


async def test_lease_of_a_record() -> None:
    agents, leases = _writer()
    session = AgentSession("a")
    agents.attach(session)
    agents.ready("a", agent_version="0.1.0", kubernetes_version="v1.35.4", protocol_version=2,
                 api_server_endpoint="", state="Ready")
    lease = leases.lease_of(agents.records["a"])
    assert (lease.cluster, lease.holder, lease.connected, lease.agent_version, lease.protocol_version) == (
        "a", "mgmt", True, "0.1.0", 2)
    # 3 heartbeats, plus the time the bucket may need to renew every known agent once, plus 1 s.
    assert lease.lease_duration_seconds == 92
    agents.attach(AgentSession("a"))
    assert leases.lease_of(agents.records["a"]).transitions == 1
