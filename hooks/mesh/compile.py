"""The mesh part of one LatticeService's sync: agreed edges in, policies out.

``resolve_mesh(ctx)`` reads the service and the related objects Metacontroller delivered
(``ctx.services``, ``ctx.external_services``) and returns every mesh child of the service:

- CiliumNetworkPolicy ``policy-<svc>`` (``hooks.mesh.network_policy``),
- AuthorizationPolicies ``allow-to-<svc>``, ``allow-waypoint-to-<svc>``,
  ``allow-<svc>-to-<external>`` (``hooks.mesh.authorization_policy``),
- retries/timeouts HTTPRoutes ``<svc>-mesh-<port>`` and the rate-limit EnvoyFilter
  ``ratelimit-<svc>`` (``hooks.mesh.traffic``),
- ingress: Gateway, HTTPRoute, Certificate, BackendTrafficPolicy, ``allow-gateway-to-<svc>``
  (``hooks.mesh.ingress``).

The namespace waypoint is ``hooks.mesh.namespace``'s and each ServiceEntry is its
LatticeExternalService's (``hooks.mesh.external``). The result depends only on the service's
spec and its peers' specs; children are sorted by (apiVersion, kind, name).
"""

from __future__ import annotations

import attrs

from crds import KubeObject
from crds.service import Direction, OneSidedDeclaration, ResolvedDependency
from hooks.context import ServiceContext
from hooks.mesh.authorization_policy import build_authorization_policies
from hooks.mesh.graph import KIND_EXTERNAL, KIND_SERVICE, Edges, OneSided, resolve
from hooks.mesh.ingress import build_ingress, ingress_rule
from hooks.mesh.network_policy import build_network_policy
from hooks.mesh.provisioned import build_data_service_policies, egress_rules
from hooks.mesh.traffic import build_mesh_routes, build_rate_limits


@attrs.frozen
class MeshResult:
    """``missing`` names declared outbound dependencies not (yet) among the related objects;
    ``warnings`` says which declarations could not be compiled (for the status message);
    ``one_sided`` lists the declarations no peer has matched (the ``MeshAgreed`` condition)."""

    children: list[KubeObject]
    resolved: list[ResolvedDependency]
    missing: list[str]
    warnings: list[str] = attrs.field(factory=list)
    one_sided: list[OneSidedDeclaration] = attrs.field(factory=list)


def resolve_mesh(ctx: ServiceContext) -> MeshResult:
    key, svc = ctx.key, ctx.service
    edges = resolve(key, svc, ctx.services, ctx.external_services)
    routes, route_warnings = build_mesh_routes(key, svc, edges.inbound)
    children = [
        build_network_policy(key, svc, edges, ingress_rule(key, svc, ctx.routes), egress_rules(ctx.data_services)),
        *build_authorization_policies(key, svc, edges, ctx.cluster),
        *routes,
        *build_rate_limits(key, svc, edges.inbound, ctx.cluster),
        *build_ingress(key, svc, ctx.cluster, ctx.routes),
    ]
    for ds in ctx.data_services:
        if ds.owned:
            children += build_data_service_policies(ds, ctx.cluster)
    children.sort(key=lambda o: (o["apiVersion"], o["kind"], o["metadata"]["name"]))
    return MeshResult(children, resolved_dependencies(edges), edges.missing, edges.warnings + route_warnings,
                      [one_sided_declaration(f) for f in edges.one_sided])


def one_sided_declaration(finding: OneSided) -> OneSidedDeclaration:
    return OneSidedDeclaration(
        resource=finding.resource, direction=finding.direction, kind=finding.peer_kind,
        name=finding.peer[1], namespace=finding.peer[0], missing=finding.missing, fix=finding.fix,
    )


def resolved_dependencies(edges: Edges) -> list[ResolvedDependency]:
    """Both directions of every agreed edge, one entry per (direction, peer, resource)."""
    rows: set[tuple[str, str, str, str, str]] = set()
    for e in edges.outbound:
        rows.add((Direction.OUTBOUND.value, KIND_SERVICE, e.callee_key[0], e.callee_key[1], e.caller_resource))
    for x in edges.external:
        rows.add((Direction.OUTBOUND.value, KIND_EXTERNAL, x.external_key[0], x.external_key[1], x.caller_resource))
    for e in edges.inbound:
        rows.add((Direction.INBOUND.value, KIND_SERVICE, e.caller_key[0], e.caller_key[1], e.callee_resource))
    return [
        ResolvedDependency(resource=r, kind=k, name=n, namespace=ns, direction=Direction(d))
        for d, k, ns, n, r in sorted(rows)
    ]
