"""lattice_cell.route_claims: the route-ownership rule as a truth table, and its counter."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from lattice_cell.route_claims import Refusal, judge
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.subtree import ClusterInfo


@pytest.mark.parametrize(("via", "name", "current", "expected"), [
    ("a", "a", None, None),  # its own name
    ("a", "a", "b", None),  # its own name, even when b announced it first
    ("a", "g", None, None),  # a new name below it
    ("a", "g", "a", None),  # a name it already routes
    ("a", "g", "b", Refusal.OWNED_BY_SIBLING),  # b routes it (connected or not)
    ("a", "b", None, Refusal.DIRECT_CHILD),  # b is a direct child
    ("a", "b", "b", Refusal.DIRECT_CHILD),
    ("a", "cell", None, Refusal.OWN_CELL),
    ("a", "up", None, Refusal.ANCESTOR),
    ("a", "Bad_Name", None, Refusal.INVALID_NAME),
    ("a", "x" * 64, None, Refusal.INVALID_NAME),
])
def test_rule(via: str, name: str, current: str | None, expected: Refusal | None) -> None:
    assert judge(via, name, cell="cell", ancestors=("root", "up"), direct_children={"a", "b"},
                 current_via=current, routes_of_via=1) is expected


def test_a_child_has_a_bounded_number_of_new_names() -> None:
    args = {"cell": "cell", "ancestors": (), "direct_children": {"a"}}
    assert judge("a", "g", current_via=None, routes_of_via=10_000, **args) is Refusal.TOO_MANY  # type: ignore[arg-type]
    assert judge("a", "g", current_via="a", routes_of_via=10_000, **args) is None  # type: ignore[arg-type]


def test_every_refusal_is_counted_by_reason() -> None:
    def count(reason: str) -> float:
        return REGISTRY.get_sample_value("lattice_cell_route_claims_refused_total", {"reason": reason}) or 0.0

    before = count("owned-by-sibling"), count("own-cell")
    reg = SubtreeRegistry("root")
    reg.set_agent_connected("a", True)
    reg.set_agent_connected("b", True)
    reg.apply("a", [ClusterInfo("a"), ClusterInfo("g", "a")], full=True)
    reg.apply("b", [ClusterInfo("b"), ClusterInfo("g", "b"), ClusterInfo("root", "b")], full=True)
    assert (count("owned-by-sibling"), count("own-cell")) == (before[0] + 1, before[1] + 1)
