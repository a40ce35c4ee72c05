"""What a live test uses on the ``lattice_loop`` fixture (tests/integration/conftest.py): the real
control plane, the real Metacontroller running the controllers ``manifests/`` ships, and the hook
server as a process. Reads go straight to the apiserver (httpx, admin token); waits are bounded
and say what they waited for."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from hooks.controllers import CONTROLLERS
from lattice_dev import ControlPlane, HookServerProcess
from lattice_dev.loop import Loop

ROOT = Path(__file__).resolve().parents[2]
API = "lattice.dev/v1alpha1"
# Every child kind of the LatticeService controller, as (apiVersion, plural).
SERVICE_CHILDREN = {
    "ServiceAccount": ("v1", "serviceaccounts"), "Deployment": ("apps/v1", "deployments"),
    "Service": ("v1", "services"), "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"), "ConfigMap": ("v1", "configmaps"),
    "ExternalSecret": ("external-secrets.io/v1", "externalsecrets"),
    "CiliumNetworkPolicy": ("cilium.io/v2", "ciliumnetworkpolicies"),
    "AuthorizationPolicy": ("security.istio.io/v1", "authorizationpolicies"),
    "Gateway": ("gateway.networking.k8s.io/v1", "gateways"),
    "HTTPRoute": ("gateway.networking.k8s.io/v1", "httproutes"),
    "Certificate": ("cert-manager.io/v1", "certificates"),
    "EnvoyFilter": ("networking.istio.io/v1alpha3", "envoyfilters"),
    "BackendTrafficPolicy": ("gateway.envoyproxy.io/v1alpha1", "backendtrafficpolicies"),
}
# The kinds a provisioned data service adds (the built-ins: a StatefulSet and an ESO Password generator).
PROVISIONED_CHILDREN = {
    "StatefulSet": ("apps/v1", "statefulsets"),
    "Password": ("generators.external-secrets.io/v1alpha1", "passwords"),
}
CHILD_KINDS = {**SERVICE_CHILDREN, **PROVISIONED_CHILDREN, "ServiceEntry": ("networking.istio.io/v1", "serviceentries")}


def wait(what: str, check: Callable[[], Any], timeout: float, detail: Callable[[], Any] | None = None,
         interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (returned); AssertionError after ``timeout``
    seconds, naming ``what`` and the last value (or ``detail()``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            last = detail() if detail else value
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}")
        time.sleep(interval)


def docs(text: str, ns: str) -> list[dict[str, Any]]:
    """The YAML documents of ``text`` with ``__NS__`` replaced by ``ns`` and ``ns`` as the default
    namespace."""
    out = [d for d in yaml.safe_load_all(text.replace("__NS__", ns)) if d]
    for d in out:
        d["metadata"].setdefault("namespace", ns)
    return out


def examples(ns: str, *names: str) -> list[dict[str, Any]]:
    """``examples/services/<name>.yaml``, moved to namespace ``ns``."""
    out = []
    for name in names:
        doc = yaml.safe_load((ROOT / "examples" / "services" / f"{name}.yaml").read_text())
        doc["metadata"]["namespace"] = ns
        out.append(doc)
    return out


def permit(ns: str) -> dict[str, Any]:
    """A CedarPolicy in lattice-system letting the services of ``ns`` read any secret."""
    meta = {"name": f"permit-{ns}", "namespace": "lattice-system"}
    return {"apiVersion": API, "kind": "CedarPolicy", "metadata": meta,
            "spec": {"enabled": True, "priority": 100, "policies": (
                'permit(principal, action == Lattice::Action::"AccessSecret", resource)'
                f' when {{ principal.namespace == "{ns}" }};')}}


def _name(obj: Any) -> str:
    if not isinstance(obj, dict):
        return str(obj)
    meta = obj.get("metadata") or obj
    ns = meta.get("namespace")
    return f"{obj.get('kind', '')} {ns + '/' if ns else ''}{meta.get('name', '')}".strip()


def summarize(line: str) -> str:
    """One line of Metacontroller's JSON log, short: time, message, parent, child, error."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line.strip()[:500]
    parts = [str(entry.get("ts", "")), str(entry.get("msg", ""))]
    for key in ("parent", "object", "child"):
        if key in entry:
            parts.append(f"{key}={_name(entry[key])}")
    if "error" in entry:
        parts.append(f"error={str(entry['error'])[:300]}")
    return " ".join(parts)


