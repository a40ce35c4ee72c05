"""L7 traffic policy the mesh enforces: outbound retries and timeouts, inbound rate limits.

In ambient mode L7 runs in the *callee's* waypoint; there is no client-side proxy. So:

- Retries and timeouts become a GAMMA HTTPRoute attached to the callee's Service, one per TCP
  Service port (``<svc>-mesh-<port>``), owned by the *callee*. A waypoint only honours routes in
  the Service's (or its own) namespace, and nothing in an HTTPRoute can tell callers apart, so a
  route applies to every caller. To keep caller A's policy from ever applying to caller B, a
  setting is compiled only when *every* agreed caller declares the same value ("unanimous"):
  the request timeout is one setting, the retry policy (attempts, retryOn, perTryTimeout) is
  another. A disagreement compiles nothing for that setting and is reported as a warning.
  ``retry`` is Gateway API's experimental HTTPRouteRetry (implemented by Istio since 1.25); the
  cluster needs the experimental-channel HTTPRoute CRD or the field is pruned.
- Inbound per-caller rate limits become one EnvoyFilter (``ratelimit-<svc>``) attached to the
  callee's Service (``targetRefs`` kind Service: the waypoint applies it to that Service's
  chains only), patching the waypoint's HTTP filters (``context: WAYPOINT``) with one Envoy local
  rate limit filter per limited caller. Each filter is skipped unless the request's peer
  principal (filter state ``io.istio.peer_principal``, set by the waypoint from the HBONE mTLS
  identity) is that caller's, so every caller has its own bucket. Istio has no rate-limit API;
  EnvoyFilter on waypoints is outside Istio's support and ``context: WAYPOINT`` is still hidden
  from its docs (docs/mesh.md).

Everything here is a pure function of the callee's spec and its agreed callers' specs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from typing import Any

from crds import KubeObject
from crds.service import LatticeService, OutboundPolicy
from hooks import durations
from hooks.context import ClusterIdentity, Key
from hooks.labels import new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.graph import ServiceEdge

# Envoy/Istio retryOn conditions -> HTTP status codes for HTTPRouteRetry.codes.
_RETRY_CODES = {
    "5xx": (500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511),
    "gateway-error": (502, 503, 504),
    "retriable-4xx": (409,),
}
# Connection-level conditions: Gateway API implementations retry these whenever retry is set.
_CONNECTION_CONDITIONS = frozenset({
    "connect-failure", "refused-stream", "reset", "reset-before-request", "unavailable",
    "cancelled", "deadline-exceeded", "resource-exhausted", "http3-post-connect-failure",
    "retriable-status-codes",
})


def milliseconds(duration: str) -> int:
    """``1.5s`` -> 1500; sub-millisecond remainders round up (a timeout is never shortened)."""
    return max(0, math.ceil(round(durations.seconds(duration) * 1000, 6)))


def gateway_duration(ms: int) -> str:
    """Gateway API Duration (GEP-2257): up to four ``<n>h|m|s|ms`` parts."""
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def retry_codes(retry_on: list[str]) -> tuple[list[int], list[str]]:
    """Status codes for ``retryOn`` and the conditions that have no HTTPRoute equivalent."""
    codes: set[int] = set()
    unknown = []
    for cond in retry_on:
        c = cond.strip().lower()
        if c in _RETRY_CODES:
            codes.update(_RETRY_CODES[c])
        elif c.isdigit() and 400 <= int(c) <= 599:
            codes.add(int(c))
        elif c not in _CONNECTION_CONDITIONS:
            unknown.append(cond)
    return sorted(codes), unknown


def _timeout_setting(p: OutboundPolicy | None) -> int | None:
    return milliseconds(p.timeout.request) if p is not None and p.timeout is not None else None


def _retry_setting(p: OutboundPolicy | None) -> tuple[int, tuple[int, ...], int | None] | None:
    if p is None or p.retries is None:
        return None
    r = p.retries
    codes, _ = retry_codes(r.retry_on)
    per_try = milliseconds(r.per_try_timeout) if r.per_try_timeout else None
    return (r.attempts, tuple(codes), per_try)


def _unanimous(
    what: str, callers: dict[Key, list[OutboundPolicy | None]], pick: Callable[[OutboundPolicy | None], Any],
) -> tuple[Any, list[str]]:
    values: dict[Key, set[Hashable]] = {k: {pick(p) for p in ps} for k, ps in callers.items()}
    distinct = set().union(*values.values())
    if len(distinct) <= 1:
        return next(iter(distinct), None), []
    shown = ", ".join(f"{k[0]}/{k[1]}={'/'.join(sorted(map(str, v)))}" for k, v in sorted(values.items()))
    return None, [f"outbound {what} not compiled: the callers declare different values ({shown})"]


def build_mesh_routes(key: Key, svc: LatticeService, inbound: list[ServiceEdge]) -> tuple[list[KubeObject], list[str]]:
    """HTTPRoutes carrying the callers' unanimous retries and request timeout."""
    callers: dict[Key, list[OutboundPolicy | None]] = {}
    for e in inbound:
        callers.setdefault(e.caller_key, []).append(e.outbound_policy)
    warnings = list(dict.fromkeys(
        f"caller {e.caller_key[0]}/{e.caller_key[1]}: retryOn {c!r} has no HTTPRoute equivalent and is ignored"
        for e in inbound if (p := e.outbound_policy) and p.retries
        for c in retry_codes(p.retries.retry_on)[1]
    ))
    request, w1 = _unanimous("timeout", callers, _timeout_setting)
    retry, w2 = _unanimous("retries", callers, _retry_setting)
    warnings += w1 + w2
    rule: KubeObject = {}
    timeouts: KubeObject = {}
    if request is not None:
        timeouts["request"] = gateway_duration(request)
    if retry is not None and retry[0] == 0:
        warnings.append("outbound retries.attempts 0 not compiled: HTTPRouteRetry needs at least one attempt, "
                        "so the mesh default applies")
    elif retry is not None:
        attempts, codes, per_try = retry
        rule["retry"] = {"attempts": attempts, **({"codes": list(codes)} if codes else {})}
        if per_try is not None:
            timeouts["backendRequest"] = gateway_duration(min(per_try, request) if request else per_try)
    if timeouts:
        rule["timeouts"] = timeouts
    if not rule:
        return [], warnings
    ns, name = key
    routes = []
    for port_name, port, _, proto in m.port_table(svc):
        if proto != "TCP":
            continue
        obj = new_object(m.GATEWAY_API, "HTTPRoute", f"{name}-mesh-{port_name}", ns)
        obj["spec"] = {
            "parentRefs": [{"group": "", "kind": "Service", "name": name, "port": port}],
            "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": name, "port": port}], **rule}],
        }
        routes.append(obj)
    return routes, warnings


