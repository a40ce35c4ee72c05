"""CiliumNetworkPolicy (L4) of one service: its agreed callers in, its agreed callees out.

Shape (``cilium.io/v2``, ``policy-<svc>``; both directions default-deny):

- ingress: the agreed callers' pods to the container ports; this namespace's waypoint on HBONE
  15008 (when there are callers); the ingress gateway's proxies (from ``hooks.mesh.ingress``).
- egress: kube-dns on 53 (with the DNS proxy rule ``matchPattern: "*"`` when some FQDN egress
  exists, which Cilium needs to learn the names' addresses); the waypoints of the callees'
  namespaces on 15008; each agreed callee's pods on its container ports; each agreed external
  service's hostnames (``toFQDNs``) or addresses (``toCIDR``, /32 or /128) on its endpoint ports.

In ambient mode the mesh carries pod-to-pod traffic as HBONE on 15008 through the waypoint, so
the waypoint rules carry the traffic and the per-pair rules on application ports are the
defence in depth for traffic outside the mesh. Both are derived from the same edge set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from crds import KubeObject
from crds.external_service import Endpoint
from crds.service import LatticeService
from hooks.context import Key
from hooks.labels import SELECTOR, new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.graph import Edges, ExternalEdge

_DNS_PORTS = [(53, "UDP"), (53, "TCP")]


def policy_name(service: str) -> str:
    return f"policy-{service}"


def dns_rule() -> KubeObject:
    return {"toEndpoints": [{"matchLabels": dict(m.KUBE_DNS)}], "toPorts": m.cilium_ports(_DNS_PORTS)}


def build_network_policy(key: Key, svc: LatticeService, edges: Edges, extra_ingress: list[KubeObject],
                         extra_egress: Sequence[KubeObject] = ()) -> KubeObject:
    ns, name = key
    obj = new_object(m.CILIUM_API, "CiliumNetworkPolicy", policy_name(name), ns)
    spec: KubeObject = {
        "endpointSelector": {"matchLabels": {f"k8s:{SELECTOR}": name}},
        "enableDefaultDeny": {"ingress": True, "egress": True},
    }
    ingress = _ingress(key, svc, edges) + extra_ingress
    if ingress:
        spec["ingress"] = ingress
    spec["egress"] = _egress(edges) + list(extra_egress)
    obj["spec"] = spec
    return obj


def _ingress(key: Key, svc: LatticeService, edges: Edges) -> list[KubeObject]:
    callers = sorted({e.caller_key for e in edges.inbound})
    ports = m.container_ports(svc)
    if not callers or not ports:
        return []
    return [
        {"fromEndpoints": [{"matchLabels": m.service_pods(*c)} for c in callers], "toPorts": m.cilium_ports(ports)},
        {"fromEndpoints": [{"matchLabels": m.waypoint_pods(key[0])}],
         "toPorts": m.cilium_ports([(m.HBONE_PORT, "TCP")])},
    ]


def _egress(edges: Edges) -> list[KubeObject]:
    callees: dict[Key, LatticeService] = {}
    for e in edges.outbound:
        if m.container_ports(e.callee):
            callees.setdefault(e.callee_key, e.callee)
    external = _external_rules(edges.external)
    dns = dns_rule()
    if any("toFQDNs" in r for r in external):
        dns["toPorts"][0]["rules"] = {"dns": [{"matchPattern": "*"}]}
    rules = [dns]
    waypoint_ns = sorted({k[0] for k in callees} | {e.external_key[0] for e in edges.external})
    if waypoint_ns:
        rules.append({"toEndpoints": [{"matchLabels": m.waypoint_pods(ns)} for ns in waypoint_ns],
                      "toPorts": m.cilium_ports([(m.HBONE_PORT, "TCP")])})
    for k in sorted(callees):
        rules.append({"toEndpoints": [{"matchLabels": m.service_pods(*k)}],
                      "toPorts": m.cilium_ports(m.container_ports(callees[k]))})
    return rules + external


def _external_rules(edges: list[ExternalEdge]) -> list[KubeObject]:
    """One rule per set of hosts sharing the same ports, FQDNs first, then CIDRs."""
    by_host: dict[str, set[int]] = {}
    for e in edges:
        for ep in e.external.spec.parsed_endpoints().values():
            by_host.setdefault(ep.host, set()).add(ep.port)
    fqdn: dict[tuple[int, ...], list[str]] = {}
    cidr: dict[tuple[int, ...], list[str]] = {}
    for host in sorted(by_host):
        ports = tuple(sorted(by_host[host]))
        if _is_ip(host):
            cidr.setdefault(ports, []).append(_cidr(host))
        else:
            fqdn.setdefault(ports, []).append(host)
    rules: list[KubeObject] = []
    for ports, hosts in sorted(fqdn.items()):
        rules.append({"toFQDNs": [{"matchName": h} for h in hosts],
                      "toPorts": m.cilium_ports([(p, "TCP") for p in ports])})
    for ports, blocks in sorted(cidr.items()):
        rules.append({"toCIDR": blocks, "toPorts": m.cilium_ports([(p, "TCP") for p in ports])})
    return rules


def _is_ip(host: str) -> bool:
    return Endpoint("tcp", host, 1, "").is_ip


def _cidr(host: str) -> str:
    ip = ipaddress.ip_address(host)
    return f"{ip}/{ip.max_prefixlen}"
