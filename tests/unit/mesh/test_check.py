"""``lattice policy check --from/--to [--port]``: the truth table on the README's examples, and
the reasons read off the generated objects."""

from __future__ import annotations

import itertools

import pytest
import yaml

from hooks.mesh.check import check_flow
from tests.unit.mesh.support import CLUSTER, dep, readme_context, svc

CTX = readme_context("api-gateway")
SERVICES = sorted(k[1] for k in CTX.services if k[0] == "platform")
ALLOWED = {("web-frontend", "api-gateway"), ("api-gateway", "auth-service"), ("api-gateway", "redis"),
           ("auth-service", "redis")}


def check(caller: str, callee: str, port: int | None = None):  # type: ignore[no-untyped-def]
    return check_flow(CTX.services, CTX.external_services, ("platform", caller), ("platform", callee), port, CLUSTER)


@pytest.mark.parametrize(("caller", "callee"), list(itertools.permutations(SERVICES, 2)))
def test_truth_table_of_every_ordered_pair(caller: str, callee: str) -> None:
    result = check(caller, callee)
    expected = (caller, callee) in ALLOWED and callee != "asset-store"
    assert result.allowed is expected, result.reasons
    if not result.allowed and (caller, callee) not in ALLOWED:
        assert any("default deny" in o for o in result.objects)


@pytest.mark.parametrize(("caller", "callee", "port", "allowed"), [
    ("web-frontend", "api-gateway", 8080, True),
    ("web-frontend", "api-gateway", 9090, True),
    ("web-frontend", "api-gateway", 9999, False),
    ("api-gateway", "redis", 6379, True),
    ("api-gateway", "redis", 8080, False),
    ("api-gateway", "stripe-api", 443, True),
    ("api-gateway", "stripe-api", 80, False),
    ("auth-service", "stripe-api", 443, False),
])
def test_ports(caller: str, callee: str, port: int, allowed: bool) -> None:
    assert check(caller, callee, port).allowed is allowed


def test_allowed_names_the_rules_that_admit_it() -> None:
    result = check("web-frontend", "api-gateway", 8080)
    assert result.reasons == (
        "agreed: platform/web-frontend declares it in resources.api-gateway; platform/api-gateway accepts it "
        "in resources.web-frontend",
        "port 8080 is http: Service port 8080, container port 8080/TCP",
    )
    assert ("CiliumNetworkPolicy platform/policy-api-gateway: ingress from platform/web-frontend on 8080/TCP, "
            "9090/TCP") in result.objects
    assert ("AuthorizationPolicy platform/allow-to-api-gateway: ALLOW lattice.test.local/ns/platform/sa/"
            "web-frontend on Service port(s) 8080, 9090 (at the platform waypoint)") in result.objects
    assert ("CiliumNetworkPolicy platform/policy-web-frontend: egress to platform/api-gateway on 8080/TCP, "
            "9090/TCP") in result.objects


def test_wrong_port_names_the_ports() -> None:
    result = check("web-frontend", "api-gateway", 9999)
    assert result.reasons[-1] == "port 9999 is not a port of platform/api-gateway (its ports: http 8080, metrics 9090)"


def test_external_service_names_its_egress_and_l7_policy() -> None:
    result = check("api-gateway", "stripe-api", 443)
    assert result.allowed
    assert "CiliumNetworkPolicy platform/policy-api-gateway: egress to api.stripe.com on 443/TCP" in result.objects
    assert any(o.startswith("AuthorizationPolicy platform/allow-api-gateway-to-stripe-api") for o in result.objects)
    denied = check("auth-service", "stripe-api")
    assert denied.reasons[0].startswith("platform/auth-service does not declare platform/stripe-api outbound")


def test_one_sided_gives_the_fix() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b")
    services = {("shop", "a"): a, ("shop", "b"): b}
    result = check_flow(services, {}, ("shop", "a"), ("shop", "b"), 8080, CLUSTER)
    assert not result.allowed
    assert result.reasons[0] == "one-sided: shop/b does not accept shop/a (missing on the callee's side)"
    assert result.fix_for == ("shop", "b")
    assert yaml.safe_load(result.fix) == {"resources": {"a": {"type": "service", "direction": "inbound"}}}


def test_unknown_services() -> None:
    assert check("nobody", "redis").reasons == ("no LatticeService platform/nobody exists",)
    assert not check("redis", "nobody").allowed


def test_a_callee_without_ports_cannot_be_addressed() -> None:
    a = svc("a", resources={"b": dep("outbound")})
    b = svc("b", resources={"a": dep("inbound")}, ports={})
    result = check_flow({("shop", "a"): a, ("shop", "b"): b}, {}, ("shop", "a"), ("shop", "b"), None, CLUSTER)
    assert not result.allowed and "declares no service.ports" in result.reasons[1]