def _peer_is(principal: str) -> KubeObject:
    return {
        "input": {"name": "peer-principal", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.FilterStateInput",
            "key": "io.istio.peer_principal"}},
        "value_match": {"safe_regex": {"regex": f"^(spiffe://)?{re.escape(principal)}$"}},
    }


def _always(runtime_key: str) -> KubeObject:
    return {"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": runtime_key}


def _limit_filter(caller: Key, principal: str, requests: int, interval: int) -> KubeObject:
    stat = f"lattice_ratelimit_{caller[0]}_{caller[1]}".replace("-", "_")
    limit = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "stat_prefix": stat,
        "token_bucket": {"max_tokens": requests, "tokens_per_fill": requests, "fill_interval": f"{interval}s"},
        "filter_enabled": _always(f"{stat}_enabled"),
        "filter_enforced": _always(f"{stat}_enforced"),
    }
    skip = {"name": "skip", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.common.matcher.action.v3.SkipFilter"}}
    return {
        "name": f"lattice.ratelimit.{caller[0]}.{caller[1]}",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher",
            "extension_config": {"name": "envoy.filters.http.local_ratelimit", "typed_config": limit},
            "xds_matcher": {"matcher_list": {"matchers": [{
                "predicate": {"not_matcher": {"single_predicate": _peer_is(principal)}},
                "on_match": {"action": skip},
            }]}},
        },
    }


def build_rate_limits(
    key: Key, svc: LatticeService, inbound: list[ServiceEdge], cluster: ClusterIdentity
) -> list[KubeObject]:
    """The EnvoyFilter limiting each agreed caller that the callee gave a ``rateLimit``."""
    limits: dict[Key, tuple[int, int]] = {}
    for e in sorted(inbound, key=lambda e: (e.caller_key, e.callee_resource)):
        policy = e.inbound_policy
        if policy is not None and policy.rate_limit is not None and e.caller_key not in limits:
            limits[e.caller_key] = (policy.rate_limit.requests_per_interval, policy.rate_limit.interval_seconds)
    if not limits or not m.service_ports(svc):
        return []
    ns, name = key
    patches = [
        {
            "applyTo": "HTTP_FILTER",
            "match": {"context": "WAYPOINT", "waypoint": {"filter": {
                "name": "envoy.filters.network.http_connection_manager",
                "subFilter": {"name": "envoy.filters.http.router"},
            }}},
            "patch": {"operation": "INSERT_BEFORE",
                      "value": _limit_filter(caller, m.service_principal(cluster, *caller), requests, interval)},
        }
        for caller, (requests, interval) in sorted(limits.items())
    ]
    obj = new_object(m.ENVOY_FILTER_API, "EnvoyFilter", f"ratelimit-{name}", ns)
    obj["spec"] = {"targetRefs": [m.service_target_ref(name)], "configPatches": patches}
    return [obj]


_UNITS = (("Second", 1), ("Minute", 60), ("Hour", 3600), ("Day", 86400))


def per_unit(requests: int, interval_seconds: int) -> tuple[int, str]:
    """``requests`` per ``interval_seconds`` as Envoy Gateway's ``{requests, unit}``.

    The smallest unit at least as long as the interval keeps the average rate (rounded down,
    never below 1): 100 per 30 s -> 200/Minute. Intervals beyond a day scale down to a Day.
    """
    for unit, seconds in _UNITS:
        if seconds >= interval_seconds:
            return max(1, requests * seconds // interval_seconds), unit
    return max(1, requests * 86400 // interval_seconds), "Day"
