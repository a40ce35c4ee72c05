"""AuthorizationPolicies: exact shapes, which port each enforcement point sees, externals."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.mesh.compile import resolve_mesh
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import CLUSTER, context, dep, ext, named, names_of, readme_context, svc

TD = "lattice.test.local"


def _meta(name: str, ns: str = "platform") -> dict[str, Any]:
    return {"name": name, "namespace": ns,
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "lattice"}}


def _allow(principals: list[str], ports: list[str]) -> list[dict[str, Any]]:
    return [{"from": [{"source": {"principals": principals}}], "to": [{"operation": {"ports": ports}}]}]


def test_readme_api_gateway_policies() -> None:
    children = resolve_mesh(readme_context("api-gateway")).children
    assert names_of(children, "AuthorizationPolicy") == [
        "allow-api-gateway-to-stripe-api", "allow-gateway-to-api-gateway", "allow-to-api-gateway",
        "allow-waypoint-to-api-gateway"]
    api = "security.istio.io/v1"
    assert named(children, "AuthorizationPolicy", "allow-to-api-gateway") == {
        "apiVersion": api, "kind": "AuthorizationPolicy", "metadata": _meta("allow-to-api-gateway"),
        "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": "api-gateway"}], "action": "ALLOW",
                 "rules": _allow([f"{TD}/ns/platform/sa/web-frontend"], ["8080", "9090"])},
    }
    assert named(children, "AuthorizationPolicy", "allow-waypoint-to-api-gateway") == {
        "apiVersion": api, "kind": "AuthorizationPolicy", "metadata": _meta("allow-waypoint-to-api-gateway"),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "api-gateway"}}, "action": "ALLOW",
                 "rules": _allow([f"{TD}/ns/platform/sa/platform-waypoint"], ["8080", "9090"])},
    }
    assert named(children, "AuthorizationPolicy", "allow-api-gateway-to-stripe-api") == {
        "apiVersion": api, "kind": "AuthorizationPolicy", "metadata": _meta("allow-api-gateway-to-stripe-api"),
        "spec": {"targetRefs": [{"group": "networking.istio.io", "kind": "ServiceEntry", "name": "stripe-api"}],
                 "action": "ALLOW", "rules": _allow([f"{TD}/ns/platform/sa/api-gateway"], ["443"])},
    }


@pytest.mark.parametrize("name", ["api-gateway", "auth-service", "redis", "web-frontend"])
def test_every_example_policy_matches_the_upstream_schema(name: str) -> None:
    for c in resolve_mesh(readme_context(name)).children:
        if c["kind"] == "AuthorizationPolicy":
            upstream_schemas.assert_valid(c)


def test_waypoint_policy_uses_service_ports_and_ztunnel_policy_container_ports() -> None:
    b = svc("b", resources={"a": dep("inbound")}, ports={
        "http": {"port": 80, "targetPort": 8080}, "grpc": {"port": 9000}, "dns": {"port": 53, "protocol": "UDP"}})
    children = resolve_mesh(context(b, [svc("a", resources={"b": dep()})])).children
    at_waypoint = named(children, "AuthorizationPolicy", "allow-to-b")["spec"]["rules"][0]["to"]
    at_pod = named(children, "AuthorizationPolicy", "allow-waypoint-to-b")["spec"]["rules"][0]["to"]
    assert at_waypoint == [{"operation": {"ports": ["80", "9000"]}}]
    assert at_pod == [{"operation": {"ports": ["8080", "9000"]}}]


def test_callers_are_listed_once_in_key_order() -> None:
    b = svc("b", resources={"z": dep("inbound", namespace="pay"), "a": dep("inbound"), "a2": dep("inbound", id="a")})
    callers = [svc("z", "pay", resources={"b": dep(namespace="shop")}),
               svc("a", resources={"b": dep(), "b-again": dep(id="b")})]
    spec = named(resolve_mesh(context(b, callers)).children, "AuthorizationPolicy", "allow-to-b")["spec"]
    assert spec["rules"][0]["from"][0]["source"]["principals"] == [
        CLUSTER.principal("pay", "z"), CLUSTER.principal("shop", "a")]


def test_no_callers_no_policies() -> None:
    assert names_of(resolve_mesh(context(svc("b", resources={"a": dep("inbound")}))).children,
                    "AuthorizationPolicy") == []


def test_udp_only_service_gets_no_l7_policy() -> None:
    b = svc("b", resources={"a": dep("inbound")}, ports={"dns": {"port": 53, "protocol": "UDP"}})
    children = resolve_mesh(context(b, [svc("a", resources={"b": dep()})])).children
    assert names_of(children, "AuthorizationPolicy") == []


def test_external_policy_once_per_external_with_every_endpoint_port() -> None:
    e = ext("stripe", endpoints={"api": "https://api.stripe.com", "files": "https://files.stripe.com:8443"},
            requesters=["a"])
    a = svc("a", resources={"stripe": dep(type="external-service"),
                            "stripe2": dep(type="external-service", id="stripe")})
    children = resolve_mesh(context(a, [], [e])).children
    assert names_of(children, "AuthorizationPolicy") == ["allow-a-to-stripe"]
    rules = named(children, "AuthorizationPolicy", "allow-a-to-stripe")["spec"]["rules"]
    assert rules == _allow([CLUSTER.principal("shop", "a")], ["443", "8443"])