class LatticeLoop:
    """The session's live loop. ``cp`` (the plane: ``kubectl``, ``apply``, ``get_json``, ...),
    ``hooks`` (the hook server process), ``api`` (an httpx client as admin)."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.cp: ControlPlane = loop.cp
        self.hooks: HookServerProcess = loop.hooks
        self.api = httpx.Client(base_url=self.cp.server, headers={"Authorization": f"Bearer {self.cp.token}"},
                                verify=self.cp.ssl_context(), timeout=30)
        # Byte ranges of Metacontroller's log in which errors were expected (expected_errors()).
        self.expected: list[tuple[int, int]] = []

    def close(self) -> None:
        self.api.close()

    # ---- setup

    def namespace(self, what: str) -> str:
        """Create a fresh namespace ``lt-<what>-<5 hex>`` and return its name."""
        name = f"lt-{what}-{uuid.uuid4().hex[:5]}"
        self.cp.kubectl("create", "namespace", name)
        return name

    def apply(self, objects: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
              namespace: str | None = None) -> None:
        """``kubectl apply`` of YAML text (``__NS__`` replaced by ``namespace``), one object or a list;
        namespaced objects without a namespace land in ``namespace``."""
        if isinstance(objects, str):
            items = docs(objects, namespace) if namespace else [d for d in yaml.safe_load_all(objects) if d]
        elif isinstance(objects, Mapping):
            items = [dict(objects)]
        else:
            items = [dict(o) for o in objects]
        if namespace:
            for item in items:
                item.setdefault("metadata", {}).setdefault("namespace", namespace)
        self.cp.apply(items)

    # ---- reads

    def path(self, api_version: str, plural: str, ns: str | None, name: str = "") -> str:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        return f"{base}{f'/namespaces/{ns}' if ns else ''}/{plural}{f'/{name}' if name else ''}"

    def get(self, api_version: str, plural: str, ns: str | None, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        r = self.api.get(self.path(api_version, plural, ns, name))
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def items(self, api_version: str, plural: str, ns: str | None) -> list[dict[str, Any]]:
        r = self.api.get(self.path(api_version, plural, ns))
        r.raise_for_status()
        return list(r.json().get("items") or [])

    def lattice(self, plural: str, ns: str | None, name: str) -> dict[str, Any] | None:
        """A Lattice object (``plural`` of lattice.dev/v1alpha1)."""
        return self.get(API, plural, ns, name)

    def phase(self, plural: str, ns: str | None, name: str) -> str | None:
        obj = self.lattice(plural, ns, name)
        return None if obj is None else (obj.get("status") or {}).get("phase")

    def wait_phase(self, plural: str, ns: str | None, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until the Lattice object's ``status.phase`` is ``phase``; return the object."""
        wait(f"{plural} {ns}/{name} phase {phase}", lambda: self.phase(plural, ns, name) == phase, timeout,
             lambda: (self.lattice(plural, ns, name) or {}).get("status"))
        obj = self.lattice(plural, ns, name)
        assert obj is not None
        return obj

    def patch(self, plural: str, ns: str | None, name: str, patch: Mapping[str, Any]) -> None:
        """A JSON merge patch of a Lattice object."""
        r = self.api.patch(self.path(API, plural, ns, name), content=json.dumps(patch),
                           headers={"Content-Type": "application/merge-patch+json"})
        r.raise_for_status()

    def owned(self, owner: Mapping[str, Any], ns: str | None) -> dict[tuple[str, str], dict[str, Any]]:
        """Every object of a Lattice child kind in ``ns`` whose controller ownerReference is ``owner``."""
        uid, out = owner["metadata"]["uid"], {}
        for kind, (api_version, plural) in CHILD_KINDS.items():
            for obj in self.items(api_version, plural, ns):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("controller") and r["uid"] == uid for r in refs):
                    out[(kind, obj["metadata"]["name"])] = obj
        return out

    def versions(self, ns: str) -> dict[tuple[str, str], str]:
        """(kind, name) -> resourceVersion of every Lattice object and child in ``ns``, and of the
        Namespace itself: equal twice means nothing was written in between."""
        out = {("Namespace", ns): str((self.get("v1", "namespaces", None, ns) or {}).get("metadata", {})
                                     .get("resourceVersion"))}
        kinds = {**CHILD_KINDS, **{k: (API, p) for k, p in (("LatticeService", "latticeservices"),
                                                            ("LatticeExternalService", "latticeexternalservices"))}}
        for kind, (api_version, plural) in kinds.items():
            for obj in self.items(api_version, plural, ns):
                out[(kind, obj["metadata"]["name"])] = obj["metadata"]["resourceVersion"]
        return out

    def settled(self, ns: str, quiet: float = 2.0, timeout: float = 30.0) -> None:
        """Wait until nothing in ``ns`` (Lattice objects, children, the Namespace) is written for
        ``quiet`` seconds: no status, label or child that changes from one sync to the next."""
        def quiet_spell() -> bool:
            before = self.versions(ns)
            time.sleep(quiet)
            return self.versions(ns) == before

        wait(f"{ns} settled ({quiet}s without a write)", quiet_spell, timeout)

    # ---- Metacontroller

    def sync_errors(self, ns: str) -> list[str]:
        """Metacontroller's Warning events in ``ns`` (a hook that failed, a child the apiserver
        refused): ``"<kind>/<name>: <reason>: <message>"``."""
        out = []
        for e in self.items("events.k8s.io/v1", "events", ns):
            if e.get("type") == "Warning" and (e.get("reportingController") or "").startswith("metacontroller"):
                regarding = e.get("regarding") or {}
                out.append(f"{regarding.get('kind')}/{regarding.get('name')}: {e.get('reason')}: {e.get('note')}")
        return out

    def metacontroller_log(self) -> str:
        proc = self.cp.processes.get("metacontroller")
        return proc.log_path.read_text(errors="replace") if proc else ""

    def metacontroller_errors(self, since: int = 0, pattern: str = "") -> list[str]:
        """Error lines of Metacontroller's log from byte offset ``since`` (``len(metacontroller_log())``
        taken earlier), optionally only those matching ``pattern`` (a regex, e.g. a namespace);
        lines written inside :meth:`expected_errors` are left out. Each as :func:`summarize` puts it."""
        log = self.metacontroller_log()
        out, offset = [], 0
        for line in log.splitlines(keepends=True):
            start, offset = offset, offset + len(line)
            if start < since or any(a <= start < b for a, b in self.expected):
                continue
            if '"level":"error"' in line and (not pattern or re.search(pattern, line)):
                out.append(summarize(line))
        return out

    @contextlib.contextmanager
    def expected_errors(self) -> Iterator[None]:
        """Metacontroller errors logged inside this block (e.g. while the hook server is down on
        purpose) are not reported by :meth:`metacontroller_errors` later."""
        start = len(self.metacontroller_log())
        try:
            yield
        finally:
            self.expected.append((start, len(self.metacontroller_log())))

    def wait_controllers_started(self, timeout: float = 60.0) -> None:
        """Until Metacontroller has started every Lattice controller (it logs each start)."""
        names = {f"lattice-{c.name}" for c in CONTROLLERS}

        def started() -> set[str]:
            log = self.metacontroller_log()
            return {n for n in names if re.search(rf'"Starting (Composite|Decorator)Controller".*"{n}"', log)}

        wait("Metacontroller to start every controller", lambda: started() == names, timeout,
             lambda: sorted(names - started()))
