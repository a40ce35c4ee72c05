"""Metacontroller stand-in: a TEST DOUBLE for Metacontroller v4.17, not Metacontroller.

Metacontroller cannot be built here: the Go module proxy refuses its module at every version
(``go mod download -json github.com/metacontroller/metacontroller@v0.0.0-20260813213314-76b818bdc67b``
-> ``403 Forbidden ... This module version is not available``; the same for ``@v/list``, ``@v4.17.2``,
see docs/testbed.md). So this module implements only the subset of the CompositeController /
DecoratorController contract that Lattice's controllers use, as written down in
/work/shared/reference/metacontroller.md, against a real kube-apiserver:

* controller objects from ``hooks.controllers_manifest.controller_objects(base_url)`` (the very
  objects manifests/ ships), not from the cluster; a controller whose parent, child or attachment
  resource is not served is not started (Metacontroller's ``newParentController`` fails the same way);
* polling instead of informers: every ``period`` seconds each parent (target) is listed; it is
  synced when its generation/labels/annotations/deletion (``ignoreStatusChanges``) or
  resourceVersion changed, when a related object selected by its cached customize answer
  (per uid + generation) changed, when ``resyncAfterSeconds`` or ``resyncPeriodSeconds`` is due,
  or after a failed sync (backoff doubling from ``period`` up to 30 s);
* v2 hooks only: children/related keyed ``Kind.group/version`` -> ``namespace/name`` (``name`` when
  cluster-scoped), strict response decoding (an unknown response field fails the sync);
* children: only those with a controller ownerReference to the parent (and, with
  ``generateSelector``, the ``controller-uid`` label); desired ones are server-side applied
  (field manager ``metacontroller-standin``, force) with the controller ownerReference
  (blockOwnerDeletion) and the parent's namespace as default; ``OnDelete`` never updates an existing
  child; owned children left out are deleted (background, uid precondition);
* status replaced through ``/status`` with ``observedGeneration`` injected, skipped when equal;
* finalize hook with finalizer ``metacontroller.io/{composite,decorator}controller-<name>``;
* decorators: labels/annotations merged onto the target (null removes), attachments owned by it.

Not covered: informers/watches and their latency, child-change events (a child edited by someone
else is repaired at the next resync only), adoption of orphans, rolling update strategies,
``Recreate``, v1 hooks, etag, 429/Retry-After, events, ``annotationSelector``, endpointConfigs/auth.
Every hook call is recorded in ``calls`` and every child the apiserver refused in ``apply_errors``.
"""

from __future__ import annotations

import copy
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from hooks.controllers_manifest import controller_objects

Obj = dict[str, Any]
FIELD_MANAGER = "metacontroller-standin"
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
META_ONE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
COMPOSITE_FIELDS = {"status", "children", "resyncAfterSeconds", "finalized"}
DECORATOR_FIELDS = {"labels", "annotations", "status", "attachments", "resyncAfterSeconds", "finalized"}


class SyncFailed(Exception):
    """A hook call or a child write failed: the parent is retried with backoff."""


@dataclass(frozen=True)
class HookCall:
    controller: str
    hook: str
    target: str  # namespace/name of the parent (target)
    status: int | None  # HTTP status; None when the request itself failed
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class ApplyError:
    controller: str
    kind: str
    key: str
    code: int
    message: str


@dataclass(frozen=True)
class Resource:
    api_version: str
    resource: str
    kind: str
    namespaced: bool
    has_status: bool

    @property
    def group_key(self) -> str:
        return f"{self.kind}.{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        ns = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{base}{ns}/{self.resource}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta.get("name"))


def selector_string(sel: Obj | None) -> str:
    """A metav1.LabelSelector as the apiserver's ``labelSelector`` query string."""
    parts = [f"{k}={v}" for k, v in sorted(((sel or {}).get("matchLabels") or {}).items())]
    for e in (sel or {}).get("matchExpressions") or []:
        op, k, vals = e["operator"], e["key"], ",".join(e.get("values") or [])
        parts.append({"In": f"{k} in ({vals})", "NotIn": f"{k} notin ({vals})",
                      "Exists": k, "DoesNotExist": f"!{k}"}[op])
    return ",".join(parts)


def controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _seconds(duration: str | None) -> float:
    d = (duration or "10s").strip()
    value = float(d[:-2]) / 1000 if d.endswith("ms") else float(d.rstrip("s"))
    return value if value > 0 else 10.0


@dataclass
class _State:
    fingerprint: Any
    due: float
    failures: int = 0


class MetacontrollerStandin:
    """Runs Lattice's controllers against an apiserver by calling the hook server (see module doc)."""

    def __init__(self, server: str, token: str, ca_file: str, hooks_url: str, *, period: float = 0.5,
                 controllers: list[Obj] | None = None, in_scope: Callable[[str], bool] | None = None) -> None:
        self.api = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                                verify=ssl.create_default_context(cafile=ca_file), timeout=30)
        self.hooks_http = httpx.Client()
        self.controllers = controllers if controllers is not None else controller_objects(hooks_url)
        self.period = period
        self.in_scope = in_scope or (lambda _ns: True)
        self.calls: list[HookCall] = []
        self.apply_errors: list[ApplyError] = []
        self.apply_warnings: list[ApplyError] = []
        self.sync_errors: list[str] = []
        self.not_started: dict[str, str] = {}
        self._state: dict[tuple[str, str], _State] = {}
        self._customized: dict[tuple[str, str, int], list[Obj]] = {}
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._cache: dict[tuple[Any, ...], list[Obj]] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metacontroller-standin", daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> MetacontrollerStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        self.api.close()
        self.hooks_http.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_now()
            except Exception as exc:  # the apiserver may be going away at teardown
                self.sync_errors.append(f"cycle: {type(exc).__name__}: {exc}")
            self._stop.wait(self.period)

    def sync_now(self) -> None:
        """One pass over every controller and parent, in the caller's thread."""
        with self._lock:
            self._cache = {}
            for ctrl in self.controllers:
                name = ctrl["metadata"]["name"]
                try:
                    self._run_controller(ctrl)
                    self.not_started.pop(name, None)
                except LookupError as exc:
                    self.not_started[name] = str(exc)
                except httpx.HTTPError as exc:  # e.g. 429 while a new CRD's watch cache initialises
                    self.sync_errors.append(f"{name}: {type(exc).__name__}: {exc}")

    # ---- apiserver helpers -----------------------------------------------------------------------

    def resolve(self, api_version: str, resource: str) -> Resource:
        """Discovery, as Metacontroller's ``dynClient.Resource``; LookupError when not served."""
        if resource not in self._discovery.get(api_version, {}):
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            r = self.api.get(path)
            found: dict[str, Resource] = {}
            if r.status_code == 200:
                entries = r.json()["resources"]
                subs = {e["name"] for e in entries if "/" in e["name"]}
                for e in entries:
                    if "/" not in e["name"]:
                        found[e["name"]] = Resource(api_version, e["name"], e["kind"], e["namespaced"],
                                                    f"{e['name']}/status" in subs)
            self._discovery[api_version] = found
        try:
            return self._discovery[api_version][resource]
        except KeyError:
            raise LookupError(f"can't find resource {resource!r} in apiVersion {api_version!r}") from None

    def list(self, res: Resource, namespace: str | None = None, selector: Obj | None = None, *,
             names: list[str] | None = None, meta_only: bool = False, cached: bool = True) -> list[Obj]:
        ck = (res, namespace, json.dumps(selector, sort_keys=True), tuple(names or ()), meta_only)
        if cached and ck in self._cache:
            return self._cache[ck]
        out: list[Obj] = []
        if names:  # one GET per name: cheaper than listing e.g. every CRD
            for n in names:
                r = self.api.get(res.path(namespace, n), headers={"Accept": META_ONE} if meta_only else {})
                if r.status_code != 404:
                    r.raise_for_status()
                    out.append(r.json())
        else:
            params = {"labelSelector": selector_string(selector)} if selector else {}
            r = self.api.get(res.path(namespace), params=params, headers={"Accept": META_LIST} if meta_only else {})
            r.raise_for_status()
            out = r.json().get("items") or []
        for o in out:  # lists leave apiVersion/kind out of their items
            o.setdefault("apiVersion", res.api_version)
            o["kind"] = res.kind
        self._cache[ck] = out
        return out

    def _apply(self, owner: str, res: Resource, obj: Obj) -> None:
        m = obj["metadata"]
        r = self.api.patch(res.path(m.get("namespace"), m["name"]), content=json.dumps(obj),
                           params={"fieldManager": FIELD_MANAGER, "force": "true"},
                           headers={"Content-Type": "application/apply-patch+yaml"})
        if r.status_code >= 300:
            msg = r.json().get("message", r.text) if "json" in r.headers.get("content-type", "") else r.text
            self.apply_errors.append(ApplyError(owner, res.kind, key_of(obj), r.status_code, msg))
            raise SyncFailed(f"apply {res.kind} {key_of(obj)}: {r.status_code} {msg}")
        for warning in r.headers.get_list("warning"):  # e.g. unknown fields the apiserver dropped
            self.apply_warnings.append(ApplyError(owner, res.kind, key_of(obj), r.status_code, warning))

    def _write_status(self, res: Resource, obj: Obj, status: Obj) -> None:
        meta = obj["metadata"]
        for _ in range(3):
            r = self.api.get(res.path(meta.get("namespace"), meta["name"]))
            if r.status_code == 404:
                return
            current = r.json()
            if current.get("status") == status:
                return
            current["status"] = status
            r = self.api.put(res.path(meta.get("namespace"), meta["name"], "status" if res.has_status else ""),
                             content=json.dumps(current), headers={"Content-Type": "application/json"})
            if r.status_code in (404, 409):
                continue
            r.raise_for_status()
            return

    def _set_finalizer(self, res: Resource, obj: Obj, name: str, present: bool) -> None:
        meta = obj["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != name] + ([name] if present else [])
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
        r = self.api.patch(res.path(meta.get("namespace"), meta["name"]), content=json.dumps(patch),
                           headers={"Content-Type": "application/merge-patch+json"})
        if r.status_code == 409:
            raise SyncFailed(f"finalizer update of {key_of(obj)}: conflict")
        if r.status_code != 404:
            r.raise_for_status()

    # ---- hooks -----------------------------------------------------------------------------------

    def _call(self, ctrl: Obj, hook: str, target: Obj, body: Obj, fields: set[str]) -> Obj:
        spec = ctrl["spec"]["hooks"][hook]
        if spec.get("version") != "v2":
            raise SyncFailed(f"stand-in speaks hooks v2 only, got {spec.get('version')!r}")
        name, t0 = ctrl["metadata"]["name"], time.perf_counter()
        try:
            r = self.hooks_http.post(spec["webhook"]["url"], content=json.dumps(body),
                                     headers={"Content-Type": "application/json"},
                                     timeout=_seconds(spec["webhook"].get("timeout")))
        except httpx.HTTPError as exc:
            self.calls.append(HookCall(name, hook, key_of(target), None, time.perf_counter() - t0, repr(exc)))
            raise SyncFailed(f"{name} {hook}: {exc!r}") from exc
        took, data, error = time.perf_counter() - t0, None, ""
        if r.status_code != 200:
            error = r.text[:300]
        else:
            try:
                data = r.json()
            except ValueError as exc:
                error = f"response is not JSON: {exc}"
        if not error and not isinstance(data, dict):
            error = "response is not a JSON object"
        elif not error and set(data) - fields:
            error = f"unknown fields in response (strict v2): {sorted(set(data) - fields)}"
        self.calls.append(HookCall(name, hook, key_of(target), r.status_code, took, error))
        if error or not isinstance(data, dict):
            raise SyncFailed(f"{name} {hook} of {key_of(target)}: HTTP {r.status_code}: {error}")
        return data

    def _related_rules(self, ctrl: Obj, target: Obj) -> list[Obj]:
        if "customize" not in ctrl["spec"]["hooks"]:
            return []
        meta = target["metadata"]
        ck = (ctrl["metadata"]["name"], meta["uid"], int(meta.get("generation") or 0))
        if ck not in self._customized:
            body = {"controller": ctrl, "parent": target}
            answer = self._call(ctrl, "customize", target, body, {"relatedResources"})
            self._customized[ck] = list(answer.get("relatedResources") or [])
        return self._customized[ck]

    def _related(self, rules: list[Obj], target: Obj, *, meta_only: bool) -> dict[str, dict[str, Obj]]:
        out: dict[str, dict[str, Obj]] = {}
        parent_ns = target["metadata"].get("namespace")
        for rule in rules:
            if rule.get("names") and rule.get("labelSelector") is not None:
                raise SyncFailed(f"related rule with both names and labelSelector: {rule}")
            res = self.resolve(rule["apiVersion"], rule["resource"])
            ns = rule.get("namespace") or parent_ns
            ns = None if ns == "*" or not res.namespaced else ns
            group = out.setdefault(res.group_key, {})
            for o in self.list(res, ns, rule.get("labelSelector"), names=rule.get("names"), meta_only=meta_only):
                group[key_of(o)] = o
        return out

    # ---- controllers ----------------------------------------------------------------------------

    def _run_controller(self, ctrl: Obj) -> None:
        spec, composite = ctrl["spec"], ctrl["kind"] == "CompositeController"
        owned_rules = spec.get("childResources" if composite else "attachments") or []
        owned = {(res := self.resolve(c["apiVersion"], c["resource"])).group_key:
                 (res, (c.get("updateStrategy") or {}).get("method", "OnDelete")) for c in owned_rules}
        sources = [spec["parentResource"]] if composite else spec["resources"]
        seen: set[tuple[str, str]] = set()
        for src in sources:
            res = self.resolve(src["apiVersion"], src["resource"])
            for obj in self.list(res, selector=src.get("labelSelector")):
                meta = obj["metadata"]
                scope = meta.get("namespace") or (meta["name"] if res.kind == "Namespace" else None)
                if scope is None or self.in_scope(scope):
                    seen.add((ctrl["metadata"]["name"], meta["uid"]))
                    self._maybe_sync(ctrl, composite, res, obj, owned, bool(src.get("ignoreStatusChanges")))
        for k in [k for k in self._state if k[0] == ctrl["metadata"]["name"] and k not in seen]:
            del self._state[k]

    def _maybe_sync(self, ctrl: Obj, composite: bool, res: Resource, obj: Obj,
                    owned: dict[str, tuple[Resource, str]], ignore_status: bool) -> None:
        meta, name = obj["metadata"], ctrl["metadata"]["name"]
        state, now = self._state.get((name, meta["uid"])), time.monotonic()
        own = (meta.get("generation"), meta.get("labels"), meta.get("annotations"), meta.get("deletionTimestamp"),
               meta.get("finalizers")) if ignore_status else meta["resourceVersion"]
        try:
            rules = self._related_rules(ctrl, obj)
            fingerprint = (own, {g: {k: o["metadata"]["resourceVersion"] for k, o in objs.items()}
                                 for g, objs in self._related(rules, obj, meta_only=True).items()})
            if state is not None and state.fingerprint == fingerprint and now < state.due:
                return
            resync = self._sync(ctrl, composite, res, obj, owned, rules)
        except (SyncFailed, LookupError, httpx.HTTPError) as exc:
            failures = state.failures + 1 if state else 1
            self.sync_errors.append(f"{name} {key_of(obj)}: {exc}")
            self._state[(name, meta["uid"])] = _State(None, now + min(self.period * 2**failures, 30.0), failures)
            return
        period = float(ctrl["spec"].get("resyncPeriodSeconds") or 0) or float("inf")
        delay = min(period, float(resync) if resync and resync > 0 else float("inf"))
        self._state[(name, meta["uid"])] = _State(fingerprint, time.monotonic() + delay)

    def _sync(self, ctrl: Obj, composite: bool, res: Resource, obj: Obj,
              owned: dict[str, tuple[Resource, str]], rules: list[Obj]) -> float | None:
        meta, spec, name = obj["metadata"], ctrl["spec"], ctrl["metadata"]["name"]
        finalizer = f"metacontroller.io/{'composite' if composite else 'decorator'}controller-{name}"
        has_finalize, deleting = "finalize" in spec["hooks"], bool(meta.get("deletionTimestamp"))
        if deleting and has_finalize and finalizer not in (meta.get("finalizers") or []):
            return None  # finalized already; the apiserver removes the object
        if not deleting and has_finalize and finalizer not in (meta.get("finalizers") or []):
            self._set_finalizer(res, obj, finalizer, True)
        uid, ns = meta["uid"], meta.get("namespace")
        selector = {"matchLabels": {"controller-uid": uid}} if composite and spec.get("generateSelector") else None
        if composite and not spec.get("generateSelector"):
            selector = (obj.get("spec") or {}).get("selector")
        observed: dict[str, dict[str, Obj]] = {g: {} for g in owned}
        for g, (cres, _method) in owned.items():
            for child in self.list(cres, ns if res.namespaced else None, selector, cached=False):
                if controller_uid(child) == uid:
                    observed[g][key_of(child)] = child
        hook = "finalize" if deleting and has_finalize else "sync"
        body: Obj = {"controller": ctrl, "parent" if composite else "object": obj,
                     "children" if composite else "attachments": observed,
                     "related": self._related(rules, obj, meta_only=False), "finalizing": hook == "finalize"}
        answer = self._call(ctrl, hook, obj, body, COMPOSITE_FIELDS if composite else DECORATOR_FIELDS)
        problems: list[str] = []
        if not deleting or has_finalize:  # without a finalize hook the GC cleans up after deletion
            problems = self._manage(name, res, obj, owned, observed,
                                    answer.get("children" if composite else "attachments") or [], selector)
        if not composite:
            self._merge_metadata(res, obj, answer)
        if composite or answer.get("status") is not None:
            status = copy.deepcopy(answer.get("status") or {})
            if composite:
                status["observedGeneration"] = meta.get("generation")
            self._write_status(res, obj, status)
        if hook == "finalize" and answer.get("finalized"):
            self._set_finalizer(res, obj, finalizer, False)
        if problems:
            raise SyncFailed("; ".join(problems))
        resync = answer.get("resyncAfterSeconds")
        return float(resync) if resync else None

    def _manage(self, name: str, res: Resource, owner: Obj, owned: dict[str, tuple[Resource, str]],
                observed: dict[str, dict[str, Obj]], desired: list[Obj], selector: Obj | None) -> list[str]:
        meta, problems, wanted = owner["metadata"], [], set()
        ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
               "controller": True, "blockOwnerDeletion": True}
        for child in desired:
            g = f"{child.get('kind')}.{child.get('apiVersion')}"
            if g not in owned:
                problems.append(f"{g} {key_of(child)}: not a declared child/attachment resource")
                continue
            cres, method = owned[g]
            child = copy.deepcopy(child)
            cm = child.setdefault("metadata", {})
            if cres.namespaced and not cm.get("namespace"):
                if not meta.get("namespace"):
                    problems.append(f"{g} {cm.get('name')}: a cluster-scoped owner's child needs a namespace")
                    continue
                cm["namespace"] = meta["namespace"]
            if selector is not None and selector.get("matchLabels", {}).get("controller-uid") == meta["uid"]:
                cm["labels"] = {**(cm.get("labels") or {}), "controller-uid": meta["uid"]}
            cm["ownerReferences"] = [r for r in cm.get("ownerReferences") or [] if not r.get("controller")] + [ref]
            wanted.add((g, key_of(child)))
            if method == "OnDelete" and key_of(child) in observed[g]:
                continue
            try:
                self._apply(name, cres, child)
            except SyncFailed as exc:
                problems.append(str(exc))
        for g, objs in observed.items():
            for k, o in objs.items():
                if (g, k) not in wanted and not o["metadata"].get("deletionTimestamp"):
                    body = {"propagationPolicy": "Background", "preconditions": {"uid": o["metadata"]["uid"]}}
                    r = self.api.request("DELETE", owned[g][0].path(o["metadata"].get("namespace"),
                                                                    o["metadata"]["name"]), json=body)
                    if r.status_code not in (200, 202, 404, 409):
                        problems.append(f"delete {g} {k}: {r.status_code} {r.text[:200]}")
        return problems

    def _merge_metadata(self, res: Resource, obj: Obj, answer: Obj) -> None:
        meta, patch = obj["metadata"], {}
        for field in ("labels", "annotations"):
            current = meta.get(field) or {}
            changes = {k: v for k, v in (answer.get(field) or {}).items()
                       if (v is None and k in current) or (v is not None and current.get(k) != v)}
            if changes:
                patch[field] = changes
        if patch:
            r = self.api.patch(res.path(meta.get("namespace"), meta["name"]), content=json.dumps({"metadata": patch}),
                               headers={"Content-Type": "application/merge-patch+json"})
            r.raise_for_status()
