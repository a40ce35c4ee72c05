"""The whole-mesh graph of ``lattice get mesh``: agreed, one-sided, missing and blocked edges,
wildcards, and agreement with what each service's own sync reports."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings

from crds.service import LatticeService
from hooks.mesh.compile import resolve_mesh
from hooks.mesh.graph import KIND_EXTERNAL
from hooks.mesh.view import CALLEE, CALLER, EdgeStatus, build_graph
from tests.unit.mesh.support import context, dep, ext, readme_context, svc
from tests.unit.mesh.test_compile import customize_related, meshes


def graph(*services: LatticeService, externals: tuple = ()) -> list[tuple]:
    g = build_graph({(s.namespace, s.name): s for s in services}, {(e.namespace, e.name): e for e in externals})
    return [(e.caller[1], e.callee[1], e.status.value, e.missing_side) for e in g.edges]


def test_readme_examples_are_all_agreed() -> None:
    ctx = readme_context("api-gateway")
    g = build_graph(ctx.services, ctx.external_services)
    rows = [(f"{e.caller[1]}->{e.callee[1]}", e.status.value, e.callee_kind, e.ports) for e in g.edges]
    assert rows == [
        ("api-gateway->auth-service", "agreed", "LatticeService", ("http 8080/TCP",)),
        ("api-gateway->redis", "agreed", "LatticeService", ("redis 6379/TCP",)),
        ("api-gateway->stripe-api", "agreed", KIND_EXTERNAL, ("api 443/HTTPS",)),
        ("auth-service->redis", "agreed", "LatticeService", ("redis 6379/TCP",)),
        ("web-frontend->api-gateway", "agreed", "LatticeService", ("http 8080/TCP", "metrics 9090/TCP")),
    ]
    assert g.wildcards == () and g.counts() == {"agreed": 5, "one-sided": 0, "missing": 0, "blocked": 0}
    assert g.services == tuple(sorted(ctx.services)) and g.externals == (("platform", "stripe-api"),)


def test_one_sided_either_way_names_the_missing_side_and_its_yaml() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b")
    c = svc("c", resources={"a": dep("inbound")})
    assert graph(a, b, c) == [("a", "b", "one-sided", CALLEE), ("a", "c", "one-sided", CALLER)]
    g = build_graph({("shop", s.name): s for s in (a, b, c)}, {})
    to_b, to_c = g.edges
    assert to_b.fix_for == ("shop", "b") and yaml.safe_load(to_b.fix) == {
        "resources": {"a": {"type": "service", "direction": "inbound"}}}
    assert to_c.fix_for == ("shop", "a") and to_c.caller_resource is None and to_c.callee_resource == "a"
    assert yaml.safe_load(to_c.fix) == {"resources": {"c": {"type": "service", "direction": "outbound"}}}


def test_missing_peers_on_either_side() -> None:
    a = svc("a", resources={"ghost": dep("outbound"), "phantom": dep("inbound"),
                            "pay": dep("outbound", type="external-service")})
    assert graph(a) == [("a", "ghost", "missing", CALLEE), ("a", "pay", "missing", CALLEE),
                        ("phantom", "a", "missing", CALLER)]


def test_wildcards_and_cross_namespace() -> None:
    caller = svc("web", "front", {"api": dep("outbound", namespace="back")})
    api = svc("api", "back", {"*": dep("inbound", namespace="front")})
    g = build_graph({("front", "web"): caller, ("back", "api"): api}, {})
    [edge] = g.edges
    assert (edge.status, edge.wildcard, edge.callee_resource, edge.cross_namespace) == (
        EdgeStatus.AGREED, True, "*", True)
    [w] = g.wildcards
    assert (w.service, w.resource, w.namespace) == (("back", "api"), "*", "front")
    assert g.in_namespaces(["front"]).edges == g.edges and g.in_namespaces(["front"]).wildcards == ()
    assert g.in_namespaces(["elsewhere"]).edges == ()


def test_external_edges() -> None:
    a = svc("a", resources={"stripe": dep("outbound", type="external-service"),
                            "far": dep("outbound", type="external-service", namespace="pay")})
    assert graph(a, externals=(ext("stripe", requesters=["b"]), ext("far", "pay", requesters=["*"]))) == [
        ("a", "far", "blocked", None), ("a", "stripe", "one-sided", CALLEE)]
    assert graph(a, externals=(ext("stripe", requesters=["a"]),))[1] == ("a", "stripe", "agreed", None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meshes())
def test_the_graph_agrees_with_every_services_own_sync(mesh: list[LatticeService]) -> None:
    """Agreed edges are exactly the compiled ones; one-sided edges are exactly the statuses' findings."""
    g = build_graph({(s.namespace, s.name): s for s in mesh}, {})
    agreed = {(e.caller, e.callee) for e in g.edges if e.status is EdgeStatus.AGREED}
    one_sided = {(e.fix_for, e.caller, e.callee) for e in g.edges if e.status is EdgeStatus.ONE_SIDED}
    compiled: set[tuple] = set()
    reported: set[tuple] = set()
    for s in mesh:
        key = (s.namespace, s.name)
        result = resolve_mesh(context(s, customize_related(s, mesh)))
        compiled |= {(key, (d.namespace, d.name)) for d in result.resolved if d.direction.value == "outbound"}
        for o in result.one_sided:
            peer = (o.namespace, o.name)
            if o.direction.value == "outbound":
                reported.add((peer, key, peer))
            elif any(s2.namespace == o.namespace and s2.name == o.name for s2 in mesh):
                reported.add((peer, peer, key))
    assert agreed == compiled
    assert one_sided == reported
