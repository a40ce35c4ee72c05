"""The whole mesh as one graph: every service declaration of every LatticeService, judged by the
same agreement the compiler uses (``hooks.mesh.graph``), for ``lattice get mesh``.

An edge goes from a caller to a callee and is

* ``agreed`` — both sides declared it (the callee possibly through a wildcard): traffic flows;
* ``one-sided`` — one side declared it and the existing other side did not: no traffic; the edge
  names the missing side and the YAML it must add (the same finding the declaring service's
  ``status.oneSided`` carries);
* ``missing`` — the declared peer does not exist;
* ``blocked`` — an external service in another namespace, which never becomes an edge.

Wildcard acceptances (``*``) are listed as such, with or without callers, and every edge says
whether it crosses namespaces. ``build_graph`` is linear in the number of declarations (each
service's declarations are computed once). Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs

from crds.external_service import LatticeExternalService
from crds.service import LatticeService
from hooks.context import Key
from hooks.mesh import vocabulary as m
from hooks.mesh.graph import (
    EXTERNAL,
    KIND_EXTERNAL,
    KIND_SERVICE,
    SERVICE,
    Declaration,
    accepting,
    callee_fix,
    caller_fix,
    calling,
    declarations,
    external_accepts,
    external_fix,
)


class EdgeStatus(enum.StrEnum):
    AGREED = "agreed"
    ONE_SIDED = "one-sided"
    MISSING = "missing"
    BLOCKED = "blocked"


CALLER, CALLEE = "caller", "callee"


@attrs.frozen
class MeshEdge:
    """A declared call from ``caller`` to ``callee`` (a LatticeService or LatticeExternalService)."""

    caller: Key
    callee: Key
    callee_kind: str
    status: EdgeStatus
    caller_resource: str | None = None  # the caller's declaring resource key; None: it declares nothing
    callee_resource: str | None = None  # the callee's accepting key ("*" for a wildcard)
    wildcard: bool = False  # accepted through a wildcard
    missing_side: str | None = None  # CALLER or CALLEE, when not agreed
    detail: str = ""  # why it is not agreed, in words
    fix: str = ""  # the YAML the missing side must add under its spec
    ports: tuple[str, ...] = ()  # the callee's ports, "name port/PROTO"

    @property
    def cross_namespace(self) -> bool:
        return self.caller[0] != self.callee[0]

    @property
    def external(self) -> bool:
        return self.callee_kind == KIND_EXTERNAL

    @property
    def fix_for(self) -> Key | None:
        if self.missing_side == CALLER:
            return self.caller
        return self.callee if self.missing_side == CALLEE else None


@attrs.frozen
class Wildcard:
    """``service`` accepts every declaring caller of ``namespace`` (None: of every namespace)."""

    service: Key
    resource: str
    namespace: str | None


@attrs.frozen
class MeshGraph:
    services: tuple[Key, ...]
    externals: tuple[Key, ...]
    edges: tuple[MeshEdge, ...]
    wildcards: tuple[Wildcard, ...]

    def in_namespaces(self, namespaces: Iterable[str] | None) -> MeshGraph:
        """The part touching ``namespaces`` (None: everything): nodes there, edges with an end there."""
        if namespaces is None:
            return self
        keep = set(namespaces)
        return MeshGraph(
            tuple(k for k in self.services if k[0] in keep),
            tuple(k for k in self.externals if k[0] in keep),
            tuple(e for e in self.edges if e.caller[0] in keep or e.callee[0] in keep),
            tuple(w for w in self.wildcards if w.service[0] in keep),
        )

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in EdgeStatus}
        for e in self.edges:
            out[e.status.value] += 1
        return out


def _show(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def _ports(svc: LatticeService) -> tuple[str, ...]:
    return tuple(f"{name} {port}/{proto}" for name, port, _, proto in m.port_table(svc))


def _external_ports(ext: LatticeExternalService) -> tuple[str, ...]:
    return tuple(f"{name} {ep.port}/{ep.protocol.upper()}" for name, ep in sorted(ext.spec.parsed_endpoints().items()))


def build_graph(services: Mapping[Key, LatticeService],
                externals: Mapping[Key, LatticeExternalService]) -> MeshGraph:
    """Every declaration of ``services`` as an edge (see the module doc), sorted."""
    decls = {k: declarations(k[0], s) for k, s in services.items()}
    ports = _PortCache(services)
    edges: list[MeshEdge] = []
    wildcards: list[Wildcard] = []
    for key in sorted(services):
        for d in decls[key]:
            if d.wildcard:
                if d.type == SERVICE and d.accepts_in:
                    wildcards.append(Wildcard(key, d.resource, d.spec.namespace))
                continue
            if d.calls_out:
                edges.append(_outbound(key, d, services, externals, decls, ports))
            if d.type == SERVICE and d.accepts_in:
                edge = _inbound(key, d, services, decls, ports)
                if edge is not None:
                    edges.append(edge)
    edges.sort(key=lambda e: (e.caller, e.callee, e.caller_resource or "", e.callee_resource or ""))
    return MeshGraph(tuple(sorted(services)), tuple(sorted(externals)), tuple(edges), tuple(wildcards))


class _PortCache:
    """Each callee's ports, formatted once."""

    def __init__(self, services: Mapping[Key, LatticeService]) -> None:
        self.services = services
        self.known: dict[Key, tuple[str, ...]] = {}

    def __getitem__(self, key: Key) -> tuple[str, ...]:
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = _ports(self.services[key])
        return found


