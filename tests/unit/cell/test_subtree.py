"""lattice_cell.subtree: every cluster below a cell, its next hop, and the deltas sent upward."""

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


async def test_claims_on_self_or_connected_siblings_are_rejected() -> None:
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    reg.set_agent_connected("b", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("x", "a")], full=True)
    rejected = reg.apply("b", [ClusterInfo("b"), ClusterInfo("x", "b"), ClusterInfo("root", "b")], full=True)
    assert sorted(rejected) == ["root", "x"]
    assert reg.lookup("x").via == "a"  # type: ignore[union-attr]
    # Once a is gone, x may legitimately move under b.
    reg.set_agent_connected("a", False)
    assert reg.apply("b", [ClusterInfo("b"), ClusterInfo("x", "b")], full=True) == []
    assert reg.lookup("x").via == "b"  # type: ignore[union-attr]
