"""lattice_cell.child_registrations: registered children own their names from the first poll, a
registration that disappears is released, an unreadable list releases nobody (the LatticeCluster
list against a real API server is in tests/integration/test_tunnel_abuse.py)."""

from __future__ import annotations

from lattice_cell.bootstrap_tokens import MemoryTokenStore, issue_token
from lattice_cell.child_registrations import ChildRegistrations
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.subtree import ClusterInfo


class BrokenStore(MemoryTokenStore):
    async def clusters(self) -> set[str]:
        raise OSError("apiserver unreachable")


async def test_polls_register_and_release() -> None:
    store, subtree = MemoryTokenStore(), SubtreeRegistry("root")
    registrations = ChildRegistrations(subtree, store)
    await issue_token(store, "a")
    await issue_token(store, "b")
    await registrations.poll()
    assert subtree.direct_children == {"a", "b"}
    subtree.set_agent_connected("a", True)
    assert subtree.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True)  # refused: b is registered
    del store.records["b"]  # its registration is deleted
    await registrations.poll()
    assert subtree.direct_children == {"a"}
    assert subtree.apply("a", [ClusterInfo("a"), ClusterInfo("b", "a")], full=True) == []


async def test_an_unreadable_list_releases_nobody() -> None:
    store, subtree = BrokenStore(), SubtreeRegistry("root")
    registrations = ChildRegistrations(subtree, store)
    subtree.register_children(["a"])
    registrations.known = {"a"}
    await registrations.poll()
    assert subtree.direct_children == {"a"} and registrations.known == {"a"}
