"""Objects a namespace shares: the waypoint and its L4 allowance, plus the namespace labels."""

from __future__ import annotations

from hooks.mesh.namespace import compile_namespace
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import CLUSTER


def _meta(name: str, **labels: str) -> dict[str, object]:
    return {"name": name, "namespace": "shop", "labels": {
        "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "lattice", **labels}}


def test_waypoint_and_labels() -> None:
    result = compile_namespace("shop", CLUSTER)
    assert result.labels == {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "shop-waypoint"}
    assert result.children == [
        {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": _meta("shop-waypoint", **{"istio.io/waypoint-for": "service"}),
            "spec": {"gatewayClassName": "istio-waypoint", "listeners": [
                {"name": "mesh", "port": 15008, "protocol": "HBONE", "allowedRoutes": {"namespaces": {"from": "Same"}}},
            ]},
        },
        {
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": _meta("allow-to-waypoint"),
            "spec": {"selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "shop-waypoint"}},
                     "action": "ALLOW", "rules": [{"to": [{"operation": {"ports": ["15008"]}}]}]},
        },
    ]
    for c in result.children:
        upstream_schemas.assert_valid(c)


def test_pure_and_per_namespace() -> None:
    assert compile_namespace("shop", CLUSTER) == compile_namespace("shop", CLUSTER)
    assert compile_namespace("pay", CLUSTER).children[0]["metadata"]["name"] == "pay-waypoint"
