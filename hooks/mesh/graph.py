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
the related C) always agree. A declaration its existing peer has not matched is **one-sided**
(``one_sided``): it carries no traffic, and the finding names what the peer must add, as YAML.
Every function here is pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from crds.external_service import LatticeExternalService
from crds.service import Direction, InboundPolicy, LatticeService, OutboundPolicy, ResourceSpec
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
    # Read from the spec once (the graph asks them for every pair it judges).
    calls_out: bool = attrs.field(default=False, eq=False)
    accepts_in: bool = attrs.field(default=False, eq=False)

    @property
    def wildcard(self) -> bool:
        return self.target[1] == WILDCARD


def declarations(namespace: str, svc: LatticeService) -> list[Declaration]:
    """The service and external-service resources of ``svc``, in resource-key order."""
    out = []
    for key in sorted(svc.spec.resources):
        res = svc.spec.resources[key]
        if res.type in (SERVICE, EXTERNAL):
            direction = res.direction
            out.append(Declaration(key, res.type, (res.namespace or namespace, res.id or key), res,
                                   direction.calls_out, direction.accepts_in))
        elif res.type == SERVICE_PORT and isinstance((res.params or {}).get("workload"), str):
            workload = str((res.params or {})["workload"])
            if "${" not in workload:
                out.append(Declaration(key, SERVICE, (namespace, workload), res,
                                       res.direction.calls_out, res.direction.accepts_in))
    return out


def outbound(namespace: str, svc: LatticeService) -> list[Declaration]:
    return [d for d in declarations(namespace, svc) if d.calls_out and not d.wildcard]


def accepting_resource(namespace: str, callee: LatticeService, caller: Key) -> str | None:
    """The callee's resource key that accepts ``caller`` (an explicit one before a wildcard)."""
    return accepting(declarations(namespace, callee), caller)


def accepting(callee_declarations: list[Declaration], caller: Key) -> str | None:
    """``accepting_resource`` over a callee's already computed ``declarations``."""
    wildcard = None
    for d in callee_declarations:
        if d.type != SERVICE or not d.accepts_in:
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


@attrs.frozen
class OneSided:
    """A declaration of ``declarer`` that its peer has not matched, so no traffic flows on it.

    ``direction`` is the declarer's: ``OUTBOUND`` (it calls the peer, which does not accept it) or
    ``INBOUND`` (it accepts the peer, which does not call it). ``fix`` is the YAML the peer must
    add under its ``spec``; ``peer_exists`` is False for an accepted caller that does not exist.
    """

    declarer: Key
    resource: str
    direction: Direction
    peer_kind: str
    peer: Key
    missing: str
    fix: str
    peer_exists: bool = True

    @property
    def summary(self) -> str:
        return f"resources.{self.resource}: {self.missing}"


@attrs.frozen(eq=False)
class Edges:
    """Everything the agreement gives one service, plus what it could not resolve."""

    outbound: list[ServiceEdge]
    inbound: list[ServiceEdge]
    external: list[ExternalEdge]
    missing: list[str]
    warnings: list[str]
    one_sided: list[OneSided] = attrs.field(factory=list)


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
    return Edges(out, inbound, ext, sorted(missing), warnings, one_sided(key, svc, peers, external_services))


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


def calls(caller_key: Key, caller: LatticeService, callee: Key) -> bool:
    """Whether ``caller`` declares ``callee`` (a LatticeService) outbound."""
    return calling(declarations(caller_key[0], caller), callee)


def calling(caller_declarations: list[Declaration], callee: Key) -> bool:
    """``calls`` over a caller's already computed ``declarations``."""
    return any(d.type == SERVICE and d.target == callee and d.calls_out and not d.wildcard
               for d in caller_declarations)


