"""Provision every resource of one LatticeService: outputs for its templates, child manifests,
the data services the mesh must open to it, and the routes its Gateway must serve.

1. Order: resource params may use ``${resources.<other>...}`` (a route's host from a dns
   resource), so resources are provisioned in dependency order (Kahn's algorithm, ties by name);
   a cycle, or a reference to an undeclared resource, is an error naming the resources.
2. Lattice's own types (service, external-service, volume, secret) get their outputs natively.
3. Every other resource: its params are expanded (Score rules), then the first matching
   provisioner serves it (``matching``): a Provisioner of the cluster, else a built-in one
   (``native`` or the development-grade templates of ``defaults``), else an error listing what
   exists for that type.
4. A resource with an ``id`` is one instance per (namespace, type, class, id): every service
   declaring it reads the same outputs; the first of them by name owns it (emits its manifests
   and policies), and the others are told so.

Manifests are namespaced, labelled and checked: only the kinds a LatticeService may own
(``CHILD_KINDS``), and never a Secret with values.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crds import FieldError, KubeObject, Provisioner
from crds.service import ResourceSpec
from hooks.context import DataService, Key, Route, ServiceContext
from hooks.labels import MANAGED_BY, MANAGED_BY_VALUE
from hooks.service.provisioning.defaults import DEFAULTS
from hooks.service.provisioning.matching import Match, choose
from hooks.service.provisioning.native import CORE_TYPES, NATIVE, core_outputs
from hooks.service.provisioning.outputs import Outputs, has_secret
from hooks.service.provisioning.resolver import resolver
from hooks.service.provisioning.template import GENERATORS_API, PASSWORD, Instance, evaluate
from hooks.service.templates import Unresolved, expand, placeholders

# What a provisioner's manifests may be: the LatticeService controller declares these child kinds.
CHILD_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "PersistentVolumeClaim"), ("v1", "ServiceAccount"),
    ("apps/v1", "StatefulSet"), ("apps/v1", "Deployment"),
    ("external-secrets.io/v1", "ExternalSecret"), (GENERATORS_API, PASSWORD),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
)
PROVISIONER_ANNOTATION = "lattice.dev/provisioner"
RESOURCE_UID_ANNOTATION = "lattice.dev/resource-uid"
FOR_LABEL = "lattice.dev/provisioned-for"
_MAX_NAME = 45  # StatefulSet names stay below 52 (their pods' controller-revision-hash label)
_NON_NAME = re.compile(r"[^a-z0-9-]+")


@attrs.frozen
class ResourcePlan:
    outputs: dict[str, Outputs]
    manifests: list[KubeObject]
    data_services: list[DataService]
    routes: list[Route]
    errors: list[FieldError]
    missing: dict[str, str]  # objects that do not exist yet -> the field that needs them
    notes: list[str]  # for the status message: development-grade instances, shared instances


def object_name(*parts: str) -> str:
    """A DNS label of at most ``_MAX_NAME`` characters from ``parts``; shortened with a hash suffix."""
    raw = "-".join(parts).lower()
    name = _NON_NAME.sub("-", raw).strip("-") or "x"
    if len(name) <= _MAX_NAME and name == raw:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - 9].rstrip('-')}-{digest}"


def resource_uid(res: ResourceSpec, service: str, name: str) -> str:
    """Score's uid: ``<type>.<class>#<id>`` (id default ``<workload>.<resource>``)."""
    return f"{res.type}.{res.class_ or 'default'}#{res.id or f'{service}.{name}'}"


def plan_resources(ctx: ServiceContext, provisioners: Sequence[Provisioner] = ()) -> ResourcePlan:
    resources = ctx.service.spec.resources
    order, errors = dependency_order(resources)
    outputs: dict[str, Outputs] = {}
    plan = _Plan(ctx, provisioners, errors)
    for name in order:
        res = resources[name]
        if res.type in CORE_TYPES:
            outputs[name] = core_outputs(ctx, name, res)
            continue
        params = plan.expand_params(name, res, outputs)
        outputs[name] = plan.provision(name, res, params) if params is not None else Outputs(
            res.type, error=Unresolved(f"resource '{name}' could not be provisioned (see spec.resources.{name})"))
    for name in sorted(set(resources) - set(outputs)):  # in a cycle
        outputs[name] = Outputs(resources[name].type, error=Unresolved(f"resource '{name}' is in a params cycle"))
    return ResourcePlan(outputs, plan.manifests, plan.data_services, plan.routes, plan.errors, plan.missing,
                        plan.notes)


