"""Metacontroller, simulated: run every Lattice controller's hooks over a set of objects, offline.

Used by ``lattice render`` (``cli.render``), the benchmarks and the tests.

Given Lattice objects (as read from files), each object whose kind has a controller goes through
that controller exactly as in a cluster: its customize rules select related objects among the
given ones (by namespace and names, or by label selector, v2 semantics), then its sync hook runs
with no observed children. Namespaces are synthesised for the decorators (every namespace an
object lives in, labelled ``kubernetes.io/metadata.name``). Pure: no I/O, deterministic output.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

import crds
from crds import KubeObject
from hooks import wire
from hooks.controllers import CONTROLLERS
from hooks.controllers.definition import Composite, Decorator, HookConfig, Kind
from hooks.controllers.parsing import parse_cached
from hooks.wire import DecoratorSyncRequest, RelatedRule, SyncRequest

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_FAILED_PHASES = ("Failed", "Invalid")


@attrs.frozen
class Failure:
    kind: str
    namespace: str
    name: str
    message: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {self.message}"


@attrs.frozen
class Simulation:
    """What the controllers generate for a set of objects, every object that failed, and every object
    still waiting for another (a Compiling LatticeService: its message says for what)."""

    objects: list[KubeObject]
    failures: list[Failure]
    waiting: list[Failure] = attrs.field(factory=list)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _ident(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = _meta(obj)
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("namespace") or ""),
            str(meta.get("name") or ""))


def _namespaced(kind: str) -> bool:
    cls = crds.convert.kinds().get(kind)
    return cls is None or cls.__crd__.namespaced


def normalise(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Copies with the namespace kubectl would give them (``default`` for namespaced kinds)."""
    out = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {}) if isinstance(obj.get("metadata", {}), dict) else None
        if meta is not None and _namespaced(str(obj.get("kind"))) and not meta.get("namespace"):
            meta["namespace"] = "default"
        out.append(obj)
    return out


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and present and labels[key] in values):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


class _Index:
    """The given objects by kind, for answering related-resource rules."""

    def __init__(self, objects: Iterable[KubeObject], kinds: Iterable[Kind]) -> None:
        self.by_group: dict[str, list[KubeObject]] = defaultdict(list)
        for obj in objects:
            self.by_group[wire.group_key(str(obj.get("apiVersion")), str(obj.get("kind")))].append(obj)
        self.kinds = {(k.api_version, k.resource): k for k in kinds}

    def select(self, rule: RelatedRule) -> tuple[Kind | None, list[KubeObject]]:
        kind = self.kinds.get((rule.api_version, rule.resource))
        if kind is None:
            return None, []
        # v2 hooks, as Metacontroller reads them: no namespace is every namespace; a namespace is
        # taken literally ("*" is a namespace named "*", which matches nothing).
        namespace = rule.namespace
        picked = []
        for obj in self.by_group.get(kind.group_key, []):
            meta = _meta(obj)
            if kind.namespaced and namespace and meta.get("namespace") != namespace:
                continue
            if rule.names and meta.get("name") not in rule.names:
                continue
            if rule.label_selector is not None and not _selector_matches(rule.label_selector, meta.get("labels") or {}):
                continue
            picked.append(obj)
        return kind, picked

    def related(self, rules: Sequence[RelatedRule]) -> dict[str, dict[str, KubeObject]]:
        out: dict[str, dict[str, KubeObject]] = {}
        for rule in rules:
            kind, objs = self.select(rule)
            if kind is None:
                continue
            group = out.setdefault(kind.group_key, {})
            for obj in objs:
                group[wire.object_key(obj)] = obj
        return out


def _all_kinds() -> list[Kind]:
    from hooks.controllers import kinds

    return [v for v in vars(kinds).values() if isinstance(v, Kind)]


def _failure_of(parent: KubeObject, status: Any) -> Failure | None:
    if not isinstance(status, dict) or status.get("phase") not in _FAILED_PHASES:
        return None
    _, kind, ns, name = _ident(parent)
    return Failure(kind, ns, name, str(status.get("message") or status.get("phase")))


def _default_namespace(children: Iterable[KubeObject], namespace: str | None,
                       kinds: Mapping[str, Kind]) -> list[KubeObject]:
    out = []
    for child in children:
        child = copy.deepcopy(child)
        kind = kinds.get(wire.group_key(str(child.get("apiVersion")), str(child.get("kind"))))
        meta = child.setdefault("metadata", {})
        if namespace and (kind is None or kind.namespaced) and not meta.get("namespace"):
            meta["namespace"] = namespace
        out.append(child)
    return out


def _namespaces(objects: Iterable[KubeObject]) -> list[KubeObject]:
    names = sorted({str(_meta(o).get("namespace")) for o in objects if _meta(o).get("namespace")})
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {NAMESPACE_NAME_LABEL: n}}}
            for n in names]


