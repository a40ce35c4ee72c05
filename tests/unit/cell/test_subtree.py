"""lattice_cell.subtree: every cluster below a cell, its next hop, and the deltas sent upward."""

from lattice_cell.route_claims import MAX_ROUTES_PER_CHILD, Refusal
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.subtree import ClusterInfo


async def test_full_state_replaces_and_delta_updates_routes_at_any_depth() -> None:
    reg = SubtreeRegistry("root")
    events = reg.subscribe()
    reg.set_agent_connected("mid", True)
    reg.apply("mid", [ClusterInfo("mid"), ClusterInfo("deep", "mid"), ClusterInfo("deeper", "deep")], full=True)
    assert {n: (r.via, r.info.parent) for n, r in reg.routes.items()} == {
        "mid": ("mid", "root"), "deep": ("mid", "mid"), "deeper": ("mid", "deep")}
    reg.apply("mid", [ClusterInfo("deeper", "deep", removed=True), ClusterInfo("new", "deep")], full=False)
    assert set(reg.routes) == {"mid", "deep", "new"}
    reg.apply("mid", [ClusterInfo("mid")], full=True)
    assert set(reg.routes) == {"mid"}
    changes = [c for _ in range(events.qsize()) for c in events.get_nowait()]
    assert any(c.name == "deeper" and c.removed for c in changes)


async def test_disconnect_keeps_routes_but_marks_them_unreachable() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("mid", True)
    reg.apply("mid", [ClusterInfo("mid"), ClusterInfo("leaf", "mid")], full=True)
    reg.set_agent_connected("mid", False)
    route = reg.lookup("leaf")
    assert route is not None and not reg.reachable(route)
    assert [c.connected for c in reg.snapshot()] == [False, False]


async def test_claims_on_self_or_siblings_are_refused_connected_or_not() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    reg.set_agent_connected("b", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("x", "a")], full=True)
    refused = reg.apply("b", [ClusterInfo("b"), ClusterInfo("x", "b"), ClusterInfo("root", "b")], full=True)
    assert sorted(refused) == [("root", Refusal.OWN_CELL), ("x", Refusal.OWNED_BY_SIBLING)]
    assert reg.lookup("x").via == "a"  # type: ignore[union-attr]
    # a going away does not free x (issue #13, finding 1) ...
    reg.set_agent_connected("a", False)
    assert reg.apply("b", [ClusterInfo("b"), ClusterInfo("x", "b")], full=True) == [("x", Refusal.OWNED_BY_SIBLING)]
    assert reg.lookup("x").via == "a"  # type: ignore[union-attr]
    # ... a withdrawing x does (it reconnects and x is no longer below it)
    reg.set_agent_connected("a", True)
    reg.apply("a", [ClusterInfo("a")], full=True)
    assert reg.apply("b", [ClusterInfo("b"), ClusterInfo("x", "b")], full=True) == []
    assert reg.lookup("x").via == "b"  # type: ignore[union-attr]


async def test_a_direct_child_owns_its_name_while_disconnected() -> None:
    reg = SubtreeRegistry("root")
    for name in ("a", "b"):
        reg.set_agent_connected(name, True)
    reg.set_agent_connected("b", False)
    assert reg.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True) == [("b", Refusal.DIRECT_CHILD)]
    assert reg.lookup("b").via == "b"  # type: ignore[union-attr]
    # an agent can neither withdraw another's route nor its own
    reg.apply("a", [ClusterInfo("b", removed=True), ClusterInfo("a", removed=True)], full=False)
    assert {n: r.via for n, r in reg.routes.items()} == {"a": "a", "b": "b"}


async def test_registered_children_own_their_names_before_they_ever_connect() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True)  # b unknown yet: accepted
    events = reg.subscribe()
    reg.register_children(["b", "c", "root"])  # e.g. after a cell restart: b's LatticeCluster is here
    assert reg.lookup("b") is None and reg.direct_children == {"a", "b", "c"}
    assert [(c.name, c.removed) for c in events.get_nowait()] == [("b", True)]
    assert reg.apply("a", [ClusterInfo("a"), ClusterInfo("c", "a")], full=True) == [("c", Refusal.DIRECT_CHILD)]
    reg.release("c")  # its LatticeCluster was deleted
    assert reg.apply("a", [ClusterInfo("a"), ClusterInfo("c", "a")], full=True) == []


async def test_a_connecting_child_takes_its_name_back() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True)
    reg.set_agent_connected("b", True)  # b's own certificate
    assert reg.lookup("b").via == "b"  # type: ignore[union-attr]
    assert reg.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True) == [("b", Refusal.DIRECT_CHILD)]


async def test_ancestors_are_never_routable_from_below() -> None:
    reg = SubtreeRegistry("mid")
    reg.set_agent_connected("leaf", True)
    reg.apply("leaf", [ClusterInfo("leaf"), ClusterInfo("root", "leaf")], full=True)
    reg.set_ancestors(["root"])  # the co-located agent reached the parent
    assert reg.lookup("root") is None
    assert reg.apply("leaf", [ClusterInfo("leaf"), ClusterInfo("root", "leaf"), ClusterInfo("mid", "leaf")],
                     full=True) == [("root", Refusal.ANCESTOR), ("mid", Refusal.OWN_CELL)]


async def test_release_frees_a_child_and_everything_routed_through_it() -> None:
    reg = SubtreeRegistry("root")
    reg.register_children(["a"])
    reg.set_agent_connected("a", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("g", "a")], full=True)
    reg.set_agent_connected("a", False)
    reg.release("a")
    assert reg.routes == {} and reg.direct_children == set()


async def test_names_must_be_cluster_names_and_a_child_routes_a_bounded_number() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    bad = ["../b", "B", "x" * 64, "", "a.b", "-a"]
    refused = reg.apply("a", [ClusterInfo("a"), *(ClusterInfo(n, "a") for n in bad)], full=True)
    assert refused == [(n, Refusal.INVALID_NAME) for n in bad]
    many = [ClusterInfo(f"c{i}", "a") for i in range(MAX_ROUTES_PER_CHILD + 5)]
    refused = reg.apply("a", [ClusterInfo("a"), *many], full=True)
    assert len(reg.routes) == MAX_ROUTES_PER_CHILD and {r for _, r in refused} == {Refusal.TOO_MANY}
