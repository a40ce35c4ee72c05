"""Ingress: Gateway, HTTPRoute, Certificate, rate limit, and the mesh rules admitting the proxies."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.mesh.compile import resolve_mesh
from hooks.mesh.ingress import build_ingress, ingress_rule
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import CLUSTER, cnp, context, named, names_of, readme_context, svc


def _meta(name: str, ns: str = "platform") -> dict[str, Any]:
    return {"name": name, "namespace": ns,
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "lattice"}}


SAME = {"namespaces": {"from": "Same"}}


def test_readme_api_gateway_auto_tls() -> None:
    children = resolve_mesh(readme_context("api-gateway")).children
    assert named(children, "Gateway", "api-gateway-gateway") == {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": _meta("api-gateway-gateway"),
        "spec": {"gatewayClassName": "eg", "listeners": [
            {"name": "http-0", "hostname": "api.example.com", "port": 80, "protocol": "HTTP", "allowedRoutes": SAME},
            {"name": "https-0", "hostname": "api.example.com", "port": 443, "protocol": "HTTPS",
             "tls": {"mode": "Terminate",
                     "certificateRefs": [{"group": "", "kind": "Secret", "name": "api-gateway-tls"}]},
             "allowedRoutes": SAME},
        ]},
    }
    assert named(children, "HTTPRoute", "api-gateway-route") == {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": _meta("api-gateway-route"),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "api-gateway-gateway"}],
            "hostnames": ["api.example.com"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"group": "", "kind": "Service", "name": "api-gateway", "port": 8080}]}],
        },
    }
    assert named(children, "Certificate", "api-gateway-cert") == {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta("api-gateway-cert"),
        "spec": {"secretName": "api-gateway-tls", "dnsNames": ["api.example.com"],
                 "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
    }
    assert named(children, "AuthorizationPolicy", "allow-gateway-to-api-gateway")["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "api-gateway"}}, "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": ["lattice.test.local/ns/envoy-gateway-system/sa/*"]}}],
                   "to": [{"operation": {"ports": ["8080", "9090"]}}]}],
    }
    assert names_of(children, "BackendTrafficPolicy") == []


def test_readme_web_frontend_manual_tls_and_rate_limit() -> None:
    children = resolve_mesh(readme_context("web-frontend")).children
    listeners = named(children, "Gateway", "web-frontend-gateway")["spec"]["listeners"]
    assert listeners[1]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret", "name": "www-example-com-tls"}]
    assert names_of(children, "Certificate") == []
    assert named(children, "BackendTrafficPolicy", "web-frontend-ratelimit") == {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
        "metadata": _meta("web-frontend-ratelimit"),
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web-frontend-route"}],
            "rateLimit": {"type": "Local", "local": {"rules": [
                {"clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": cidr}}],
                 "limit": {"requests": 100, "unit": "Minute"}} for cidr in ("0.0.0.0/0", "::/0")]}},
        },
    }


@pytest.mark.parametrize("name", ["api-gateway", "web-frontend"])
def test_ingress_objects_match_the_upstream_schemas(name: str) -> None:
    for c in resolve_mesh(readme_context(name)).children:
        if c["kind"] in ("Gateway", "HTTPRoute", "Certificate", "BackendTrafficPolicy", "AuthorizationPolicy"):
            upstream_schemas.assert_valid(c)


def test_hosts_paths_and_backend_port() -> None:
    s = svc("web", ports={"web": {"port": 3000}, "admin": {"port": 9000, "targetPort": 9001}}, ingress={
        "hosts": ["a.example.com", "*.b.example.com", "a.example.com"],
        "paths": [{"path": "/v1", "pathType": "Exact"}, {"path": "/api"}],
        "gatewayClass": "internal",
    })
    children = build_ingress(("shop", "web"), s, CLUSTER)
    assert names_of(children, "Gateway") == ["web-gateway"] and names_of(children, "Certificate") == []
    gw = named(children, "Gateway", "web-gateway")["spec"]
    assert gw == {"gatewayClassName": "internal", "listeners": [
        {"name": "http-0", "hostname": "a.example.com", "port": 80, "protocol": "HTTP", "allowedRoutes": SAME},
        {"name": "http-1", "hostname": "*.b.example.com", "port": 80, "protocol": "HTTP", "allowedRoutes": SAME},
    ]}
    route = named(children, "HTTPRoute", "web-route")["spec"]
    assert route["hostnames"] == ["a.example.com", "*.b.example.com"]
    assert route["rules"] == [{
        "matches": [{"path": {"type": "Exact", "value": "/v1"}}, {"path": {"type": "PathPrefix", "value": "/api"}}],
        "backendRefs": [{"group": "", "kind": "Service", "name": "web", "port": 9000}],
    }]
    for c in children:
        upstream_schemas.assert_valid(c)


def test_gateway_proxies_are_admitted_at_l4() -> None:
    s = svc("web", ports={"http": {"port": 80, "targetPort": 8080}}, ingress={"hosts": ["a.example.com"]})
    assert ingress_rule(("shop", "web"), s) == [{
        "fromEndpoints": [{"matchLabels": {
            "k8s:io.kubernetes.pod.namespace": "envoy-gateway-system",
            "k8s:gateway.envoyproxy.io/owning-gateway-name": "web-gateway",
            "k8s:gateway.envoyproxy.io/owning-gateway-namespace": "shop"}}],
        "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}, {"port": "15008", "protocol": "TCP"}]}],
    }]
    assert cnp(resolve_mesh(context(s)).children)["spec"]["ingress"] == ingress_rule(("shop", "web"), s)


def test_no_ingress_no_objects() -> None:
    assert build_ingress(("shop", "web"), svc("web"), CLUSTER) == []
    assert ingress_rule(("shop", "web"), svc("web")) == []
