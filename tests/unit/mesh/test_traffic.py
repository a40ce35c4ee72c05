"""L7 traffic policy: retries/timeouts routes (unanimous callers only) and per-caller rate limits."""

from __future__ import annotations

from typing import Any

import pytest

import crds
from crds.service import LatticeService
from hooks.mesh.compile import MeshResult, resolve_mesh
from hooks.mesh.traffic import gateway_duration, milliseconds, per_unit, retry_codes
from tests.unit.mesh import upstream_schemas
from tests.unit.mesh.support import CLUSTER, context, dep, named, names_of, readme_context, svc


@pytest.mark.parametrize(("text", "ms", "gateway"), [
    ("30s", 30_000, "30s"), ("1.5s", 1500, "1s500ms"), ("500ms", 500, "500ms"), ("90m", 5_400_000, "1h30m"),
    ("100us", 1, "1ms"), ("1h0m5s", 3_605_000, "1h5s"), ("0s", 0, "0s"),
])
def test_durations(text: str, ms: int, gateway: str) -> None:
    assert milliseconds(text) == ms
    assert gateway_duration(ms) == gateway


def test_retry_on_to_status_codes() -> None:
    assert retry_codes(["gateway-error", "503", "connect-failure", "retriable-4xx", "bogus"]) == (
        [409, 502, 503, 504], ["bogus"])
    assert retry_codes(["5xx"])[0] == [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]


@pytest.mark.parametrize(("requests", "interval", "expected"), [
    (10, 1, (10, "Second")), (100, 60, (100, "Minute")), (100, 30, (200, "Minute")), (1, 7, (8, "Minute")),
    (5, 3600, (5, "Hour")), (3, 7200, (36, "Day")), (7, 2 * 86400, (3, "Day")), (1, 10 * 86400, (1, "Day")),
])
def test_rate_per_envoy_gateway_unit(requests: int, interval: int, expected: tuple[int, str]) -> None:
    assert per_unit(requests, interval) == expected


def test_readme_auth_service_gets_api_gateways_retries() -> None:
    result = resolve_mesh(readme_context("auth-service"))
    route = named(result.children, "HTTPRoute", "auth-service-mesh-http")
    assert route["spec"] == {
        "parentRefs": [{"group": "", "kind": "Service", "name": "auth-service", "port": 8080}],
        "rules": [{
            "backendRefs": [{"group": "", "kind": "Service", "name": "auth-service", "port": 8080}],
            "retry": {"attempts": 3, "codes": [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]},
            "timeouts": {"request": "30s", "backendRequest": "5s"},
        }],
    }
    assert result.warnings == []
    upstream_schemas.assert_valid(route)


def _callee(*callers: LatticeService, ports: dict[str, Any] | None = None) -> MeshResult:
    b = svc("b", resources={"*": dep("inbound")}, ports=ports)
    return resolve_mesh(context(b, list(callers)))


def _caller(name: str, outbound: dict[str, Any] | None = None) -> LatticeService:
    return svc(name, resources={"b": dep(outbound=outbound) if outbound else dep()})


def _rule(result: MeshResult) -> dict[str, Any]:
    return dict(named(result.children, "HTTPRoute", "b-mesh-http")["spec"]["rules"][0])


RETRY = {"retries": {"attempts": 2, "perTryTimeout": "2s", "retryOn": ["gateway-error"]}}


def test_same_policy_from_every_caller_is_applied() -> None:
    policy = {**RETRY, "timeout": {"request": "10s"}}
    rule = _rule(_callee(_caller("a", policy), _caller("c", policy)))
    assert rule["retry"] == {"attempts": 2, "codes": [502, 503, 504]}
    assert rule["timeouts"] == {"request": "10s", "backendRequest": "2s"}


def test_a_caller_without_the_policy_keeps_it_from_everyone() -> None:
    ten = {"timeout": {"request": "10s"}}
    result = _callee(_caller("a", {**RETRY, **ten}), _caller("c", ten))
    rule = _rule(result)
    assert "retry" not in rule and rule["timeouts"] == {"request": "10s"}
    assert result.warnings == [
        "outbound retries not compiled: the callers declare different values "
        "(shop/a=(2, (502, 503, 504), 2000), shop/c=None)"]


def test_disagreeing_callers_compile_nothing() -> None:
    result = _callee(_caller("a", {"timeout": {"request": "10s"}}), _caller("c", {"timeout": {"request": "20s"}}))
    assert names_of(result.children, "HTTPRoute") == []
    assert result.warnings == ["outbound timeout not compiled: the callers declare different values "
                               "(shop/a=10000, shop/c=20000)"]


def test_one_caller_with_two_different_declarations_disagrees_with_itself() -> None:
    a = svc("a", resources={"b": dep(outbound={"timeout": {"request": "1s"}}),
                            "b2": dep(id="b", outbound={"timeout": {"request": "2s"}})})
    assert names_of(_callee(a).children, "HTTPRoute") == []


