"""Mesh policies for the data services a provisioner made (postgres, redis, ...): the workload that
declared the resource (and every service sharing it by id) may call them, nothing else may.

A provisioned Service lives in the service's namespace, so the namespace waypoint carries its
traffic like any LatticeService's (the namespace label points every Service at the waypoint):

- ``policy-<svc name>``: CiliumNetworkPolicy on the Service's pods (its selector): ingress from the
  callers' pods on the container ports and from the waypoint on HBONE 15008; egress only to DNS.
- ``allow-to-<svc name>`` (targetRefs the Service, enforced by the waypoint: the callers'
  principals on the Service ports) and ``allow-waypoint-to-<svc name>`` (selector, enforced by
  ztunnel: only the waypoint, on the container ports).
- ``egress_rules``: what the caller's own CiliumNetworkPolicy adds (the waypoint on 15008 and the
  data pods on their container ports).
"""

from __future__ import annotations

from collections.abc import Sequence

from crds import KubeObject
from hooks.context import ClusterIdentity, DataService
from hooks.labels import new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.authorization_policy import allow_policy
from hooks.mesh.network_policy import dns_rule, policy_name


def pods(ds: DataService) -> dict[str, str]:
    return m.pods(ds.namespace, **dict(ds.selector))


def build_data_service_policies(ds: DataService, cluster: ClusterIdentity) -> list[KubeObject]:
    cnp = new_object(m.CILIUM_API, "CiliumNetworkPolicy", policy_name(ds.name), ds.namespace)
    callers = sorted(set(ds.callers))
    cnp["spec"] = {
        "endpointSelector": {"matchLabels": {f"k8s:{k}": v for k, v in ds.selector}},
        "enableDefaultDeny": {"ingress": True, "egress": True},
        "ingress": [
            {"fromEndpoints": [{"matchLabels": m.service_pods(*c)} for c in callers],
             "toPorts": m.cilium_ports(ds.container_ports())},
            {"fromEndpoints": [{"matchLabels": m.waypoint_pods(ds.namespace)}],
             "toPorts": m.cilium_ports([(m.HBONE_PORT, "TCP")])},
        ],
        "egress": [dns_rule()],
    }
    principals = [m.service_principal(cluster, *c) for c in callers]
    service_ports = sorted({p for p, _, proto in ds.ports if proto == "TCP"})
    pod_ports = sorted({t for _, t, proto in ds.ports if proto == "TCP"})
    return [
        cnp,
        allow_policy(ds.namespace, f"allow-to-{ds.name}", {"targetRefs": [m.service_target_ref(ds.name)]},
                     principals, service_ports),
        allow_policy(ds.namespace, f"allow-waypoint-to-{ds.name}",
                     {"selector": {"matchLabels": dict(ds.selector)}},
                     [m.waypoint_principal(cluster, ds.namespace)], pod_ports),
    ]


def egress_rules(data_services: Sequence[DataService]) -> list[KubeObject]:
    """The caller's egress to the data services: their namespace's waypoint, then their pods."""
    if not data_services:
        return []
    rules: list[KubeObject] = [{
        "toEndpoints": [{"matchLabels": m.waypoint_pods(ns)} for ns in sorted({d.namespace for d in data_services})],
        "toPorts": m.cilium_ports([(m.HBONE_PORT, "TCP")]),
    }]
    for ds in sorted(data_services, key=lambda d: (d.namespace, d.name)):
        rules.append({"toEndpoints": [{"matchLabels": pods(ds)}], "toPorts": m.cilium_ports(ds.container_ports())})
    return rules
