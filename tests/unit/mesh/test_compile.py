"""The bilateral agreement: truth table, both sides' outputs, revocation, purity, symmetry."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crds
from crds.service import Direction, LatticeService, ResolvedDependency
from hooks.mesh.compile import MeshResult, resolve_mesh
from hooks.mesh.graph import peer_query
from tests.unit.mesh.support import (
    CLUSTER,
    context,
    dep,
    egress_peers,
    ext,
    ingress_peers,
    l7_callers,
    named,
    names_of,
    svc,
)

A_SHOP = ("shop", "a")
B_SHOP = ("shop", "b")
B_PAY = ("pay", "b")


def pair(a: LatticeService, b: LatticeService) -> tuple[MeshResult, MeshResult]:
    """Each side compiled with the other as its related object, as the hook would."""
    return resolve_mesh(context(a, [b])), resolve_mesh(context(b, [a]))


def has_edge(a: LatticeService, b: LatticeService) -> bool:
    """True when a -> b is agreed; asserts both sides and both layers say the same."""
    ra, rb = pair(a, b)
    a_key, b_key = (a.namespace, a.name), (b.namespace, b.name)
    views = {
        "caller L4 egress": b_key in egress_peers(ra.children),
        "callee L4 ingress": a_key in ingress_peers(rb.children),
        "callee L7": CLUSTER.principal(*a_key) in l7_callers(rb.children, b.name),
        "caller resolved": any(d.direction is Direction.OUTBOUND and (d.namespace, d.name) == b_key
                               for d in ra.resolved),
        "callee resolved": any(d.direction is Direction.INBOUND and (d.namespace, d.name) == a_key
                               for d in rb.resolved),
    }
    assert len(set(views.values())) == 1, views
    return next(iter(views.values()))


AGREED = [
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"a": dep("inbound")}), id="out-and-in"),
    pytest.param(svc("a", resources={"b": dep("both")}), svc("b", resources={"a": dep("inbound")}), id="both-and-in"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"a": dep("both")}), id="out-and-both"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"*": dep("inbound")}), id="wildcard-callee"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"any": dep("inbound", id="*")}),
                 id="wildcard-by-id"),
    pytest.param(svc("a", resources={"auth": dep(id="b")}), svc("b", resources={"caller": dep("inbound", id="a")}),
                 id="targets-by-id"),
    pytest.param(svc("a", resources={"b": dep(namespace="pay")}),
                 svc("b", "pay", resources={"a": dep("inbound", namespace="shop")}), id="cross-namespace"),
    pytest.param(svc("a", resources={"b": dep(namespace="pay")}), svc("b", "pay", resources={"*": dep("inbound")}),
                 id="cross-namespace-wildcard"),
    pytest.param(svc("a", resources={"b": dep(namespace="pay")}),
                 svc("b", "pay", resources={"*": dep("inbound", namespace="shop")}),
                 id="cross-namespace-wildcard-for-that-namespace"),
]

NOT_AGREED = [
    pytest.param(svc("a", resources={"b": dep()}), svc("b"), id="one-sided-outbound"),
    pytest.param(svc("a"), svc("b", resources={"a": dep("inbound")}), id="one-sided-inbound"),
    pytest.param(svc("a", resources={"b": dep("inbound")}), svc("b", resources={"a": dep("inbound")}),
                 id="both-only-inbound"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"a": dep()}), id="both-only-outbound"),
    pytest.param(svc("a"), svc("b", resources={"*": dep("inbound")}), id="wildcard-without-caller-declaration"),
    pytest.param(svc("a", resources={"b": dep(namespace="pay")}), svc("b", "pay", resources={"a": dep("inbound")}),
                 id="cross-namespace-callee-omits-namespace"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", "pay", resources={"a": dep("inbound", namespace="shop")}),
                 id="cross-namespace-caller-omits-namespace"),
    pytest.param(svc("a", resources={"b": dep(namespace="pay")}),
                 svc("b", "pay", resources={"*": dep("inbound", namespace="other")}),
                 id="wildcard-for-another-namespace"),
    pytest.param(svc("a", resources={"b": dep(type="external-service")}), svc("b", resources={"a": dep("inbound")}),
                 id="caller-declares-external-kind"),
    pytest.param(svc("a", resources={"b": dep()}), svc("b", resources={"a": dep("inbound", type="volume")}),
                 id="callee-declares-non-service"),
]


@pytest.mark.parametrize(("a", "b"), AGREED)
def test_agreed_pair_is_an_edge_on_both_sides(a: LatticeService, b: LatticeService) -> None:
    assert has_edge(a, b)


@pytest.mark.parametrize(("a", "b"), NOT_AGREED)
def test_one_sided_or_mismatched_declarations_give_no_rule_anywhere(a: LatticeService, b: LatticeService) -> None:
    assert not has_edge(a, b)
    _, rb = pair(a, b)
    assert names_of(rb.children, "AuthorizationPolicy") == []
    assert rb.resolved == [] or all(d.direction is Direction.OUTBOUND for d in rb.resolved)


def test_both_directions_on_both_sides_give_two_edges() -> None:
    a = svc("a", resources={"b": dep("both")})
    b = svc("b", resources={"a": dep("both")})
    assert has_edge(a, b) and has_edge(b, a)
    ra, _ = pair(a, b)
    assert ra.resolved == [
        ResolvedDependency(resource="b", kind="LatticeService", name="b", namespace="shop", direction=d)
        for d in (Direction.INBOUND, Direction.OUTBOUND)
    ]


@pytest.mark.parametrize("revoke", [
    pytest.param("caller", id="caller-drops-outbound"),
    pytest.param("callee", id="callee-drops-inbound"),
])
def test_revoking_either_side_removes_the_edge_from_both_outputs(revoke: str) -> None:
    a = svc("a", resources={"b": dep()})
    b = svc("b", resources={"a": dep("inbound")})
    assert has_edge(a, b)
    if revoke == "caller":
        a = svc("a")
    else:
        b = svc("b")
    assert not has_edge(a, b)
    ra, rb = pair(a, b)
    assert egress_peers(ra.children) == set() and ingress_peers(rb.children) == set()


def test_wildcard_callee_lists_exactly_its_declaring_callers() -> None:
    b = svc("b", resources={"*": dep("inbound")})
    callers = [svc("a", resources={"b": dep()}), svc("c", "pay", resources={"b": dep(namespace="shop")}),
               svc("d"), svc("e", resources={"b": dep("inbound")})]
    result = resolve_mesh(context(b, callers))
    assert ingress_peers(result.children) == {("shop", "a"), ("pay", "c")}
    assert l7_callers(result.children, "b") == [CLUSTER.principal("pay", "c"), CLUSTER.principal("shop", "a")]
    assert [(d.namespace, d.name, d.resource) for d in result.resolved] == [("pay", "c", "*"), ("shop", "a", "*")]


@pytest.mark.parametrize(("requesters", "ns", "edge"), [
    pytest.param(["a"], "shop", True, id="listed-requester"),
    pytest.param(["*"], "shop", True, id="any-requester"),
    pytest.param(["x", "y"], "shop", False, id="not-listed"),
    pytest.param([], "shop", False, id="no-requesters"),
    pytest.param(["*"], "pay", False, id="other-namespace-even-with-star"),
    pytest.param(["a"], "pay", False, id="other-namespace-same-name"),
])
def test_external_edges(requesters: list[str], ns: str, edge: bool) -> None:
    stripe = ext("stripe", ns, {"api": "https://api.stripe.com"}, requesters)
    a = svc("a", resources={"stripe": dep(type="external-service", namespace=ns)})
    result = resolve_mesh(context(a, [], [stripe]))
    fqdn = [r for r in named(result.children, "CiliumNetworkPolicy", "policy-a")["spec"]["egress"] if "toFQDNs" in r]
    policies = names_of(result.children, "AuthorizationPolicy")
    assert bool(fqdn) is edge
    assert (policies == ["allow-a-to-stripe"]) is edge
    assert bool(result.resolved) is edge
    assert bool(result.warnings) is (ns != "shop")


def test_missing_lists_only_outbound_service_and_external_declarations() -> None:
    a = svc("a", resources={
        "auth": dep(id="auth-service", namespace="payments"),
        "cache": dep(),
        "stripe": dep(type="external-service"),
        "web": dep("inbound"),
        "everyone": dep("inbound", id="*"),
    })
    result = resolve_mesh(context(a, [svc("cache", resources={"a": dep("inbound")})]))
    assert result.missing == ["LatticeExternalService shop/stripe", "LatticeService payments/auth-service"]


def test_a_services_output_depends_only_on_its_spec_and_its_peers() -> None:
    a = svc("a", resources={"b": dep(), "c": dep("inbound")})
    b = svc("b", resources={"a": dep("inbound")})
    c = svc("c", resources={"a": dep()})
    unrelated = [svc(f"x{i}", resources={"y": dep(), "*": dep("inbound")}) for i in range(5)]
    before = [crds.dump(o) for o in (a, b, c)]
    base = resolve_mesh(context(a, [b, c]))
    assert resolve_mesh(context(a, [c, b])) == base
    assert resolve_mesh(context(a, [b, c, *unrelated])) == base
    assert resolve_mesh(context(a, [b, c, a])) == base
    assert [crds.dump(o) for o in (a, b, c)] == before
    copied = copy.deepcopy(base.children)
    assert resolve_mesh(context(a, [b, c])).children == copied


def test_children_are_sorted_and_labelled() -> None:
    a = svc("a", resources={"b": dep(), "c": dep("inbound")})
    result = resolve_mesh(context(a, [svc("b", resources={"a": dep("inbound")}), svc("c", resources={"a": dep()})]))
    keys = [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in result.children]
    assert keys == sorted(keys)
    for o in result.children:
        assert o["metadata"]["namespace"] == "shop"
        assert o["metadata"]["labels"] == {"app.kubernetes.io/name": o["metadata"]["name"],
                                           "app.kubernetes.io/managed-by": "lattice"}


def test_peer_query_names_both_directions_and_wildcard_namespaces() -> None:
    a = svc("a", resources={
        "b": dep(), "c": dep("inbound", namespace="pay"), "stripe": dep(type="external-service"),
        "*": dep("inbound", namespace="ops"), "vol": {"type": "volume", "params": {"size": "1Gi"}},
    })
    q = peer_query(("shop", "a"), a)
    assert q.services == (("pay", "c"), ("shop", "b"))
    assert q.external_services == (("shop", "stripe"),)
    assert (q.wildcard_namespaces, q.all_namespaces) == (("ops",), False)
    anywhere = peer_query(("shop", "a"), svc("a", resources={"*": dep("inbound")}))
    assert (anywhere.wildcard_namespaces, anywhere.all_namespaces) == ((), True)


# --- random meshes -----------------------------------------------------------------------------

NAMESPACES = ("shop", "pay")
DIRECTIONS = (None, "outbound", "inbound", "both")


@st.composite
def meshes(draw: st.DrawFn) -> list[LatticeService]:
    keys = draw(st.lists(st.tuples(st.sampled_from(NAMESPACES), st.sampled_from("abcdef")),
                         min_size=2, max_size=6, unique=True))
    out = []
    for ns, name in keys:
        resources = {}
        for peer_ns, peer in keys:
            direction = draw(st.sampled_from(DIRECTIONS))
            if direction is None:
                continue
            extra = {"namespace": peer_ns} if peer_ns != ns or draw(st.booleans()) else {}
            if draw(st.integers(0, 9)) == 0:  # sometimes wrong: the namespace is left out
                extra = {}
            resources[f"{peer_ns}-{peer}"] = dep(direction, id=peer, **extra)
        if draw(st.integers(0, 4)) == 0:
            wild_ns = draw(st.sampled_from((None, *NAMESPACES)))
            resources["*"] = dep("inbound", **({"namespace": wild_ns} if wild_ns else {}))
        out.append(svc(name, ns, resources))
    return out


def customize_related(me: LatticeService, mesh: list[LatticeService]) -> list[LatticeService]:
    """What the customize hook would deliver: the named services plus the wildcard namespaces."""
    q = peer_query((me.namespace, me.name), me)
    return [s for s in mesh if (s.namespace, s.name) in q.services or q.all_namespaces
            or s.namespace in q.wildcard_namespaces]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meshes())
def test_random_meshes_are_symmetric(mesh: list[LatticeService]) -> None:
    out = {(s.namespace, s.name): resolve_mesh(context(s, customize_related(s, mesh))) for s in mesh}
    everything = {(s.namespace, s.name): resolve_mesh(context(s, mesh)) for s in mesh}
    for key, result in out.items():
        assert result.children == everything[key].children, "the related set of the customize hook suffices"
    for a in out:
        for b in out:
            egress = b in egress_peers(out[a].children)
            ingress = a in ingress_peers(out[b].children)
            assert egress == ingress, (a, b)
            allowed = CLUSTER.principal(*a) in l7_callers(out[b].children, b[1])
            assert allowed == ingress, (a, b)
