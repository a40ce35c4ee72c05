"""One-sided declarations: which declarations an existing peer has not matched, and the YAML the
peer must add (``hooks.mesh.graph.one_sided``)."""

from __future__ import annotations

import pytest
import yaml

from crds.external_service import LatticeExternalService
from crds.service import Direction, LatticeService
from hooks.mesh.graph import KIND_EXTERNAL, KIND_SERVICE, OneSided, one_sided, resolve
from tests.unit.mesh.support import dep, ext, readme_context, svc


def findings(me: LatticeService, *peers: LatticeService,
             externals: tuple[LatticeExternalService, ...] = ()) -> list[OneSided]:
    services = {(p.namespace or "", p.name): p for p in peers}
    exts = {(e.namespace or "", e.name): e for e in externals}
    return one_sided((me.namespace or "", me.name), me, services, exts)


def test_agreed_pair_has_no_finding_on_either_side() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b", resources={"a": dep("inbound")})
    assert findings(a, b) == [] and findings(b, a) == []


def test_caller_alone_is_one_sided_and_names_the_callees_yaml() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b")
    [f] = findings(a, b)
    assert (f.declarer, f.resource, f.direction, f.peer_kind, f.peer, f.peer_exists) == (
        ("shop", "a"), "b", Direction.OUTBOUND, KIND_SERVICE, ("shop", "b"), True)
    assert f.missing == "shop/b does not accept shop/a (it declares no inbound resource for it)"
    assert yaml.safe_load(f.fix) == {"resources": {"a": {"type": "service", "direction": "inbound"}}}
    assert findings(b, a) == []  # b never names a: nothing to report on its side


def test_callee_alone_is_one_sided_and_names_the_callers_yaml() -> None:
    a = svc("a")
    b = svc("b", resources={"a": dep("inbound")})
    [f] = findings(b, a)
    assert (f.direction, f.peer, f.peer_exists) == (Direction.INBOUND, ("shop", "a"), True)
    assert f.missing == "shop/a does not call shop/b (it declares no outbound resource for it)"
    assert yaml.safe_load(f.fix) == {"resources": {"b": {"type": "service", "direction": "outbound"}}}


def test_accepted_caller_that_does_not_exist() -> None:
    [f] = findings(svc("b", resources={"a": dep("inbound")}))
    assert (f.direction, f.peer_exists, f.missing) == (
        Direction.INBOUND, False, "no LatticeService shop/a exists to call it")
    assert yaml.safe_load(f.fix) == {"resources": {"b": {"type": "service", "direction": "outbound"}}}


def test_outbound_to_a_missing_callee_is_missing_not_one_sided() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    assert findings(a) == []
    assert resolve(("shop", "a"), a, {}, {}).missing == ["LatticeService shop/b"]


def test_cross_namespace_fix_names_the_namespace() -> None:
    # checkout (shop) calls pay/ledger; ledger accepts "checkout" but without namespace: pay/checkout.
    checkout = svc("checkout", "shop", {"ledger": dep("outbound", namespace="pay")})
    ledger = svc("ledger", "pay", {"checkout": dep("inbound")})
    [f] = findings(checkout, ledger)
    assert f.missing == "pay/ledger does not accept shop/checkout (it declares no inbound resource for it)"
    # ledger already has a resource "checkout" (pointing at pay/checkout): the fix takes another key.
    assert yaml.safe_load(f.fix) == {"resources": {"shop-checkout": {
        "type": "service", "direction": "inbound", "id": "checkout", "namespace": "shop"}}}
    [g] = findings(ledger, checkout)
    assert (g.peer, g.peer_exists) == (("pay", "checkout"), False)


def test_opposite_declaration_only_needs_both() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b", resources={"to-a": dep("outbound", id="a")})
    [f] = findings(a, b)
    assert f.fix == "resources:\n  to-a:\n    direction: both   # was outbound\n"


def test_both_directions_are_judged_separately() -> None:
    a = svc("a", resources={"b": dep("both")})
    b = svc("b", resources={"a": dep("inbound")})
    [f] = findings(a, b)  # a calls b (agreed) and accepts b, which never calls a
    assert (f.direction, f.peer) == (Direction.INBOUND, ("shop", "b"))
    assert f.fix == "resources:\n  a:\n    direction: both   # was inbound\n"


@pytest.mark.parametrize("wildcard", [dep("inbound"), dep("inbound", namespace="shop")])
def test_wildcards_are_never_one_sided(wildcard: dict[str, str]) -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b", resources={"*": wildcard})
    assert findings(b, a) == [] and findings(a, b) == []


def test_external_service_not_listing_the_caller() -> None:
    a = svc("a", resources={"stripe": dep("outbound", type="external-service")})
    stripe = ext("stripe", requesters=["billing"])
    [f] = findings(a, externals=(stripe,))
    assert (f.peer_kind, f.peer, f.direction) == (KIND_EXTERNAL, ("shop", "stripe"), Direction.OUTBOUND)
    assert f.missing == "LatticeExternalService shop/stripe does not list a in allowedRequesters"
    assert yaml.safe_load(f.fix) == {"allowedRequesters": ["billing", "a"]}
    assert findings(a, externals=(ext("stripe", requesters=["a"]),)) == []
    # In another namespace it is never an edge; that is a warning of its own, not a one-sided finding.
    far = svc("a", resources={"stripe": dep("outbound", type="external-service", namespace="pay")})
    assert findings(far, externals=(ext("stripe", "pay"),)) == []


def test_readme_examples_are_all_agreed() -> None:
    for name in ("api-gateway", "auth-service", "redis", "web-frontend"):
        ctx = readme_context(name)
        assert one_sided(ctx.key, ctx.service, ctx.services, ctx.external_services) == [], name


def test_resolve_carries_the_findings() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    edges = resolve(("shop", "a"), a, {("shop", "b"): svc("b")}, {})
    assert [f.peer for f in edges.one_sided] == [("shop", "b")]
