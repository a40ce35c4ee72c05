"""A LatticeExternalService compiles into its own ServiceEntry (a namespaced parent owns
children in its namespace only, so the entry is not re-emitted by every caller).

ServiceEntry ``networking.istio.io/v1`` ``<name>``, labelled ``istio.io/use-waypoint:
<ns>-waypoint`` so egress passes the namespace waypoint, where the callers'
``allow-<caller>-to-<name>`` AuthorizationPolicies are enforced:

- ``resolution: dns``: ``hosts`` = the endpoint hosts (first occurrence, endpoint-name order).
- ``resolution: static``: the endpoints are IP addresses; ``addresses`` holds them as /32 or /128
  (that is what captures the traffic), ``endpoints`` lists them, and ``hosts`` is the single name
  ``<name>.<ns>.external`` (Istio requires a host; it is never resolved).
- ``ports``: one per distinct port number, named after the first endpoint using it, protocol the
  upper-cased scheme (HTTPS, HTTP, TCP, GRPC); ``location: MESH_EXTERNAL``.

Status: Ready/True/EndpointsConfigured, or Failed with Ready/False/ValidationFailed and no
ServiceEntry (an unusable entry would only mislead).
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from crds import Condition, ConditionStatus, KubeObject, Phase
from crds.external_service import (
    LatticeExternalService,
    LatticeExternalServiceStatus,
    Resolution,
    parse_endpoint,
)
from hooks import names
from hooks.context import ClusterIdentity
from hooks.labels import new_object
from hooks.mesh import vocabulary as m

READY_MESSAGE = "External service is configured"


@attrs.frozen
class ExternalResult:
    children: list[KubeObject]
    status: LatticeExternalServiceStatus


def compile_external_service(ext: LatticeExternalService, cluster: ClusterIdentity) -> ExternalResult:
    ns = ext.namespace or "default"
    entry, error = _service_entry(ext, ns)
    if error is not None or entry is None:
        message = error or "no endpoints"
        cond = Condition(type="Ready", status=ConditionStatus.FALSE, reason="ValidationFailed", message=message,
                         observed_generation=ext.metadata.generation)
        return ExternalResult([], LatticeExternalServiceStatus(
            phase=Phase.FAILED, message=message, conditions=[cond], observed_generation=ext.metadata.generation))
    cond = Condition(type="Ready", status=ConditionStatus.TRUE, reason="EndpointsConfigured", message=READY_MESSAGE,
                     observed_generation=ext.metadata.generation)
    return ExternalResult([entry], LatticeExternalServiceStatus(
        phase=Phase.READY, message=READY_MESSAGE, conditions=[cond], observed_generation=ext.metadata.generation))


def _service_entry(ext: LatticeExternalService, ns: str) -> tuple[KubeObject | None, str | None]:
    if not ext.spec.endpoints:
        return None, "external service must have at least one endpoint"
    hosts: list[str] = []
    ports: dict[int, KubeObject] = {}
    for key in sorted(ext.spec.endpoints):
        ep = parse_endpoint(ext.spec.endpoints[key])
        if ep is None:
            return None, f"invalid endpoint URL for '{key}': {ext.spec.endpoints[key]}"
        if ext.spec.resolution is Resolution.STATIC and not ep.is_ip:
            return None, f"endpoint '{key}': resolution 'static' needs IP addresses, not hostnames"
        if ep.host not in hosts:
            hosts.append(ep.host)
        protocol = ep.protocol.upper()
        known = ports.setdefault(ep.port, {"number": ep.port, "name": _port_name(key, ep.port), "protocol": protocol})
        if known["protocol"] != protocol:
            return None, (f"two endpoints use port {ep.port} "
                          f"with different protocols ({known['protocol']}, {protocol})")
    name = ext.name
    obj = new_object(m.ISTIO_NETWORKING_API, "ServiceEntry", name, ns,
                     labels={m.USE_WAYPOINT_LABEL: names.waypoint_name(ns)})
    spec: KubeObject = {"location": "MESH_EXTERNAL", "ports": [ports[p] for p in sorted(ports)]}
    if ext.spec.resolution is Resolution.STATIC:
        addrs = [ipaddress.ip_address(h) for h in hosts]
        spec["hosts"] = [f"{name}.{ns}.external"]
        spec["addresses"] = [f"{a}/{a.max_prefixlen}" for a in addrs]
        spec["endpoints"] = [{"address": str(a)} for a in addrs]
        spec["resolution"] = "STATIC"
    else:
        spec["hosts"] = hosts
        spec["resolution"] = "DNS"
    obj["spec"] = {k: spec[k] for k in ("hosts", "addresses", "ports", "location", "resolution", "endpoints")
                   if k in spec}
    return obj, None


def _port_name(endpoint: str, port: int) -> str:
    """Istio port names are DNS labels; an endpoint key that is not one is made into one."""
    label = re.sub(r"[^a-z0-9-]+", "-", endpoint.lower()).strip("-")[:63].strip("-")
    return label or f"port-{port}"