def one_sided(
    key: Key,
    svc: LatticeService,
    services: Mapping[Key, LatticeService],
    external_services: Mapping[Key, LatticeExternalService],
) -> list[OneSided]:
    """The declarations of ``svc`` that an existing peer has not matched, plus accepted callers
    that do not exist. Outbound declarations of absent peers are not here: they are ``missing``
    (the service waits for them). Wildcards are never one-sided: they accept whoever declares."""
    found: list[OneSided] = []
    for d in declarations(key[0], svc):
        if d.wildcard:
            continue
        if d.type == EXTERNAL:
            ext = external_services.get(d.target)
            if d.calls_out and ext is not None and d.target[0] == key[0] \
                    and not external_accepts(d.target, ext, key):
                found.append(OneSided(
                    key, d.resource, Direction.OUTBOUND, KIND_EXTERNAL, d.target,
                    f"{KIND_EXTERNAL} {_show(d.target)} does not list {key[1]} in allowedRequesters",
                    external_fix(ext, key)))
            continue
        peer = services.get(d.target) if d.target != key else svc
        if d.calls_out and peer is not None and accepting_resource(d.target[0], peer, key) is None:
            found.append(OneSided(
                key, d.resource, Direction.OUTBOUND, KIND_SERVICE, d.target,
                f"{_show(d.target)} does not accept {_show(key)} (it declares no inbound resource for it)",
                callee_fix(d.target, peer, key)))
        if d.accepts_in:
            if peer is None:
                found.append(OneSided(
                    key, d.resource, Direction.INBOUND, KIND_SERVICE, d.target,
                    f"no {KIND_SERVICE} {_show(d.target)} exists to call it",
                    caller_fix(d.target, None, key), peer_exists=False))
            elif not calls(d.target, peer, key):
                found.append(OneSided(
                    key, d.resource, Direction.INBOUND, KIND_SERVICE, d.target,
                    f"{_show(d.target)} does not call {_show(key)} (it declares no outbound resource for it)",
                    caller_fix(d.target, peer, key)))
    return found


def _show(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def callee_fix(callee_key: Key, callee: LatticeService | None, caller_key: Key) -> str:
    """The YAML ``callee`` must add under ``spec`` to accept ``caller_key``."""
    return _fix(callee_key, callee, caller_key, Direction.INBOUND)


def caller_fix(caller_key: Key, caller: LatticeService | None, callee_key: Key) -> str:
    """The YAML ``caller`` must add under ``spec`` to call ``callee_key``."""
    return _fix(caller_key, caller, callee_key, Direction.OUTBOUND)


def _fix(own_key: Key, own: LatticeService | None, peer: Key, direction: Direction) -> str:
    # A resource already naming the peer the other way round only needs `direction: both`.
    existing = declarations(own_key[0], own) if own is not None else []
    for d in existing:
        if d.type == SERVICE and d.spec.type == SERVICE and d.target == peer:  # not a Score service-port
            return f"resources:\n  {d.resource}:\n    direction: both   # was {d.spec.direction.value}\n"
    taken = {d.resource for d in existing} | set(own.spec.resources if own is not None else ())
    key = peer[1] if peer[1] not in taken else f"{peer[0]}-{peer[1]}"
    lines = ["resources:", f"  {key}:", "    type: service", f"    direction: {direction.value}"]
    if key != peer[1]:
        lines.append(f"    id: {peer[1]}")
    if peer[0] != own_key[0]:
        lines.append(f"    namespace: {peer[0]}")
    return "\n".join(lines) + "\n"


def external_fix(ext: LatticeExternalService, caller_key: Key) -> str:
    """The YAML a LatticeExternalService must have under ``spec`` to let ``caller_key`` call it."""
    names = [*ext.spec.allowed_requesters, caller_key[1]]
    return "allowedRequesters:\n" + "".join(f"- {n}\n" for n in names)


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
            if d.calls_out:
                externals.add(d.target)
        elif d.wildcard:
            if d.accepts_in:
                everywhere = everywhere or d.spec.namespace is None
                if d.spec.namespace is not None:
                    wild.add(d.spec.namespace)
        else:
            services.add(d.target)
    return PeerQuery(tuple(sorted(services)), tuple(sorted(externals)),
                     () if everywhere else tuple(sorted(wild)), everywhere)
