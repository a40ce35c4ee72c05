"""Istio AuthorizationPolicies (L7, mTLS identity) of one service. Only ALLOW policies are made:
the mesh is default-deny (root-namespace allow-nothing plus a deny-all on the waypoint class).

- ``allow-to-<svc>``: attached to the Service (``targetRefs``), so the namespace waypoint enforces
  it: the agreed callers' principals, on the Service ports. A waypoint matches a request by the
  Service VIP and the *Service* port (its filter chains are ``inbound-vip|<port>|http|<host>``).
- ``allow-waypoint-to-<svc>``: a workload ``selector`` policy, enforced by ztunnel at the pod:
  only the namespace waypoint may open connections, on the *container* ports (ztunnel sees the
  pod's port; Istio documents AuthorizationPolicy ports as workload ports for selector policies).
- ``allow-<svc>-to-<external>``: attached to the external service's ServiceEntry, enforced by the
  waypoint that carries the egress: this service's principal, on the endpoint ports. targetRefs
  must name an object in the policy's own namespace, so only same-namespace external services get
  an edge (``hooks.mesh.graph`` reports the others).
"""

from __future__ import annotations

from crds import KubeObject
from crds.service import LatticeService
from hooks.context import ClusterIdentity, Key
from hooks.labels import SELECTOR, new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.graph import Edges

KIND = "AuthorizationPolicy"


def allow_policy(namespace: str, name: str, target: KubeObject, principals: list[str], ports: list[int]) -> KubeObject:
    """An ALLOW policy: ``target`` is ``{"targetRefs": [...]}`` or ``{"selector": {...}}``."""
    obj = new_object(m.ISTIO_SECURITY_API, KIND, name, namespace)
    rule: KubeObject = {}
    if principals:
        rule["from"] = [{"source": {"principals": principals}}]
    if ports:
        rule["to"] = [{"operation": {"ports": [str(p) for p in ports]}}]
    obj["spec"] = {**target, "action": "ALLOW", "rules": [rule]}
    return obj


def selector(service: str) -> KubeObject:
    return {"selector": {"matchLabels": {SELECTOR: service}}}


def build_authorization_policies(
    key: Key, svc: LatticeService, edges: Edges, cluster: ClusterIdentity
) -> list[KubeObject]:
    ns, name = key
    out: list[KubeObject] = []
    callers = sorted({e.caller_key for e in edges.inbound})
    service_ports = m.service_ports(svc)
    pod_ports = [p for p, proto in m.container_ports(svc) if proto == "TCP"]
    if callers and service_ports:
        principals = [m.service_principal(cluster, *c) for c in callers]
        out.append(allow_policy(ns, f"allow-to-{name}", {"targetRefs": [m.service_target_ref(name)]},
                                principals, service_ports))
        out.append(allow_policy(ns, f"allow-waypoint-to-{name}", selector(name),
                                [m.waypoint_principal(cluster, ns)], pod_ports))
    seen: set[Key] = set()
    for e in sorted(edges.external, key=lambda e: e.external_key):
        if e.external_key in seen:
            continue
        seen.add(e.external_key)
        ports = sorted({ep.port for ep in e.external.spec.parsed_endpoints().values()})
        ref = {"group": "networking.istio.io", "kind": "ServiceEntry", "name": e.external_key[1]}
        out.append(allow_policy(ns, f"allow-{name}-to-{e.external_key[1]}", {"targetRefs": [ref]},
                                [m.service_principal(cluster, ns, name)], ports))
    return out