def _outbound(key: Key, d: Declaration, services: Mapping[Key, LatticeService],
              externals: Mapping[Key, LatticeExternalService], decls: Mapping[Key, list[Declaration]],
              port_cache: _PortCache) -> MeshEdge:
    if d.type == EXTERNAL:
        ext = externals.get(d.target)
        if ext is None:
            return MeshEdge(key, d.target, KIND_EXTERNAL, EdgeStatus.MISSING, d.resource, missing_side=CALLEE,
                            detail=f"no {KIND_EXTERNAL} {_show(d.target)} exists")
        ports = _external_ports(ext)
        if d.target[0] != key[0]:
            return MeshEdge(key, d.target, KIND_EXTERNAL, EdgeStatus.BLOCKED, d.resource, ports=ports,
                            detail="an external service in another namespace is never an edge; declare a "
                                   f"{KIND_EXTERNAL} in {key[0]}")
        if external_accepts(d.target, ext, key):
            return MeshEdge(key, d.target, KIND_EXTERNAL, EdgeStatus.AGREED, d.resource, ports=ports)
        return MeshEdge(key, d.target, KIND_EXTERNAL, EdgeStatus.ONE_SIDED, d.resource, missing_side=CALLEE,
                        detail=f"{_show(d.target)} does not list {key[1]} in allowedRequesters",
                        fix=external_fix(ext, key), ports=ports)
    callee = services.get(d.target)
    if callee is None:
        return MeshEdge(key, d.target, KIND_SERVICE, EdgeStatus.MISSING, d.resource, missing_side=CALLEE,
                        detail=f"no {KIND_SERVICE} {_show(d.target)} exists",
                        fix=callee_fix(d.target, None, key))
    accepted = accepting(decls[d.target], key)
    ports = port_cache[d.target]
    if accepted is not None:
        wild = callee.spec.resources[accepted]
        is_wild = (wild.id or accepted) == "*"
        return MeshEdge(key, d.target, KIND_SERVICE, EdgeStatus.AGREED, d.resource, accepted, is_wild, ports=ports)
    return MeshEdge(key, d.target, KIND_SERVICE, EdgeStatus.ONE_SIDED, d.resource, missing_side=CALLEE,
                    detail=f"{_show(d.target)} does not accept {_show(key)}",
                    fix=callee_fix(d.target, callee, key), ports=ports)


def _inbound(key: Key, d: Declaration, services: Mapping[Key, LatticeService],
             decls: Mapping[Key, list[Declaration]], port_cache: _PortCache) -> MeshEdge | None:
    """The edge of an explicit inbound declaration, unless the caller's side already yields it."""
    caller = services.get(d.target)
    ports = port_cache[key]
    if caller is None:
        return MeshEdge(d.target, key, KIND_SERVICE, EdgeStatus.MISSING, None, d.resource, missing_side=CALLER,
                        detail=f"no {KIND_SERVICE} {_show(d.target)} exists", fix=caller_fix(d.target, None, key),
                        ports=ports)
    if calling(decls[d.target], key):
        return None  # agreed (or judged) from the caller's declaration
    return MeshEdge(d.target, key, KIND_SERVICE, EdgeStatus.ONE_SIDED, None, d.resource, missing_side=CALLER,
                    detail=f"{_show(d.target)} does not call {_show(key)}",
                    fix=caller_fix(d.target, caller, key), ports=ports)
