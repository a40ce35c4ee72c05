"""The Lattice objects a ``lattice get mesh`` / ``lattice policy check`` looks at: read offline from
files (``-f``, as ``lattice render`` reads them) or live from a cluster (kubeconfig and context as
kubectl takes them), and parsed into the models. Objects that do not validate are left out with a
``warning:`` line (the controllers treat them as absent too).

Reading and parsing only; every decision is made below the CLI (``hooks.mesh.view``,
``hooks.mesh.check``, ``lattice_cedar``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import attrs

import crds
from cli.errors import LatticeError
from cli.render import files_of, read_documents
from crds import KubeObject
from crds.cedar_policy import CedarPolicy
from crds.cluster import LatticeCluster
from crds.convert import LatticeObject
from crds.external_service import LatticeExternalService
from crds.service import LatticeService
from hooks.context import Key
from hooks.simulator import normalise
from lattice_cedar import POLICY_NAMESPACE

T = TypeVar("T", bound=LatticeObject)
PLURALS = {"LatticeService": "latticeservices", "LatticeExternalService": "latticeexternalservices",
           "CedarPolicy": "cedarpolicies", "LatticeCluster": "latticeclusters"}


@attrs.frozen
class Source:
    """Where objects come from: files, or a cluster (kubeconfig/context; None = kubectl's defaults)."""

    files: tuple[Path, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None

    @property
    def offline(self) -> bool:
        return bool(self.files)


@attrs.frozen
class Inventory:
    services: dict[Key, LatticeService]
    externals: dict[Key, LatticeExternalService]
    policies: list[CedarPolicy]
    clusters: dict[str, LatticeCluster]
    default_namespace: str  # the context's namespace live, "default" offline
    complete: bool = True  # False: only some namespaces could be read


def _parse(raw: KubeObject, cls: type[T], err: TextIO) -> T | None:
    obj, errors = crds.parse_as(cls, {k: v for k, v in raw.items() if k != "status"})
    if obj is None or errors:
        meta = raw.get("metadata") or {}
        where = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
        first = errors[0] if errors else "unreadable"
        print(f"warning: {cls.__crd__.kind} {where} is left out: it does not validate ({first})", file=err)
        return None
    return obj


def inventory_of(objects: Sequence[KubeObject], err: TextIO, default_namespace: str = "default",
                 complete: bool = True) -> Inventory:
    services: dict[Key, LatticeService] = {}
    externals: dict[Key, LatticeExternalService] = {}
    policies: list[CedarPolicy] = []
    clusters: dict[str, LatticeCluster] = {}
    for raw in normalise(objects):
        kind = raw.get("kind")
        if kind == "LatticeService" and (s := _parse(raw, LatticeService, err)):
            services[(s.namespace or "default", s.name)] = s
        elif kind == "LatticeExternalService" and (e := _parse(raw, LatticeExternalService, err)):
            externals[(e.namespace or "default", e.name)] = e
        elif kind == "CedarPolicy" and (p := _parse(raw, CedarPolicy, err)):
            policies.append(p)
        elif kind == "LatticeCluster" and (c := _parse(raw, LatticeCluster, err)):
            clusters[c.name] = c
    return Inventory(services, externals, policies, clusters, default_namespace, complete)


def read(source: Source, err: TextIO, namespace: str | None = None) -> Inventory:
    """Every LatticeService, LatticeExternalService, CedarPolicy (of lattice-system) and LatticeCluster.

    Live, services are read from every namespace (a one-sided or cross-namespace peer may live
    anywhere); when that is forbidden, from ``namespace`` only, with a warning."""
    if source.offline:
        docs, broken = read_documents(files_of(list(source.files)), err)
        if broken:
            raise LatticeError(f"{broken} file(s) could not be read")
        return inventory_of(docs, err)
    return asyncio.run(_read_live(source, err, namespace))


async def _read_live(source: Source, err: TextIO, namespace: str | None) -> Inventory:
    import httpx
    import kr8s
    import kr8s.asyncio

    try:
        api = await kr8s.asyncio.api(kubeconfig=source.kubeconfig, context=source.context)
    except Exception as exc:
        raise LatticeError(f"cannot load the kubeconfig: {exc}") from exc
    try:
        context_namespace = api.namespace
    except AssertionError:  # kr8s asserts when the context names no namespace
        context_namespace = "default"
    current = namespace or context_namespace or "default"

    async def items(plural: str, ns: str | None) -> list[KubeObject] | None:
        try:
            async with api.call_api("GET", version=crds.API_VERSION, base="/apis", namespace=ns, url=plural) as r:
                return list(r.json().get("items") or [])
        except kr8s.ServerError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code == 404:
                raise LatticeError(f"the cluster does not serve {plural}.{crds.GROUP} "
                                   "(are the Lattice CRDs installed? kubectl apply -f crds/)") from exc
            if code == 403:
                return None
            raise LatticeError(f"listing {plural}: {exc}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise LatticeError(f"cannot reach the cluster: {exc}") from exc

    objects: list[KubeObject] = []
    complete = True
    for kind in ("LatticeService", "LatticeExternalService"):
        found = await items(PLURALS[kind], None)
        if found is None:
            complete = False
            print(f"warning: not allowed to list {PLURALS[kind]} in every namespace; reading {current} only "
                  "(peers in other namespaces are not seen)", file=err)
            found = await items(PLURALS[kind], current) or []
        objects += [_with_kind(o, kind) for o in found]
    policies = await items(PLURALS["CedarPolicy"], POLICY_NAMESPACE)
    if policies is None:
        print(f"warning: not allowed to read CedarPolicies in {POLICY_NAMESPACE}; judged as if there were none",
              file=err)
    objects += [_with_kind(o, "CedarPolicy") for o in policies or []]
    clusters = await items(PLURALS["LatticeCluster"], None)
    objects += [_with_kind(o, "LatticeCluster") for o in clusters or []]
    return inventory_of(objects, err, current, complete)


def _with_kind(obj: dict[str, Any], kind: str) -> KubeObject:
    # List items carry no apiVersion/kind.
    return {**obj, "apiVersion": crds.API_VERSION, "kind": kind}


def service_key(text: str, default_namespace: str) -> Key:
    """``ns/name`` or ``name`` (in ``default_namespace``)."""
    ns, _, name = text.rpartition("/")
    if not name or "/" in ns:
        raise LatticeError(f"{text!r}: expected <namespace>/<name> or <name>", exit_code=2)
    return (ns or default_namespace, name)
