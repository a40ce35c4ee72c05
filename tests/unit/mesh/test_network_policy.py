"""CiliumNetworkPolicy: exact shape for the README example, ports, externals, upstream schema."""

from __future__ import annotations

from typing import Any

import pytest

from crds.external_service import LatticeExternalService
from hooks.mesh.compile import resolve_mesh
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import cnp, context, dep, egress_peers, ext, readme_context, svc


def _pods(ns: str, **labels: str) -> dict[str, Any]:
    return {"matchLabels": {"k8s:io.kubernetes.pod.namespace": ns, **{f"k8s:{k}": v for k, v in labels.items()}}}


def _ports(*ports: tuple[int, str], **extra: Any) -> list[dict[str, Any]]:
    return [{"ports": [{"port": str(p), "protocol": proto} for p, proto in ports], **extra}]


def test_readme_api_gateway_policy_shape() -> None:
    policy = cnp(resolve_mesh(readme_context("api-gateway")).children)
    waypoint = _pods("platform", **{"gateway.networking.k8s.io/gateway-name": "platform-waypoint"})
    assert policy == {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "policy-api-gateway", "namespace": "platform", "labels": {
            "app.kubernetes.io/name": "policy-api-gateway", "app.kubernetes.io/managed-by": "lattice"}},
        "spec": {
            "endpointSelector": {"matchLabels": {"k8s:app.kubernetes.io/name": "api-gateway"}},
            "enableDefaultDeny": {"ingress": True, "egress": True},
            "ingress": [
                {"fromEndpoints": [_pods("platform", **{"app.kubernetes.io/name": "web-frontend"})],
                 "toPorts": _ports((8080, "TCP"), (9090, "TCP"))},
                {"fromEndpoints": [waypoint], "toPorts": _ports((15008, "TCP"))},
                {"fromEndpoints": [_pods("envoy-gateway-system", **{
                    "gateway.envoyproxy.io/owning-gateway-name": "api-gateway-gateway",
                    "gateway.envoyproxy.io/owning-gateway-namespace": "platform"})],
                 "toPorts": _ports((8080, "TCP"), (9090, "TCP"), (15008, "TCP"))},
            ],
            "egress": [
                {"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system",
                                                  "k8s:k8s-app": "kube-dns"}}],
                 "toPorts": _ports((53, "UDP"), (53, "TCP"), rules={"dns": [{"matchPattern": "*"}]})},
                {"toEndpoints": [waypoint], "toPorts": _ports((15008, "TCP"))},
                {"toEndpoints": [_pods("platform", **{"app.kubernetes.io/name": "auth-service"})],
                 "toPorts": _ports((8080, "TCP"))},
                {"toEndpoints": [_pods("platform", **{"app.kubernetes.io/name": "redis"})],
                 "toPorts": _ports((6379, "TCP"))},
                {"toFQDNs": [{"matchName": "api.stripe.com"}], "toPorts": _ports((443, "TCP"))},
            ],
        },
    }


@pytest.mark.parametrize("name", ["api-gateway", "auth-service", "redis", "web-frontend", "asset-store"])
def test_every_example_policy_matches_the_upstream_schema(name: str) -> None:
    upstream_schemas.assert_valid(cnp(resolve_mesh(readme_context(name)).children))


def test_a_service_nobody_agrees_with_is_closed_both_ways() -> None:
    spec = cnp(resolve_mesh(context(svc("a", resources={"b": dep()}), [svc("b")])).children)["spec"]
    assert "ingress" not in spec
    assert spec["enableDefaultDeny"] == {"ingress": True, "egress": True}
    assert spec["egress"] == [{
        "toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}}],
        "toPorts": _ports((53, "UDP"), (53, "TCP")),
    }]


def test_container_port_and_protocol_are_what_the_pod_sees() -> None:
    b = svc("b", resources={"a": dep("inbound")}, ports={
        "http": {"port": 80, "targetPort": 8080}, "dns": {"port": 53, "protocol": "UDP"}})
    a = svc("a", resources={"b": dep()})
    egress = cnp(resolve_mesh(context(a, [b])).children)["spec"]["egress"]
    assert egress[2] == {"toEndpoints": [_pods("shop", **{"app.kubernetes.io/name": "b"})],
                         "toPorts": _ports((53, "UDP"), (8080, "TCP"))}
    ingress = cnp(resolve_mesh(context(b, [a])).children)["spec"]["ingress"]
    assert ingress[0]["toPorts"] == _ports((53, "UDP"), (8080, "TCP"))


def test_a_callee_without_ports_gets_no_l4_rule() -> None:
    a = svc("a", resources={"b": dep()})
    b = svc("b", resources={"a": dep("inbound")}, ports={})
    result = resolve_mesh(context(a, [b]))
    assert [d.name for d in result.resolved] == ["b"]
    assert egress_peers(result.children) == set()
    assert len(cnp(result.children)["spec"]["egress"]) == 1  # DNS only, no waypoint either


def test_cross_namespace_callee_goes_through_its_namespace_waypoint() -> None:
    a = svc("a", resources={"b": dep(namespace="pay")})
    b = svc("b", "pay", resources={"a": dep("inbound", namespace="shop")})
    egress = cnp(resolve_mesh(context(a, [b])).children)["spec"]["egress"]
    assert egress[1] == {"toEndpoints": [_pods("pay", **{"gateway.networking.k8s.io/gateway-name": "pay-waypoint"})],
                         "toPorts": _ports((15008, "TCP"))}


def _external(endpoints: dict[str, str]) -> list[dict[str, Any]]:
    e: LatticeExternalService = ext("x", endpoints=endpoints, requesters=["a"])
    a = svc("a", resources={"x": dep(type="external-service")})
    return list(cnp(resolve_mesh(context(a, [], [e])).children)["spec"]["egress"])


def test_external_hostnames_and_addresses() -> None:
    egress = _external({
        "api": "https://api.example.com", "alt": "https://alt.example.com:443", "admin": "http://api.example.com",
        "db": "tcp://10.0.0.7:5432", "v6": "tcp://[2001:db8::1]:5432",
    })
    assert egress[0]["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
    assert egress[2:] == [
        {"toFQDNs": [{"matchName": "api.example.com"}], "toPorts": _ports((80, "TCP"), (443, "TCP"))},
        {"toFQDNs": [{"matchName": "alt.example.com"}], "toPorts": _ports((443, "TCP"))},
        {"toCIDR": ["10.0.0.7/32", "2001:db8::1/128"], "toPorts": _ports((5432, "TCP"))},
    ]


def test_address_only_externals_need_no_dns_proxy() -> None:
    egress = _external({"db": "tcp://10.0.0.7:5432"})
    assert "rules" not in egress[0]["toPorts"][0]
    assert egress[-1] == {"toCIDR": ["10.0.0.7/32"], "toPorts": _ports((5432, "TCP"))}
