"""The bilateral agreement: which (caller, callee) pairs both sides have declared.

A caller C and a callee T form an edge exactly when

- C has a ``service`` (or ``external-service``) resource with direction ``outbound`` or ``both``
  whose target is T (target name = ``id`` or the resource key, namespace = ``namespace`` or C's
  own), or a Score ``service-port`` resource whose ``params.workload`` is T (same namespace), and
- T accepts C: T has a ``service`` resource with direction ``inbound`` or ``both`` whose target
  is C, or a wildcard one (name ``*``; with ``namespace: X`` it accepts callers from X only,
  without one it accepts callers from every namespace). An external service accepts C when C
  lives in its namespace and is listed in ``allowedRequesters`` (or ``*`` is).

The predicate reads only the two specs, so C's compile (C + the related T) and T's compile (T +
the related C) always agree. Every function here is pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from crds.external_service import LatticeExternalService
from crds.service import InboundPolicy, LatticeService, OutboundPolicy, ResourceSpec
from hooks.context import Key

WILDCARD = "*"
SERVICE = "service"
SERVICE_PORT = "service-port"
EXTERNAL = "external-service"
KIND_SERVICE = "LatticeService"
KIND_EXTERNAL = "LatticeExternalService"


@attrs.frozen
class Declaration:
    """One service/external-service resource of a spec, resolved to its target."""

    resource: str
    type: str
    target: Key
    spec: ResourceSpec = attrs.field(eq=False)

    @property
    def wildcard(self) -> bool:
        return self.target[1] == WILDCARD


def declarations(namespace: str, svc: LatticeService) -> list[Declaration]:
    """The service and external-service resources of ``svc``, in resource-key order."""
    out = []
    for key in sorted(svc.spec.resources):
        res = svc.spec.resources[key]
        if res.type in (SERVICE, EXTERNAL):
            out.append(Declaration(key, res.type, (res.namespace or namespace, res.id or key), res))
        elif res.type == SERVICE_PORT and isinstance((res.params or {}).get("workload"), str):
            workload = str((res.params or {})["workload"])
            if "${" not in workload:
                out.append(Declaration(key, SERVICE, (namespace, workload), res))
    return out


def outbound(namespace: str, svc: LatticeService) -> list[Declaration]:
    return [d for d in declarations(namespace, svc) if d.spec.direction.calls_out and not d.wildcard]


def accepting_resource(namespace: str, callee: LatticeService, caller: Key) -> str | None:
    """The callee's resource key that accepts ``caller`` (an explicit one before a wildcard)."""
    wildcard = None
    for d in declarations(namespace, callee):
        if d.type != SERVICE or not d.spec.direction.accepts_in:
            continue
        if d.target == caller:
            return d.resource
        if wildcard is None and d.wildcard and (d.spec.namespace is None or d.spec.namespace == caller[0]):
            wildcard = d.resource
    return wildcard


def external_accepts(ext_key: Key, ext: LatticeExternalService, caller: Key) -> bool:
    if caller[0] != ext_key[0]:
        return False
    requesters = ext.spec.allowed_requesters
    return WILDCARD in requesters or caller[1] in requesters


@attrs.frozen(eq=False)
class ServiceEdge:
    """An agreed call from ``caller`` to ``callee`` (both LatticeServices)."""

    caller_key: Key
    caller: LatticeService
    caller_resource: str
    callee_key: Key
    callee: LatticeService
    callee_resource: str

    @property
    def outbound_policy(self) -> OutboundPolicy | None:
        return self.caller.spec.resources[self.caller_resource].outbound

    @property
    def inbound_policy(self) -> InboundPolicy | None:
        return self.callee.spec.resources[self.callee_resource].inbound


@attrs.frozen(eq=False)
class ExternalEdge:
    """An agreed call from ``caller`` to a LatticeExternalService."""

    caller_key: Key
    caller: LatticeService
    caller_resource: str
    external_key: Key
    external: LatticeExternalService


@attrs.frozen(eq=False)
class Edges:
    """Everything the agreement gives one service, plus what it could not resolve."""

    outbound: list[ServiceEdge]
    inbound: list[ServiceEdge]
    external: list[ExternalEdge]
    missing: list[str]
    warnings: list[str]


def resolve(
    key: Key,
    svc: LatticeService,
    services: Mapping[Key, LatticeService],
    external_services: Mapping[Key, LatticeExternalService],
) -> Edges:
    """The edges of ``svc`` (at ``key``) given the related objects Metacontroller delivered."""
    peers = {**services, key: svc}
    out: list[ServiceEdge] = []
    ext: list[ExternalEdge] = []
    missing: set[str] = set()
    warnings: list[str] = []
    for d in outbound(key[0], svc):
        if d.type == SERVICE:
            callee = peers.get(d.target)
            if callee is None:
                missing.add(f"{KIND_SERVICE} {d.target[0]}/{d.target[1]}")
                continue
            accepted = accepting_resource(d.target[0], callee, key)
            if accepted is not None:
                out.append(ServiceEdge(key, svc, d.resource, d.target, callee, accepted))
            continue
        external = external_services.get(d.target)
        if external is None:
            missing.add(f"{KIND_EXTERNAL} {d.target[0]}/{d.target[1]}")
        elif d.target[0] != key[0]:
            warnings.append(
                f"resources.{d.resource}: {KIND_EXTERNAL} {d.target[0]}/{d.target[1]} is in another "
                "namespace; egress is only authorized to external services in the caller's namespace"
            )
        elif external_accepts(d.target, external, key):
            ext.append(ExternalEdge(key, svc, d.resource, d.target, external))
    inbound = list(_inbound(key, svc, peers))
    return Edges(out, inbound, ext, sorted(missing), warnings)


def _inbound(key: Key, svc: LatticeService, peers: Mapping[Key, LatticeService]) -> Iterator[ServiceEdge]:
    """Related services that declare ``svc`` outbound and that ``svc`` accepts, in key order."""
    for caller_key in sorted(peers):
        caller = peers[caller_key]
        for d in outbound(caller_key[0], caller):
            if d.type != SERVICE or d.target != key:
                continue
            accepted = accepting_resource(key[0], svc, caller_key)
            if accepted is not None:
                yield ServiceEdge(caller_key, caller, d.resource, key, svc, accepted)


@attrs.frozen
class PeerQuery:
    """What a service's sync needs to see: named objects, plus every service of some namespaces.

    ``all_namespaces`` is set when the service accepts ``*`` from any namespace; otherwise
    ``wildcard_namespaces`` lists the namespaces whose LatticeServices may call it.
    """

    services: tuple[Key, ...]
    external_services: tuple[Key, ...]
    wildcard_namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False


def peer_query(key: Key, svc: LatticeService) -> PeerQuery:
    """The related objects the customize hook should ask Metacontroller for."""
    services: set[Key] = set()
    externals: set[Key] = set()
    wild: set[str] = set()
    everywhere = False
    for d in declarations(key[0], svc):
        if d.type == EXTERNAL:
            if d.spec.direction.calls_out:
                externals.add(d.target)
        elif d.wildcard:
            if d.spec.direction.accepts_in:
                everywhere = everywhere or d.spec.namespace is None
                if d.spec.namespace is not None:
                    wild.add(d.spec.namespace)
        else:
            services.add(d.target)
    return PeerQuery(tuple(sorted(services)), tuple(sorted(externals)),
                     () if everywhere else tuple(sorted(wild)), everywhere)