class _Run:
    """One offline run: the inputs, what has been generated, what failed."""

    def __init__(self, objects: list[KubeObject], cfg: HookConfig) -> None:
        self.cfg = cfg
        self.index = _Index(objects, _all_kinds())
        self.child_kinds = {k.group_key: k for k in _all_kinds()}
        self.failures: list[Failure] = []
        self.waiting: list[Failure] = []
        self.generated: dict[tuple[str, str, str, str], KubeObject] = {}

    def emit(self, obj: KubeObject, owner: str) -> None:
        key = _ident(obj)
        if key in self.generated and self.generated[key] != obj:
            message = f"generated twice with different content (last by {owner})"
            self.failures.append(Failure(key[1], key[2], key[3], message))
        self.generated.setdefault(key, obj)

    def composite(self, controller: Composite, obj: KubeObject) -> None:
        _, kind, ns, name = _ident(obj)
        rules = controller.customize(wire.CustomizeRequest(parent=obj), self.cfg).related_resources \
            if controller.customize else ()
        req = SyncRequest(parent=obj, related=self.index.related(rules))
        answer = controller.run_sync(req, self.cfg)
        failure = _failure_of(obj, answer.response.status)
        if failure is not None:
            self.failures.append(failure)
        status = answer.response.status
        if isinstance(status, dict) and status.get("phase") == "Compiling":
            self.waiting.append(Failure(kind, ns, name, str(status.get("message") or "Compiling")))
        for child in _default_namespace(answer.response.children, ns or None, self.child_kinds):
            self.emit(child, f"{kind} {ns}/{name}")

    def decorate(self, namespace: KubeObject) -> None:
        """Every decorator targeting this Namespace; the Namespace itself if its labels change."""
        meta = namespace["metadata"]
        labels = dict(meta["labels"])
        for dec in (c for c in CONTROLLERS if isinstance(c, Decorator)):
            if not any(t.kind.kind == "Namespace" and _selector_matches(t.label_selector or {}, labels)
                       for t in dec.targets):
                continue
            rules = dec.customize(wire.CustomizeRequest(parent=namespace), self.cfg).related_resources \
                if dec.customize else ()
            req = DecoratorSyncRequest(object=namespace, related=self.index.related(rules))
            response = dec.run_sync(req, self.cfg).response
            for k, v in response.labels.items():
                if v is None:
                    labels.pop(k, None)
                else:
                    labels[k] = v
            for child in response.attachments:
                self.emit(copy.deepcopy(child), f"Namespace {meta['name']}")
        if labels != meta["labels"]:
            self.emit({**namespace, "metadata": {**meta, "labels": labels}}, "namespace labels")


def _duplicates(objects: Iterable[KubeObject]) -> list[Failure]:
    seen: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for obj in objects:
        seen[_ident(obj)] += 1
    return [Failure(i[1], i[2], i[3], f"defined {n} times") for i, n in sorted(seen.items()) if n > 1]


def _output_order(obj: KubeObject) -> tuple[bool, str, str, str, str]:
    api_version, kind, ns, name = _ident(obj)
    return (kind != "Namespace", ns, kind, name, api_version)


def related_objects(rules: Sequence[RelatedRule], parent: KubeObject,
                    objects: Sequence[KubeObject]) -> dict[str, dict[str, KubeObject]]:
    """The ``related`` map Metacontroller builds for ``parent`` from customize ``rules``."""
    return _Index(objects, _all_kinds()).related(rules)


def related_for(controller: Composite | Decorator, parent: KubeObject, objects: Sequence[KubeObject],
                cfg: HookConfig) -> dict[str, dict[str, KubeObject]]:
    """The ``related`` map Metacontroller would send with ``parent``, drawn from ``objects``."""
    rules = controller.customize(wire.CustomizeRequest(parent=parent), cfg).related_resources \
        if controller.customize else ()
    return related_objects(rules, parent, objects)


def simulate(objects: Sequence[KubeObject], cfg: HookConfig) -> Simulation:
    """Every object the controllers generate for ``objects``, and every object that failed."""
    objects = normalise(objects)
    run = _Run(objects, cfg)
    run.failures += _duplicates(objects)
    composites = {c.parent.group_key: c for c in CONTROLLERS if isinstance(c, Composite)}
    for obj in sorted(objects, key=_ident):
        api_version, kind, ns, name = _ident(obj)
        controller = composites.get(wire.group_key(api_version, kind))
        if controller is not None:
            run.composite(controller, obj)
        else:  # a kind no controller watches (CloudProvider, OIDCProvider): validation only
            run.failures += [Failure(kind, ns, name, str(e)) for e in parse_cached(obj).errors]
    for namespace in _namespaces(objects):
        run.decorate(namespace)
    return Simulation(sorted(run.generated.values(), key=_output_order), run.failures, run.waiting)