def dependency_order(resources: Mapping[str, ResourceSpec]) -> tuple[list[str], list[FieldError]]:
    errors: list[FieldError] = []
    needs: dict[str, set[str]] = {}
    for name in sorted(resources):
        refs: set[str] = set()
        for text in _strings(resources[name].params or {}) if resources[name].type not in CORE_TYPES else ():
            for p in placeholders(text):
                if p.path[0] == "resources" and len(p.path) > 1:
                    refs.add(p.path[1])
        unknown = sorted(refs - set(resources))
        if unknown:
            errors.append(FieldError(f"spec.resources.{name}.params",
                                     f"refers to undeclared resource(s): {', '.join(unknown)}"))
        needs[name] = (refs & set(resources)) - {name}
        if name in refs:
            errors.append(FieldError(f"spec.resources.{name}.params", "refers to the resource itself"))
    ready = [n for n in needs if not needs[n]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for m in sorted(needs):
            if n in needs[m]:
                needs[m].discard(n)
                if not needs[m] and m not in order and m not in ready:
                    heapq.heappush(ready, m)
    cycle = sorted(n for n in resources if n not in order)
    if cycle:
        errors.append(FieldError("spec.resources", f"a cycle exists between the params of: {', '.join(cycle)}"))
    return order, errors


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class _Plan:
    def __init__(self, ctx: ServiceContext, provisioners: Sequence[Provisioner], errors: list[FieldError]) -> None:
        self.ctx = ctx
        self.provisioners = provisioners
        self.errors = errors
        self.manifests: list[KubeObject] = []
        self.data_services: list[DataService] = []
        self.routes: list[Route] = []
        self.missing: dict[str, str] = {}
        self.notes: list[str] = []

    def expand_params(self, name: str, res: ResourceSpec, outputs: Mapping[str, Outputs]) -> dict[str, Any] | None:
        resolve = resolver(self.ctx, outputs)
        field = f"spec.resources.{name}.params"
        ok = True

        def walk(value: Any, path: str) -> Any:
            nonlocal ok
            if isinstance(value, str):
                expanded = expand(value, resolve)
                for e in expanded.errors:
                    ok = False
                    if e.missing is not None:
                        self.missing.setdefault(e.missing, path)
                    else:
                        self.errors.append(FieldError(path, e.message))
                if expanded.has_secrets:
                    ok = False
                    self.errors.append(FieldError(path, "params may not hold secret values (they would be written "
                                                        "into the provisioned objects)"))
                    return value
                return expanded.text
            if isinstance(value, dict):
                return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return value

        params = walk(dict(res.params or {}), field)
        return params if ok else None

    def provision(self, name: str, res: ResourceSpec, params: dict[str, Any]) -> Outputs:
        ctx = self.ctx
        field = f"spec.resources.{name}"
        broken = [(n, msg) for n, t, msg in ctx.invalid_provisioners if t == res.type]
        if broken:
            self.errors += [FieldError(field, f"Provisioner {n} (type {res.type}) is invalid, so this resource is not "
                                              f"provisioned until it is fixed: {msg}") for n, msg in broken]
            return Outputs(res.type, error=Unresolved(f"resource '{name}' has no valid provisioner"))
        match = choose(res, self.provisioners, DEFAULTS, tuple(NATIVE))
        if isinstance(match, str):
            self.errors.append(FieldError(field, match))
            return Outputs(res.type, error=Unresolved(f"resource '{name}' has no provisioner"))
        if match.native:
            result = NATIVE[res.type][0](ctx, name, res, params)
            self.errors += result.errors
            self.routes += result.routes
            return result.outputs
        assert match.spec is not None
        params, param_errors = _apply_params(match, params, f"{field}.params")
        if param_errors:
            self.errors += param_errors
            return Outputs(res.type, error=Unresolved(f"resource '{name}' could not be provisioned"))
        owner = self._owner(name, res)
        uid = resource_uid(res, ctx.name, name)
        shared = f"{res.type}.{res.class_ or 'default'}#{res.id}" if res.id else None
        inst = Instance(
            name=object_name(res.type, res.class_ or "", res.id) if res.id and res.class_ not in (None, "default")
            else object_name(res.type, res.id) if res.id else object_name(ctx.name, name),
            namespace=ctx.namespace, workload=owner[1], guid=hashlib.sha256(
                f"{ctx.namespace}/{shared or uid}".encode()).hexdigest()[:12],
            resource=name, type=res.type, class_=res.class_ or "default", id=res.id or f"{ctx.name}.{name}",
            uid=uid, params=params)
        evaluated = evaluate(match.spec, inst, f"{match.label}")
        if evaluated.errors:
            self.errors += [FieldError(field, f"{match.label} failed: {e}") for e in evaluated.errors]
            return Outputs(res.type, error=Unresolved(f"resource '{name}' could not be provisioned"))
        owned = owner == ctx.key
        manifests, problems = _finish(evaluated.manifests, ctx, name, uid, match.label)
        if problems:
            self.errors += [FieldError(field, f"{match.label}: {p}") for p in problems]
            return Outputs(res.type, error=Unresolved(f"resource '{name}' could not be provisioned"))
        callers = tuple(sorted(self._declarers(res))) if res.id else (ctx.key,)
        self.data_services += _data_services(manifests, callers, owned)
        if owned:
            self.manifests += manifests
        else:
            self.notes.append(f"resources.{name} shares {res.type} '{res.id}' provisioned by LatticeService "
                              f"{owner[0]}/{owner[1]}")
        if match.builtin:
            self.notes.append(f"resources.{name} ({res.type}) is a development-grade built-in: one replica, no "
                              "backups; set its class to a platform Provisioner for production")
        return evaluated.outputs

    def _declarers(self, res: ResourceSpec) -> set[Key]:
        """Every service in this namespace that declares the same shared instance (this one included)."""
        ctx = self.ctx
        out = {ctx.key}
        for key, svc in ctx.services.items():
            if key[0] == ctx.namespace and any(_same_instance(r, res) for r in svc.spec.resources.values()):
                out.add(key)
        return out

    def _owner(self, name: str, res: ResourceSpec) -> Key:
        return min(self._declarers(res)) if res.id else self.ctx.key


def _same_instance(a: ResourceSpec, b: ResourceSpec) -> bool:
    return (a.type, a.class_ or "default", a.id) == (b.type, b.class_ or "default", b.id)


def _apply_params(match: Match, params: dict[str, Any], field: str) -> tuple[dict[str, Any], list[FieldError]]:
    assert match.spec is not None
    declared = match.spec.params
    if declared is None:
        return params, []
    errors = [FieldError(f"{field}.{k}", f"unknown parameter for {match.label} (known: "
                                         f"{', '.join(sorted(declared)) or 'none'})") for k in sorted(params)
              if k not in declared]
    out = dict(params)
    for k, p in sorted(declared.items()):
        if k not in out and p.required:
            errors.append(FieldError(f"{field}.{k}", f"required by {match.label}: {p.description}".rstrip(": ")))
        elif k not in out and p.default is not None:
            out[k] = p.default
    return out, errors


def _finish(manifests: list[Any], ctx: ServiceContext, resource: str, uid: str,
            label: str) -> tuple[list[KubeObject], list[str]]:
    problems: list[str] = []
    out: list[KubeObject] = []
    allowed = set(CHILD_KINDS)
    for i, m in enumerate(manifests):
        if not isinstance(m, dict):
            problems.append(f"manifests[{i}]: expected an object")
            continue
        kind = (str(m.get("apiVersion")), str(m.get("kind")))
        if kind not in allowed:
            names_ = ", ".join(f"{v} {k}" for v, k in CHILD_KINDS)
            problems.append(f"manifests[{i}]: {kind[0]} {kind[1]} cannot be a child of a LatticeService "
                            f"(allowed: {names_})")
            continue
        if has_secret(m):
            problems.append(f"manifests[{i}]: holds a secret reference; refer to the Secret by name instead")
            continue
        meta = dict(m.get("metadata") or {})
        if meta.get("namespace") not in (None, ctx.namespace):
            problems.append(f"manifests[{i}]: metadata.namespace must be the service's ({ctx.namespace})")
            continue
        meta["namespace"] = ctx.namespace
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: MANAGED_BY_VALUE, FOR_LABEL: ctx.name}
        meta["annotations"] = {**(meta.get("annotations") or {}), PROVISIONER_ANNOTATION: label,
                               RESOURCE_UID_ANNOTATION: uid}
        out.append({**m, "metadata": meta})
    return out, problems


def _data_services(manifests: list[KubeObject], callers: tuple[Key, ...], owned: bool) -> list[DataService]:
    out = []
    for m in manifests:
        if (m.get("apiVersion"), m.get("kind")) != ("v1", "Service"):
            continue
        spec = m.get("spec") or {}
        selector = spec.get("selector") or {}
        ports = []
        for p in spec.get("ports") or []:
            port = p.get("port")
            target = p.get("targetPort", port)
            if isinstance(port, int):
                ports.append((port, target if isinstance(target, int) else port, str(p.get("protocol") or "TCP")))
        if selector and ports:
            meta = m["metadata"]
            out.append(DataService(meta["namespace"], meta["name"], tuple(sorted(selector.items())),
                                   tuple(sorted(ports)), callers, owned))
    return out


