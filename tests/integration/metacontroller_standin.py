"""Metacontroller stand-in: a TEST DOUBLE for Metacontroller v4.17. It is not Metacontroller.

Metacontroller cannot be built here. The Go module proxy refuses its module at every version:
``go mod download -json github.com/metacontroller/metacontroller@v0.0.0-20260813213314-76b818bdc67b``
gives ``403 Forbidden ... This module version is not available``, and so do ``@v/list`` and ``@v4.17.2``
(docs/testbed.md). This double implements only the part of the CompositeController/DecoratorController
contract (docs/hooks.md describes the hook wire format) that Lattice's controllers use, against a real apiserver:

* the controllers are ``hooks.controllers_manifest.controller_objects(hooks_url)``, the objects manifests/
  ships. A controller whose parent, child or attachment resource is not served does not start, as in
  Metacontroller's ``newParentController``.
* Polling instead of informers. Every ``period`` s each parent (target) is listed, and it is synced when
  one of these happens: its generation, labels, annotations or deletion changed (``ignoreStatusChanges``;
  without it, its resourceVersion); a related object picked by its customize answer (cached per uid and
  generation) changed; ``resyncAfterSeconds`` or ``resyncPeriodSeconds`` came due; a sync failed
  (backoff doubling from ``period`` up to 30 s). ``sync_now()`` runs one pass in the caller's thread.
* v2 hooks only: objects keyed ``Kind.group/version`` -> ``namespace/name``, strict response decoding.
* Children: only those with a controller ownerReference to the parent and the ``controller-uid`` label
  (``generateSelector``). Desired children get the same reference (blockOwnerDeletion) and label, and
  the parent's namespace by default. They are server-side applied (manager ``metacontroller-standin``,
  force) only when they differ from what was last applied or observed. ``OnDelete`` never updates. Owned
  children that were left out are deleted (background propagation, uid precondition).
* Status is replaced through ``/status`` with ``observedGeneration`` injected; the write is skipped when
  equal. The finalize hook uses finalizer ``metacontroller.io/<composite|decorator>controller-<name>``.
  Decorators merge labels and annotations onto the target (null removes).

Not covered: watches/informer latency, child events (a child changed by someone else is repaired at
the next resync only), orphan adoption, rolling updates, ``Recreate``, v1 hooks, etag, 429 Retry-After,
Events, ``annotationSelector``, webhook auth. ``calls`` records every hook call; ``apply_errors``
records every child the apiserver refused. Server-side apply makes a field the schema does not declare
an error here, not a silent prune.
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

from crds import KubeObject
from hooks.controllers_manifest import controller_objects

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
    target: str  # namespace/name of the parent or target
    status: int | None  # None when no HTTP answer came
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class ApplyError:
    controller: str
    kind: str
    key: str  # namespace/name
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

    def path(self, namespace: str | None = None, name: str = "", sub: str = "") -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        ns = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{base}{ns}/{self.resource}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


@dataclass
class _State:
    fingerprint: Any
    due: float
    failures: int = 0


def key_of(obj: KubeObject) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta.get("name"))


def selector_string(sel: KubeObject | None) -> str:
    """A metav1.LabelSelector as the apiserver's ``labelSelector`` parameter."""
    parts = [f"{k}={v}" for k, v in sorted(((sel or {}).get("matchLabels") or {}).items())]
    for e in (sel or {}).get("matchExpressions") or []:
        k, vals = e["key"], ",".join(e.get("values") or [])
        parts.append({"In": f"{k} in ({vals})", "NotIn": f"{k} notin ({vals})", "Exists": k,
                      "DoesNotExist": f"!{k}"}[e["operator"]])
    return ",".join(parts)


def controller_uid(obj: KubeObject) -> str | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((str(r.get("uid")) for r in refs if r.get("controller")), None)


