"""Would traffic flow from one service to another (on a port)? The answer and why, for ``lattice
policy check --from/--to``.

The decision is the agreement (``hooks.mesh.graph``). The *why* is read off the objects the
compiler generates for both sides (``resolve_mesh``), so it names exactly the CiliumNetworkPolicy
and AuthorizationPolicy rules that admit the caller, or, when nothing does, the default-deny
policy that drops it and what the missing side must add. A port is checked against the callee's
declared ports: a waypoint matches the Service port, Cilium and ztunnel the container port, so
either is accepted and both are named. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from crds import KubeObject
from crds.external_service import LatticeExternalService
from crds.service import LatticeService
from hooks.context import ClusterIdentity, Key, ServiceContext
from hooks.mesh import vocabulary as m
from hooks.mesh.compile import resolve_mesh
from hooks.mesh.view import EdgeStatus, MeshEdge, build_graph

CNP = "CiliumNetworkPolicy"
AP = "AuthorizationPolicy"


@attrs.frozen
class FlowCheck:
    """``allowed`` and why: ``reasons`` (the agreement, the port), ``objects`` (each generated rule
    that admits the traffic, or the default deny that drops it), and ``fix`` for a missing side."""

    caller: Key
    callee: Key
    port: int | None
    allowed: bool
    reasons: tuple[str, ...]
    objects: tuple[str, ...] = ()
    edge: MeshEdge | None = None

    @property
    def fix(self) -> str:
        return self.edge.fix if self.edge is not None else ""

    @property
    def fix_for(self) -> Key | None:
        return self.edge.fix_for if self.edge is not None else None


def _show(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def check_flow(services: Mapping[Key, LatticeService], externals: Mapping[Key, LatticeExternalService],
               caller: Key, callee: Key, port: int | None = None,
               cluster: ClusterIdentity | None = None) -> FlowCheck:
    cluster = cluster or ClusterIdentity()
    if caller not in services:
        return FlowCheck(caller, callee, port, False, (f"no LatticeService {_show(caller)} exists",))
    if callee not in services and callee not in externals:
        return FlowCheck(caller, callee, port, False,
                         (f"no LatticeService or LatticeExternalService {_show(callee)} exists",))
    involved = {k: s for k, s in services.items() if k in (caller, callee)}
    edges = [e for e in build_graph(involved, {callee: externals[callee]} if callee in externals else {}).edges
             if e.caller == caller and e.callee == callee]
    edge = next((e for e in edges if e.status is EdgeStatus.AGREED), edges[0] if edges else None)
    if callee in services and callee not in externals:
        return _service_flow(services, caller, callee, port, cluster, edge)
    return _external_flow(services, externals, caller, callee, port, cluster, edge)


def _agreement(caller: Key, callee: Key, edge: MeshEdge | None) -> tuple[bool, str]:
    if edge is None:
        return False, (f"{_show(caller)} does not declare {_show(callee)} outbound, and {_show(callee)} "
                       f"does not accept {_show(caller)}: neither side declares this call")
    if edge.status is EdgeStatus.AGREED:
        via = " (through its wildcard)" if edge.wildcard else ""
        accepts = f"; {_show(callee)} accepts it in resources.{edge.callee_resource}{via}" \
            if edge.callee_resource else f"; {_show(callee)} lists {caller[1]} in allowedRequesters"
        return True, f"agreed: {_show(caller)} declares it in resources.{edge.caller_resource}{accepts}"
    side = "the callee" if edge.missing_side == "callee" else "the caller"
    return False, f"{edge.status.value}: {edge.detail} (missing on {side}'s side)"


def _service_flow(services: Mapping[Key, LatticeService], caller: Key, callee: Key, port: int | None,
                  cluster: ClusterIdentity, edge: MeshEdge | None) -> FlowCheck:
    agreed, why = _agreement(caller, callee, edge)
    reasons = [why]
    target = services[callee]
    table = m.port_table(target)
    port_ok = True
    if not table:
        port_ok = False
        reasons.append(f"{_show(callee)} declares no service.ports: nothing can address it")
    elif port is not None:
        hits = [(n, p, t, proto) for n, p, t, proto in table if port in (p, t)]
        if hits:
            reasons.append("port " + "; ".join(f"{port} is {n}: Service port {p}, container port {t}/{proto}"
                                               for n, p, t, proto in hits))
        else:
            port_ok = False
            listed = ", ".join(f"{n} {p}" for n, p, _, _ in table)
            reasons.append(f"port {port} is not a port of {_show(callee)} (its ports: {listed})")
    if agreed:
        objects = _service_evidence(services, caller, callee, cluster)
    else:
        objects = _service_denial(caller, callee, cluster)
    return FlowCheck(caller, callee, port, agreed and port_ok, tuple(reasons), tuple(objects), edge)


def _children(services: Mapping[Key, LatticeService], key: Key,
              cluster: ClusterIdentity) -> dict[tuple[str, str], KubeObject]:
    ctx = ServiceContext(service=services[key], services=services, cluster=cluster)
    return {(c["kind"], c["metadata"]["name"]): c for c in resolve_mesh(ctx).children}


def _ports_of(rule: KubeObject) -> str:
    return ", ".join(f"{p['port']}/{p['protocol']}" for tp in rule.get("toPorts") or [] for p in tp.get("ports") or [])


def _service_evidence(services: Mapping[Key, LatticeService], caller: Key, callee: Key,
                      cluster: ClusterIdentity) -> list[str]:
    """The rules, in the objects both sides generate, that admit this call."""
    out: list[str] = []
    theirs = _children(services, callee, cluster)
    mine = _children(services, caller, cluster)
    pods = m.service_pods(*caller)
    cnp = theirs.get((CNP, f"policy-{callee[1]}"))
    for rule in (cnp or {}).get("spec", {}).get("ingress") or []:
        if any(sel.get("matchLabels") == pods for sel in rule.get("fromEndpoints") or []):
            out.append(f"{CNP} {callee[0]}/policy-{callee[1]}: ingress from {_show(caller)} on {_ports_of(rule)}")
    for rule in (cnp or {}).get("spec", {}).get("ingress") or []:
        if any(sel.get("matchLabels") == m.waypoint_pods(callee[0]) for sel in rule.get("fromEndpoints") or []):
            out.append(f"{CNP} {callee[0]}/policy-{callee[1]}: ingress from the {callee[0]} waypoint on "
                       f"{_ports_of(rule)} (HBONE)")
    principal = m.service_principal(cluster, *caller)
    ap = theirs.get((AP, f"allow-to-{callee[1]}"))
    for rule in (ap or {}).get("spec", {}).get("rules") or []:
        if any(principal in f.get("source", {}).get("principals", []) for f in rule.get("from") or []):
            ports = [p for t in rule.get("to") or [] for p in t.get("operation", {}).get("ports", [])]
            out.append(f"{AP} {callee[0]}/allow-to-{callee[1]}: ALLOW {principal} on Service port(s) "
                       f"{', '.join(ports)} (at the {callee[0]} waypoint)")
    if (AP, f"allow-waypoint-to-{callee[1]}") in theirs:
        out.append(f"{AP} {callee[0]}/allow-waypoint-to-{callee[1]}: ALLOW the {callee[0]} waypoint to the pods")
    egress = (mine.get((CNP, f"policy-{caller[1]}")) or {}).get("spec", {}).get("egress") or []
    target = m.service_pods(*callee)
    for rule in egress:
        if any(sel.get("matchLabels") == target for sel in rule.get("toEndpoints") or []):
            out.append(f"{CNP} {caller[0]}/policy-{caller[1]}: egress to {_show(callee)} on {_ports_of(rule)}")
        if any(sel.get("matchLabels") == m.waypoint_pods(callee[0]) for sel in rule.get("toEndpoints") or []):
            out.append(f"{CNP} {caller[0]}/policy-{caller[1]}: egress to the {callee[0]} waypoint on "
                       f"{_ports_of(rule)} (HBONE)")
    return out


def _service_denial(caller: Key, callee: Key, cluster: ClusterIdentity) -> list[str]:
    principal = m.service_principal(cluster, *caller)
    return [
        f"{CNP} {callee[0]}/policy-{callee[1]}: default deny (enableDefaultDeny); no ingress rule admits "
        f"{_show(caller)}",
        f"{AP} {callee[0]}/allow-to-{callee[1]}: does not list {principal} (the mesh denies what no "
        "ALLOW policy allows)",
        f"{CNP} {caller[0]}/policy-{caller[1]}: default deny; no egress rule to {_show(callee)}",
    ]


def _external_flow(services: Mapping[Key, LatticeService], externals: Mapping[Key, LatticeExternalService],
                   caller: Key, callee: Key, port: int | None, cluster: ClusterIdentity,
                   edge: MeshEdge | None) -> FlowCheck:
    agreed, why = _agreement(caller, callee, edge)
    reasons = [why]
    ext = externals[callee]
    endpoints = ext.spec.parsed_endpoints()
    port_ok = True
    if port is not None:
        hits = sorted(n for n, ep in endpoints.items() if ep.port == port)
        if hits:
            reasons.append(f"port {port} is endpoint {', '.join(hits)}")
        else:
            port_ok = False
            listed = ", ".join(f"{n} {ep.port}" for n, ep in sorted(endpoints.items()))
            reasons.append(f"port {port} is not an endpoint port of {_show(callee)} (its endpoints: {listed})")
    objects: list[str] = []
    if agreed:
        ctx = ServiceContext(service=services[caller], services=services, external_services=externals,
                             cluster=cluster)
        mine = {(c["kind"], c["metadata"]["name"]): c for c in resolve_mesh(ctx).children}
        for rule in (mine.get((CNP, f"policy-{caller[1]}")) or {}).get("spec", {}).get("egress") or []:
            if "toFQDNs" in rule or "toCIDR" in rule:
                names = [f["matchName"] for f in rule.get("toFQDNs") or []] + list(rule.get("toCIDR") or [])
                out = f"{CNP} {caller[0]}/policy-{caller[1]}: egress to {', '.join(names)} on {_ports_of(rule)}"
                objects.append(out)
        name = f"allow-{caller[1]}-to-{callee[1]}"
        if (AP, name) in mine:
            objects.append(f"{AP} {caller[0]}/{name}: ALLOW {m.service_principal(cluster, *caller)} at the "
                           f"ServiceEntry {callee[1]}")
    else:
        objects.append(f"{CNP} {caller[0]}/policy-{caller[1]}: default deny; no egress rule to {_show(callee)}'s "
                       "endpoints")
    return FlowCheck(caller, callee, port, agreed and port_ok, tuple(reasons), tuple(objects), edge)
