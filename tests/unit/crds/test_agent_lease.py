"""crds.agent_lease: the agent and cell Leases' shape, written one way and read back the same."""

from crds import agent_lease as al


def test_agent_lease_round_trips_through_its_object() -> None:
    lease = al.AgentLease(cluster="prod", holder="mgmt", connected=True, lease_duration_seconds=91,
                          renew_time=1_700_000_123.25, acquire_time=1_700_000_000.5, transitions=2,
                          agent_version="0.1.0", kubernetes_version="v1.35.4", protocol_version=2, state="Ready")
    obj = lease.to_object()
    assert obj["apiVersion"] == "coordination.k8s.io/v1" and obj["kind"] == "Lease"
    assert obj["metadata"]["name"] == "lattice-agent-prod" and obj["metadata"]["namespace"] == "lattice-system"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "lattice",
                                         "app.kubernetes.io/component": "agent-lease", "lattice.dev/cluster": "prod"}
    assert obj["spec"] == {"holderIdentity": "mgmt", "leaseDurationSeconds": 91, "leaseTransitions": 2,
                           "acquireTime": "2023-11-14T22:13:20.500000Z", "renewTime": "2023-11-14T22:15:23.250000Z"}
    assert obj["metadata"]["annotations"] == {
        "lattice.dev/agent-connected": "true", "lattice.dev/agent-version": "0.1.0",
        "lattice.dev/kubernetes-version": "v1.35.4", "lattice.dev/protocol-version": "2",
        "lattice.dev/agent-state": "Ready"}
    assert al.from_object(obj) == lease


def test_connected_only_while_fresh() -> None:
    lease = al.AgentLease(cluster="a", holder="p", connected=True, lease_duration_seconds=90, renew_time=1000.0)
    assert lease.connected_at(1090.0)
    assert not lease.connected_at(1090.5)  # the cell stopped renewing: not believed any more
    gone = al.AgentLease(cluster="a", holder="p", connected=False, lease_duration_seconds=90, renew_time=1000.0,
                         disconnected_at=1010.0)
    assert not gone.connected_at(1001.0)
    assert gone.annotations()[al.DISCONNECTED_AT] == "1970-01-01T00:16:50.000000Z"
    assert al.from_object(gone.to_object()) == gone


def test_other_leases_are_not_agent_leases() -> None:
    assert al.from_object({"metadata": {"name": "kube-scheduler"}}) is None
    assert al.from_object({"metadata": {"name": "lattice-agent-x", "labels": {}}}) is None  # not labelled as one
    sparse = al.from_object({"metadata": {"name": "lattice-agent-x",
                                          "labels": {"app.kubernetes.io/component": "agent-lease"}}})
    assert sparse == al.AgentLease(cluster="x", holder="", connected=False, lease_duration_seconds=0)
    assert not sparse.connected_at(0.0)


def test_times_parse_both_kubernetes_forms() -> None:
    assert al.parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert al.parse_time("2023-11-14T22:13:20.500000Z") == 1_700_000_000.5
    assert al.parse_time("yesterday") is None and al.parse_time(None) is None


def test_cell_lease_names_its_cluster() -> None:
    lease = al.CellLease(cluster="mgmt", lease_duration_seconds=90, renew_time=1000.0, acquire_time=900.0,
                         version="0.1.0")
    obj = lease.to_object()
    assert obj["metadata"]["name"] == "lattice-cell" and obj["spec"]["holderIdentity"] == "mgmt"
    assert al.cell_from_object(obj) == lease
    assert al.cell_from_object({"metadata": {"name": "lattice-cell"}, "spec": {}}) is None