def _contains(observed: Any, desired: Any) -> bool:
    """Whether every field of ``desired`` already has that value in ``observed``."""
    if isinstance(desired, dict):
        return isinstance(observed, dict) and all(_contains(observed.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(observed, list) and len(observed) == len(desired) and all(
            _contains(o, d) for o, d in zip(observed, desired, strict=True))
    return bool(observed == desired)


class MetacontrollerStandin:
    """Runs Lattice's controllers against an apiserver by calling the hook server (see the module doc)."""

    def __init__(self, server: str, token: str, ca_file: str, hooks_url: str, *, period: float = 0.5,
                 controllers: list[KubeObject] | None = None, in_scope: Callable[[str], bool] | None = None) -> None:
        self.api = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                                verify=ssl.create_default_context(cafile=ca_file), timeout=30)
        self.hooks_http = httpx.Client()
        self.controllers = controllers if controllers is not None else controller_objects(hooks_url)
        self.period = period
        self.in_scope = in_scope or (lambda _namespace: True)  # namespaces (and Namespace targets) managed
        self.calls: list[HookCall] = []
        self.apply_errors: list[ApplyError] = []
        self.sync_errors: list[str] = []
        self.not_started: dict[str, str] = {}
        self._state: dict[tuple[str, str], _State] = {}
        self._customized: dict[tuple[str, str, int], list[KubeObject]] = {}
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._cache: dict[tuple[Any, ...], list[KubeObject]] = {}  # lists of the current pass
        self._applied: dict[tuple[str, str], str] = {}  # what was last applied, per child
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="metacontroller-standin", daemon=True)

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
            except Exception as exc:  # e.g. the apiserver going away at teardown
                self.sync_errors.append(f"pass: {type(exc).__name__}: {exc}")
            self._stop.wait(self.period)

    def sync_now(self) -> None:
        """One pass over every controller and parent."""
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

    # ---- apiserver ------------------------------------------------------------------------------

    def resolve(self, api_version: str, resource: str) -> Resource:
        """Discovery; LookupError when the resource is not served."""
        if resource not in self._discovery.get(api_version, {}):
            r = self.api.get("/api/v1" if api_version == "v1" else f"/apis/{api_version}")
            entries = r.json()["resources"] if r.status_code == 200 else []
            names = {e["name"] for e in entries}
            self._discovery[api_version] = {
                e["name"]: Resource(api_version, e["name"], e["kind"], e["namespaced"], f"{e['name']}/status" in names)
                for e in entries if "/" not in e["name"]}
        try:
            return self._discovery[api_version][resource]
        except KeyError:
            raise LookupError(f"can't find resource {resource!r} in apiVersion {api_version!r}") from None

    def list(self, res: Resource, namespace: str | None = None, selector: KubeObject | None = None, *,
             names: list[str] | None = None, meta_only: bool = False) -> list[KubeObject]:
        """Objects of ``res`` (metadata only when ``meta_only``), cached for the current pass."""
        ck = (res, namespace, json.dumps(selector, sort_keys=True), tuple(names or ()), meta_only)
        if ck in self._cache:
            return self._cache[ck]
        out: list[KubeObject] = []
        if names:  # one GET per name: cheaper than listing, e.g., every CRD
            for n in names:
                r = self.api.get(res.path(namespace, n), headers={"Accept": META_ONE} if meta_only else {})
                if r.status_code != 404:
                    out.append(r.raise_for_status().json())
        else:
            params = {"labelSelector": selector_string(selector)} if selector else {}
            r = self.api.get(res.path(namespace), params=params, headers={"Accept": META_LIST} if meta_only else {})
            out = r.raise_for_status().json().get("items") or []
        for o in out:  # list items carry no apiVersion/kind
            o.update(apiVersion=res.api_version, kind=res.kind)
        self._cache[ck] = out
        return out

    def _apply(self, owner: str, res: Resource, obj: KubeObject) -> None:
        m = obj["metadata"]
        r = self.api.patch(res.path(m.get("namespace"), m["name"]), content=json.dumps(obj),
                           params={"fieldManager": FIELD_MANAGER, "force": "true"},
                           headers={"Content-Type": "application/apply-patch+yaml"})
        if r.status_code >= 300:
            msg = r.json().get("message", r.text) if "json" in r.headers.get("content-type", "") else r.text
            self.apply_errors.append(ApplyError(owner, res.kind, key_of(obj), r.status_code, msg))
            raise SyncFailed(f"apply {res.kind} {key_of(obj)}: {r.status_code} {msg}")

    def _write_status(self, res: Resource, obj: KubeObject, status: KubeObject) -> None:
        path = res.path(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for _ in range(3):  # GET + PUT, retried on conflict; a final 409 waits for the next sync
            r = self.api.get(path)
            if r.status_code == 404 or r.raise_for_status().json().get("status") == status:
                return
            current = {**r.json(), "status": status}
            r = self.api.put(path + ("/status" if res.has_status else ""), json=current)
            for warning in r.headers.get_list("warning"):  # e.g. a status field the CRD does not declare
                self.apply_errors.append(ApplyError("", res.kind, key_of(obj), r.status_code, f"status: {warning}"))
            if r.status_code not in (404, 409):
                r.raise_for_status()
                return

    def _set_finalizer(self, res: Resource, obj: KubeObject, name: str, present: bool) -> None:
        meta = obj["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != name] + ([name] if present else [])
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
        r = self.api.patch(res.path(meta.get("namespace"), meta["name"]), content=json.dumps(patch),
                           headers={"Content-Type": "application/merge-patch+json"})
        if r.status_code == 409:
            raise SyncFailed(f"finalizer update of {key_of(obj)}: conflict")
        if r.status_code != 404:
            r.raise_for_status()

    # ---- hooks ------------------------------------------------------------------------------------

    def _call(self, ctrl: KubeObject, hook: str, target: KubeObject, body: KubeObject, fields: set[str]) -> KubeObject:
        spec, name = ctrl["spec"]["hooks"][hook], ctrl["metadata"]["name"]
        if spec.get("version") != "v2":
            raise SyncFailed(f"the stand-in speaks v2 hooks only, not {spec.get('version')!r}")
        timeout = str(spec["webhook"].get("timeout") or "10s")  # a Go duration: "10s", "500ms"
        seconds = float(timeout[:-2]) / 1000 if timeout.endswith("ms") else float(timeout.rstrip("s"))
        t0, data, error, code = time.perf_counter(), None, "", None
        try:
            r = self.hooks_http.post(spec["webhook"]["url"], content=json.dumps(body), timeout=seconds or 10,
                                     headers={"Content-Type": "application/json"})
            code = r.status_code
            data = r.json() if code == 200 else None
            error = "" if code == 200 else r.text[:300]
        except (httpx.HTTPError, ValueError) as exc:
            error = repr(exc)
        unknown = sorted(set(data) - fields) if isinstance(data, dict) else []
        if not error and not isinstance(data, dict):
            error = "the response is not a JSON object"
        elif not error and unknown:
            error = f"unknown fields in the response (strict v2): {unknown}"
        self.calls.append(HookCall(name, hook, key_of(target), code, time.perf_counter() - t0, error))
        if error or not isinstance(data, dict):
            raise SyncFailed(f"{name} {hook} of {key_of(target)}: HTTP {code}: {error}")
        return data

    def _related_rules(self, ctrl: KubeObject, target: KubeObject) -> list[KubeObject]:
        if "customize" not in ctrl["spec"]["hooks"]:
            return []
        meta = target["metadata"]
        ck = (ctrl["metadata"]["name"], meta["uid"], int(meta.get("generation") or 0))
        if ck not in self._customized:
            answer = self._call(ctrl, "customize", target, {"controller": ctrl, "parent": target},
                                {"relatedResources"})
            self._customized[ck] = list(answer.get("relatedResources") or [])
        return self._customized[ck]

    def _related(
        self, rules: list[KubeObject], target: KubeObject, *, meta_only: bool
    ) -> dict[str, dict[str, KubeObject]]:
        out: dict[str, dict[str, KubeObject]] = {}
        for rule in rules:
            if rule.get("names") and rule.get("labelSelector") is not None:
                raise SyncFailed(f"a related rule with both names and labelSelector: {rule}")
            res = self.resolve(rule["apiVersion"], rule["resource"])
            ns = rule.get("namespace") or target["metadata"].get("namespace")
            ns = None if ns == "*" or not res.namespaced else ns
            group = out.setdefault(res.group_key, {})
            for o in self.list(res, ns, rule.get("labelSelector"), names=rule.get("names"), meta_only=meta_only):
                group[key_of(o)] = o
        return out

    # ---- controllers ------------------------------------------------------------------------------

    def _run_controller(self, ctrl: KubeObject) -> None:
        spec, name, composite = ctrl["spec"], ctrl["metadata"]["name"], ctrl["kind"] == "CompositeController"
        owned = {(res := self.resolve(c["apiVersion"], c["resource"])).group_key:
                 (res, (c.get("updateStrategy") or {}).get("method", "OnDelete"))
                 for c in spec.get("childResources" if composite else "attachments") or []}
        seen: set[tuple[str, str]] = set()
        for src in [spec["parentResource"]] if composite else spec["resources"]:
            res = self.resolve(src["apiVersion"], src["resource"])
            for obj in self.list(res, selector=src.get("labelSelector")):
                meta = obj["metadata"]
                scope = meta.get("namespace") or (meta["name"] if res.kind == "Namespace" else None)
                if scope is None or self.in_scope(scope):
                    seen.add((name, meta["uid"]))
                    self._maybe_sync(ctrl, composite, res, obj, owned, bool(src.get("ignoreStatusChanges")))
        for k in [k for k in self._state if k[0] == name and k not in seen]:
            del self._state[k]

    def _maybe_sync(self, ctrl: KubeObject, composite: bool, res: Resource, obj: KubeObject,
                    owned: dict[str, tuple[Resource, str]], ignore_status: bool) -> None:
        meta, key = obj["metadata"], (ctrl["metadata"]["name"], obj["metadata"]["uid"])
        state, now = self._state.get(key), time.monotonic()
        own = (meta.get("generation"), meta.get("labels"), meta.get("annotations"), meta.get("deletionTimestamp"),
               meta.get("finalizers")) if ignore_status else meta["resourceVersion"]
        try:
            rules = self._related_rules(ctrl, obj)
            related = self._related(rules, obj, meta_only=True)
            fingerprint = (own, {g: {k: o["metadata"]["resourceVersion"] for k, o in objs.items()}
                                 for g, objs in related.items()})
            if state is not None and state.fingerprint == fingerprint and now < state.due:
                return
            resync = self._sync(ctrl, composite, res, obj, owned, rules)
        except (SyncFailed, LookupError, httpx.HTTPError) as exc:
            failures = state.failures + 1 if state else 1
            self.sync_errors.append(f"{key[0]} {key_of(obj)}: {exc}")
            self._state[key] = _State(None, now + min(self.period * 2**failures, 30.0), failures)
            return
        delay = min(float(ctrl["spec"].get("resyncPeriodSeconds") or "inf"), resync or float("inf"))
        self._state[key] = _State(fingerprint, time.monotonic() + delay)

    def _sync(self, ctrl: KubeObject, composite: bool, res: Resource, obj: KubeObject,
              owned: dict[str, tuple[Resource, str]], rules: list[KubeObject]) -> float | None:
        meta, hooks, name = obj["metadata"], ctrl["spec"]["hooks"], ctrl["metadata"]["name"]
        finalizer = f"metacontroller.io/{'composite' if composite else 'decorator'}controller-{name}"
        has_finalizer, deleting = finalizer in (meta.get("finalizers") or []), bool(meta.get("deletionTimestamp"))
        if "finalize" in hooks and deleting and not has_finalizer:
            return None  # finalized: the apiserver removes the object
        if "finalize" in hooks and not deleting and not has_finalizer:
            self._set_finalizer(res, obj, finalizer, True)
        if composite and not ctrl["spec"].get("generateSelector"):
            raise SyncFailed("the stand-in covers generateSelector: true only")
        uid, observed = meta["uid"], {g: {} for g in owned}
        for g, (cres, _method) in owned.items():  # lists of this pass: a sync touches only its own children
            for child in self.list(cres, meta.get("namespace") if res.namespaced else None):
                uid_label = (child["metadata"].get("labels") or {}).get("controller-uid")
                if controller_uid(child) == uid and (not composite or uid_label == uid):
                    observed[g][key_of(child)] = child
        hook = "finalize" if deleting and "finalize" in hooks else "sync"
        body = {"controller": ctrl, "parent" if composite else "object": obj,
                "children" if composite else "attachments": observed,
                "related": self._related(rules, obj, meta_only=False), "finalizing": hook == "finalize"}
        answer = self._call(ctrl, hook, obj, body, COMPOSITE_FIELDS if composite else DECORATOR_FIELDS)
        problems = []
        if not deleting or hook == "finalize":  # without a finalize hook the garbage collector cleans up
            desired = answer.get("children" if composite else "attachments") or []
            problems = self._manage(name, obj, owned, observed, desired, composite)
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
        if hook == "finalize" and not answer.get("finalized"):
            return self.period  # no child events here: ask again next pass
        return float(answer.get("resyncAfterSeconds") or 0) or None

    def _manage(self, name: str, owner: KubeObject, owned: dict[str, tuple[Resource, str]],
                observed: dict[str, dict[str, KubeObject]], desired: list[KubeObject], uid_label: bool) -> list[str]:
        meta, problems, wanted = owner["metadata"], [], set()
        ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
               "controller": True, "blockOwnerDeletion": True}
        for child in copy.deepcopy(desired):
            g, cm = f"{child.get('kind')}.{child.get('apiVersion')}", child.setdefault("metadata", {})
            if g not in owned:
                problems.append(f"{g} {key_of(child)}: not a declared child or attachment resource")
                continue
            cres, method = owned[g]
            if cres.namespaced and not cm.get("namespace"):
                if not meta.get("namespace"):
                    problems.append(f"{g} {cm.get('name')}: a cluster-scoped owner's child needs a namespace")
                    continue
                cm["namespace"] = meta["namespace"]
            if uid_label:
                cm["labels"] = {**(cm.get("labels") or {}), "controller-uid": meta["uid"]}
            cm["ownerReferences"] = [r for r in cm.get("ownerReferences") or [] if not r.get("controller")] + [ref]
            key, text = (g, key_of(child)), json.dumps(child, sort_keys=True)
            wanted.add(key)
            current = observed[g].get(key[1])
            if current is not None and (method == "OnDelete" or (self._applied.get(key) == text
                                                                  and _contains(current, child))):
                continue  # like Metacontroller's three-way apply: write only what differs
            try:
                self._apply(name, cres, child)
                self._applied[key] = text
            except SyncFailed as exc:
                problems.append(str(exc))
        for g, objs in observed.items():
            for k, o in objs.items():
                if (g, k) not in wanted and not o["metadata"].get("deletionTimestamp"):
                    body = {"propagationPolicy": "Background", "preconditions": {"uid": o["metadata"]["uid"]}}
                    path = owned[g][0].path(o["metadata"].get("namespace"), o["metadata"]["name"])
                    r = self.api.request("DELETE", path, json=body)
                    if r.status_code not in (200, 202, 404, 409):
                        problems.append(f"delete {g} {k}: {r.status_code} {r.text[:200]}")
        return problems

    def _merge_metadata(self, res: Resource, obj: KubeObject, answer: KubeObject) -> None:
        meta, patch = obj["metadata"], {}
        for field in ("labels", "annotations"):
            current = meta.get(field) or {}
            changes = {k: v for k, v in (answer.get(field) or {}).items()
                       if (v is None and k in current) or (v is not None and current.get(k) != v)}
            if changes:
                patch[field] = changes
        if patch:
            self.api.patch(res.path(meta.get("namespace"), meta["name"]), content=json.dumps({"metadata": patch}),
                           headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