def test_per_try_timeout_never_exceeds_the_request_timeout() -> None:
    policy = {"retries": {"attempts": 1, "perTryTimeout": "1m"}, "timeout": {"request": "5s"}}
    rule = _rule(_callee(_caller("a", policy)))
    assert rule["timeouts"] == {"request": "5s", "backendRequest": "5s"}
    assert rule["retry"] == {"attempts": 1}


def test_routes_per_tcp_port_and_unknown_conditions_warned() -> None:
    ports = {"http": {"port": 80}, "admin": {"port": 9000}, "dns": {"port": 53, "protocol": "UDP"}}
    result = _callee(_caller("a", {"retries": {"attempts": 1, "retryOn": ["5xx", "envoy-magic"]}}), ports=ports)
    assert names_of(result.children, "HTTPRoute") == ["b-mesh-admin", "b-mesh-http"]
    assert result.warnings == ["caller shop/a: retryOn 'envoy-magic' has no HTTPRoute equivalent and is ignored"]
    for route in result.children:
        if route["kind"] == "HTTPRoute":
            upstream_schemas.assert_valid(route)


def test_zero_attempts_is_refused_by_validation() -> None:
    # HTTPRouteRetry needs at least one attempt, so the model refuses 0 up front.
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", "metadata": {"name": "a"},
           "spec": {"containers": {"main": {"image": "app"}},
                    "resources": {"b": {"type": "service", "outbound": {"retries": {"attempts": 0}}}}}}
    assert [str(e) for e in crds.parse(doc).errors] == [
        "spec.resources.b.outbound.retries.attempts: must be >= 1, got 0"
    ]


def test_the_caller_itself_emits_no_route() -> None:
    a = _caller("a", {"timeout": {"request": "10s"}})
    assert names_of(resolve_mesh(context(a, [svc("b", resources={"a": dep("inbound")})])).children, "HTTPRoute") == []


def test_readme_api_gateway_rate_limits_web_frontend() -> None:
    result = resolve_mesh(readme_context("api-gateway"))
    ef = named(result.children, "EnvoyFilter", "ratelimit-api-gateway")
    assert ef["apiVersion"] == "networking.istio.io/v1alpha3"
    assert ef["spec"]["targetRefs"] == [{"group": "", "kind": "Service", "name": "api-gateway"}]
    (patch,) = ef["spec"]["configPatches"]
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"] == {"context": "WAYPOINT", "waypoint": {"filter": {
        "name": "envoy.filters.network.http_connection_manager", "subFilter": {"name": "envoy.filters.http.router"}}}}
    value = patch["patch"]["value"]
    assert patch["patch"]["operation"] == "INSERT_BEFORE"
    assert value["name"] == "lattice.ratelimit.platform.web-frontend"
    limit = value["typed_config"]["extension_config"]["typed_config"]
    assert limit["token_bucket"] == {"max_tokens": 1000, "tokens_per_fill": 1000, "fill_interval": "60s"}
    matcher = value["typed_config"]["xds_matcher"]["matcher_list"]["matchers"][0]
    peer = matcher["predicate"]["not_matcher"]["single_predicate"]
    assert peer["input"]["typed_config"]["key"] == "io.istio.peer_principal"
    assert peer["value_match"] == {"safe_regex": {"regex": r"^(spiffe://)?lattice\.test\.local/ns/platform/sa/web\-frontend$"}}
    assert matcher["on_match"]["action"]["typed_config"]["@type"].endswith("matcher.action.v3.SkipFilter")
    upstream_schemas.assert_valid(ef)


def test_wildcard_rate_limit_gives_each_caller_its_own_bucket() -> None:
    five_per_second = {"rateLimit": {"requestsPerInterval": 5, "intervalSeconds": 1}}
    b = svc("b", resources={"*": dep("inbound", inbound=five_per_second),
                            "a": dep("inbound", inbound={"rateLimit": {"requestsPerInterval": 50}})})
    result = resolve_mesh(context(b, [_caller("a"), _caller("c"), svc("d")]))
    patches = named(result.children, "EnvoyFilter", "ratelimit-b")["spec"]["configPatches"]
    got = [(p["patch"]["value"]["name"],
            p["patch"]["value"]["typed_config"]["extension_config"]["typed_config"]["token_bucket"]) for p in patches]
    assert got == [
        ("lattice.ratelimit.shop.a", {"max_tokens": 50, "tokens_per_fill": 50, "fill_interval": "60s"}),
        ("lattice.ratelimit.shop.c", {"max_tokens": 5, "tokens_per_fill": 5, "fill_interval": "1s"}),
    ]


def test_no_rate_limit_without_an_agreed_limited_caller() -> None:
    b = svc("b", resources={"a": dep("inbound", inbound={"rateLimit": {"requestsPerInterval": 5}})})
    assert names_of(resolve_mesh(context(b, [svc("a")])).children, "EnvoyFilter") == []
    assert names_of(resolve_mesh(context(b, [_caller("a")])).children, "EnvoyFilter") == ["ratelimit-b"]
    assert CLUSTER.name == "test"
