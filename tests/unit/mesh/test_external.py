"""LatticeExternalService -> its ServiceEntry and status."""

from __future__ import annotations

import pytest

import crds
from crds import ConditionStatus, Phase
from crds.external_service import LatticeExternalService, LatticeExternalServiceSpec
from hooks.mesh.external import compile_external_service
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import CLUSTER, ext


def test_stripe_entry_and_ready_status() -> None:
    result = compile_external_service(ext("stripe-api", "platform", {"api": "https://api.stripe.com:443"},
                                          ["api-gateway"]), CLUSTER)
    assert result.children == [{
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "stripe-api", "namespace": "platform", "labels": {
            "app.kubernetes.io/name": "stripe-api", "app.kubernetes.io/managed-by": "lattice",
            "istio.io/use-waypoint": "platform-waypoint"}},
        "spec": {
            "hosts": ["api.stripe.com"],
            "ports": [{"number": 443, "name": "api", "protocol": "HTTPS"}],
            "location": "MESH_EXTERNAL",
            "resolution": "DNS",
        },
    }]
    assert crds.dump(result.status) == {
        "phase": "Ready", "message": "External service is configured", "observedGeneration": 3,
        "conditions": [{"type": "Ready", "status": "True", "reason": "EndpointsConfigured",
                        "message": "External service is configured", "observedGeneration": 3}],
    }
    upstream_schemas.assert_valid(result.children[0])


def test_every_scheme_and_shared_ports() -> None:
    result = compile_external_service(ext("mixed", endpoints={
        "web": "http://example.com", "b-api": "https://api.example.com", "a-api": "https://api2.example.com",
        "rpc": "grpc://rpc.example.com:9000", "db": "db.example.com:5432", "odd-name": "tcp://odd.example.com:7000",
    }), CLUSTER)
    spec = result.children[0]["spec"]
    assert spec["hosts"] == ["api2.example.com", "api.example.com", "db.example.com", "odd.example.com",
                             "rpc.example.com", "example.com"]
    assert spec["ports"] == [
        {"number": 80, "name": "web", "protocol": "HTTP"},
        {"number": 443, "name": "a-api", "protocol": "HTTPS"},
        {"number": 5432, "name": "db", "protocol": "TCP"},
        {"number": 7000, "name": "odd-name", "protocol": "TCP"},
        {"number": 9000, "name": "rpc", "protocol": "GRPC"},
    ]
    upstream_schemas.assert_valid(result.children[0])


def test_static_resolution_captures_the_addresses() -> None:
    result = compile_external_service(ext("db", endpoints={"v4": "tcp://10.0.0.7:5432", "v6": "tcp://[2001:db8::1]:5432"},
                                          resolution="static"), CLUSTER)
    assert result.children[0]["spec"] == {
        "hosts": ["db.shop.external"],
        "addresses": ["10.0.0.7/32", "2001:db8::1/128"],
        "ports": [{"number": 5432, "name": "v4", "protocol": "TCP"}],
        "location": "MESH_EXTERNAL",
        "resolution": "STATIC",
        "endpoints": [{"address": "10.0.0.7"}, {"address": "2001:db8::1"}],
    }
    upstream_schemas.assert_valid(result.children[0])


def _unvalidated(endpoints: dict[str, str], resolution: str = "dns") -> LatticeExternalService:
    """A model that skipped crds.parse (the compiler must still refuse it)."""
    model = ext("bad")
    model.spec = crds.convert.structure(LatticeExternalServiceSpec, {"endpoints": endpoints, "resolution": resolution})
    return model


@pytest.mark.parametrize(("endpoints", "resolution", "message"), [
    pytest.param({}, "dns", "external service must have at least one endpoint", id="no-endpoints"),
    pytest.param({"x": "ftp://host"}, "dns", "invalid endpoint URL for 'x': ftp://host", id="bad-url"),
    pytest.param({"x": "https://api.example.com"}, "static",
                 "endpoint 'x': resolution 'static' needs IP addresses, not hostnames", id="static-hostname"),
    pytest.param({"a": "http://a.example.com:8080", "b": "tcp://b.example.com:8080"}, "dns",
                 "two endpoints use port 8080 with different protocols (HTTP, TCP)", id="port-protocol-clash"),
])
def test_invalid_external_fails_without_an_entry(endpoints: dict[str, str], resolution: str, message: str) -> None:
    result = compile_external_service(_unvalidated(endpoints, resolution), CLUSTER)
    assert result.children == []
    assert result.status.phase is Phase.FAILED
    assert result.status.message == message
    (cond,) = result.status.conditions
    assert (cond.type, cond.status, cond.reason, cond.message) == ("Ready", ConditionStatus.FALSE,
                                                                  "ValidationFailed", message)
