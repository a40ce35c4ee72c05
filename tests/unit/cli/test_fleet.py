"""cli.fleet: one picture of the fleet from what each context showed."""

from typing import Any

from cli.fleet import Connection, assemble, cluster_of, self_name
from cli.fleet_formats import hierarchy_tree
from cli.fleet_read import ContextView
from crds import agent_lease as al

NOW = 1_700_000_000.0


def lc(name: str, phase: str = "Ready", parent: bool = False, **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"providerRef": "p", "provider": {"kubernetes": {"version": "v1.32.0"},
                                                            "config": {"docker": {}}},
                            "nodes": {"controlPlane": 3, "workerPools": {"general": {"replicas": 2}}}}
    if parent:
        spec["parentConfig"] = {"service": {"type": "LoadBalancer"}}
    return {"metadata": {"name": name, "creationTimestamp": "2023-11-14T00:00:00Z"}, "spec": spec,
            "status": {"phase": phase, **status}}


def lease(child: str, holder: str, connected: bool = True, renewed: float = NOW - 5) -> al.AgentLease:
    return al.AgentLease(cluster=child, holder=holder, connected=connected, lease_duration_seconds=90,
                         renew_time=renewed, acquire_time=NOW - 100, agent_version="0.1.0",
                         kubernetes_version="v1.32.0", protocol_version=2, state="Ready")


def cell(name: str) -> al.CellLease:
    return al.CellLease(cluster=name, lease_duration_seconds=90, renew_time=NOW)


def view(context: str, clusters: list[dict[str, Any]], leases: list[al.AgentLease] = (),  # type: ignore[assignment]
         me: str | None = None, error: str | None = None) -> ContextView:
    return ContextView(context=context, server=f"https://{context}", clusters=tuple(clusters), leases=tuple(leases),
                       cell=cell(me) if me else None, error=error)


def test_columns_of_a_lattice_cluster() -> None:
    c = cluster_of(lc("prod", readyControlPlane=3, readyWorkers=1, provider="docker",
                      workerPools={"general": {"desiredReplicas": 2, "readyReplicas": 1}}), "ctx", "self")
    assert (c.phase, c.provider, c.kubernetes_version, c.control_plane_ready, c.control_plane_total,
            c.workers_ready, c.workers_total) == ("Ready", "docker", "1.32.0", 3, 3, 1, 2)
    bare = cluster_of({"metadata": {"name": "new"}, "spec": {"nodes": {"controlPlane": 1}}}, "ctx", "parent")
    assert (bare.phase, bare.provider, bare.workers_total, bare.control_plane_ready) == ("Unknown", "", None, None)


def test_self_is_named_by_the_cell_lease_else_guessed() -> None:
    assert self_name(view("a", [lc("mgmt", parent=True), lc("prod")], me="mgmt")) == "mgmt"
    assert self_name(view("b", [lc("edge")])) == "edge"  # a leaf holds only its own
    # several, and the one it holds an agent Lease for is a child: the one with parentConfig is itself
    assert self_name(view("c", [lc("mgmt", parent=True), lc("prod", parent=True)], [lease("prod", "")])) == "mgmt"
    assert self_name(view("d", [lc("x"), lc("y")])) is None


def test_three_levels_from_three_contexts() -> None:
    views = [
        view("mgmt-admin", [lc("mgmt", parent=True), lc("prod", "Pivoted", parent=True)], [lease("prod", "mgmt")],
             me="mgmt"),
        view("prod-admin", [lc("prod", parent=True), lc("us-east"), lc("us-west")],
             [lease("us-east", "prod"), lease("us-west", "prod", connected=False)], me="prod"),
        view("us-east-admin", [lc("us-east")]),
        view("broken", [], error="unreachable"),
    ]
    fleet = assemble(views, NOW)
    assert fleet.roots == ("mgmt",) and not fleet.warnings
    assert [(c.name, c.depth, c.parent) for c in fleet.ordered()] == [
        ("mgmt", 0, None), ("prod", 1, "mgmt"), ("us-east", 2, "prod"), ("us-west", 2, "prod")]
    prod = fleet.clusters["prod"]
    assert prod.phase == "Ready" and prod.source == "self" and prod.context == "prod-admin"  # its own record wins
    assert prod.children == ("us-east", "us-west") and prod.role == "parent"
    assert prod.agent is not None and prod.agent.connection == Connection.CONNECTED
    assert fleet.clusters["us-west"].agent.connection == Connection.DISCONNECTED  # type: ignore[union-attr]
    assert fleet.clusters["us-west"].source == "parent" and fleet.clusters["us-west"].role == "leaf"
    assert fleet.clusters["mgmt"].agent is None


def test_a_stale_lease_is_not_believed() -> None:
    fleet = assemble([view("m", [lc("m", parent=True), lc("c")], [lease("c", "m", renewed=NOW - 600)], me="m")], NOW)
    assert fleet.clusters["c"].agent.connection == Connection.UNKNOWN  # type: ignore[union-attr]


def test_clusters_known_only_by_lease_or_cell_are_shown() -> None:
    fleet = assemble([view("root", [], [lease("hand-made", "root")], me="root")], NOW)
    assert set(fleet.clusters) == {"root", "hand-made"}
    assert fleet.clusters["root"].phase == "Unknown" and fleet.clusters["root"].children == ("hand-made",)


def test_conflicting_parents_are_reported_and_loops_do_not_hang() -> None:
    views = [view("a", [lc("a", parent=True), lc("b", parent=True)], me="a"),
             view("b", [lc("b", parent=True), lc("a", parent=True)], me="b")]
    fleet = assemble(views, NOW)
    assert fleet.roots == ("a",) and fleet.clusters["b"].parent == "a" and fleet.clusters["a"].parent is None
    assert [c.depth for c in fleet.ordered()] == [0, 1]
    assert any("name each other as children" in w for w in fleet.warnings)
    assert hierarchy_tree(fleet).count("a  [Ready]") == 1


def test_a_context_that_cannot_tell_itself_still_lists_what_it_holds() -> None:
    fleet = assemble([view("x", [lc("p"), lc("q")])], NOW)
    assert set(fleet.roots) == {"p", "q"}
    assert "cannot tell which cluster it is" in fleet.warnings[0]
