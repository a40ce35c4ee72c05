"""Score workload files in: each ``score.dev/v1b1`` Workload becomes the LatticeService it implies.

Pure functions; the only I/O (reading a ``files.*.source`` file, the process environment for
``environment`` resources) goes through the callbacks the caller passes. What is converted, as
score-go normalises and score-k8s reads it:

- ``metadata.name`` names the LatticeService; ``metadata.annotations`` become its annotations (and so
  the pod's); every other metadata key goes to ``spec.workloadMetadata`` (``${metadata.<key>}``).
- ``containers``, ``service`` and ``resources`` are copied; the deprecated list forms of ``files`` and
  ``volumes`` become maps keyed by ``target`` (``read_only`` -> ``readOnly``, a ``content`` list is
  joined with newlines; a target given twice is an error, where Score silently keeps the last).
- ``files.*.source`` is read relative to the workload file (a path outside its folder is refused, as
  score-compose does): UTF-8 text becomes ``content`` (expanded unless ``noExpand``), other bytes
  ``binaryContent``.
- ``image: "."`` takes ``--image``; without it, an error names the container.
- an ``environment`` resource gets ``params`` from the environment for each key the workload reads.
- ``before`` (container start order) has no Kubernetes equivalent and is refused with the reason.

``link`` then adds, across the converted workloads, the inbound declarations the bilateral mesh needs
(Score has none) and says what it added, or what the callee must add when it is not among them.
"""

from __future__ import annotations

import base64
import copy
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

API_VERSION = "score.dev/v1b1"
TOP_LEVEL = ("apiVersion", "metadata", "service", "containers", "resources")
_REF = re.compile(r"\$\{resources\.([a-z0-9-]+)\.([^}.]+)\}")

ReadFile = Callable[[str], bytes]  # a path relative to the workload file -> its bytes (raises OSError)


@attrs.frozen
class Converted:
    service: dict[str, Any] | None  # the LatticeService, None when the errors leave nothing to show
    errors: list[str]
    warnings: list[str]


def is_score(doc: Mapping[str, Any]) -> bool:
    return str(doc.get("apiVersion", "")).startswith("score.dev/")


def convert(doc: Mapping[str, Any], *, read_file: ReadFile, image: str | None = None,
            namespace: str | None = None, environ: Mapping[str, str] | None = None) -> Converted:
    errors: list[str] = []
    warnings: list[str] = []
    if doc.get("apiVersion") != API_VERSION:
        errors.append(f"apiVersion: expected '{API_VERSION}', got {doc.get('apiVersion')!r}")
    for key in doc:
        if key not in TOP_LEVEL:
            errors.append(f"{key}: unknown field (a Score v1b1 workload has: {', '.join(TOP_LEVEL)})")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        errors.append("metadata.name: required (the workload name)")
        meta = meta if isinstance(meta, dict) else {}
    containers = doc.get("containers")
    if not isinstance(containers, dict) or not containers:
        errors.append("containers: required (at least one container)")
        containers = {}
    spec: dict[str, Any] = {"containers": {}}
    for cname, c in containers.items():
        spec["containers"][cname] = _container(cname, c, read_file, image, errors, warnings)
    if doc.get("service") is not None:
        spec["service"] = copy.deepcopy(doc["service"])
    if doc.get("resources"):
        spec["resources"] = copy.deepcopy(doc["resources"])
        _environment_params(spec, environ or {})
    extra = {k: copy.deepcopy(v) for k, v in meta.items() if k not in ("name", "annotations")}
    if extra:
        spec["workloadMetadata"] = extra
    metadata: dict[str, Any] = {"name": meta.get("name")}
    if namespace:
        metadata["namespace"] = namespace
    if isinstance(meta.get("annotations"), dict) and meta["annotations"]:
        metadata["annotations"] = dict(meta["annotations"])
    service = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", "metadata": metadata, "spec": spec}
    return Converted(service if meta.get("name") else None, errors, warnings)


def _container(name: str, c: Any, read_file: ReadFile, image: str | None, errors: list[str],
               warnings: list[str]) -> Any:
    where = f"containers.{name}"
    if not isinstance(c, dict):
        errors.append(f"{where}: expected a mapping")
        return c
    out = copy.deepcopy(c)
    if out.get("image") == ".":
        if image:
            out["image"] = image
        else:
            errors.append(f"{where}.image: '.' means the image is chosen at deploy time: give it with --image")
    if "before" in out:
        errors.append(f"{where}.before: container start ordering has no Kubernetes equivalent (a pod starts its "
                      "containers together); run the earlier container as a sidecar with init: true instead")
        out.pop("before")
    if isinstance(out.get("files"), list):
        warnings.append(f"{where}.files: the list form is deprecated in Score; converted to a map keyed by target")
        out["files"] = _by_target(out["files"], f"{where}.files", errors)
    if isinstance(out.get("volumes"), list):
        warnings.append(f"{where}.volumes: the list form is deprecated in Score; converted to a map keyed by target")
        out["volumes"] = _by_target(out["volumes"], f"{where}.volumes", errors)
    for v in (out.get("volumes") or {}).values():
        if isinstance(v, dict) and "read_only" in v:
            v.setdefault("readOnly", v.pop("read_only"))
    for target, f in (out.get("files") or {}).items():
        if isinstance(f, dict):
            _file(f, f"{where}.files.{target}", read_file, errors)
    return out


def _by_target(items: list[Any], where: str, errors: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        target = item.get("target") if isinstance(item, dict) else None
        if not isinstance(target, str):
            errors.append(f"{where}[{i}].target: is missing or is not a string")
            continue
        if target in out:
            errors.append(f"{where}[{i}].target: '{target}' is also the target of item {first[target]}")
            continue
        first[target] = i
        out[target] = {k: v for k, v in item.items() if k != "target"}
    return out


def inline_sources(service: Mapping[str, Any], read_file: ReadFile) -> list[str]:
    """Read the ``files.*.source`` of a LatticeService written as a file (``lattice render``)."""
    errors: list[str] = []
    spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
    for group in ("containers", "sidecars"):
        for cname, c in ((spec or {}).get(group) or {}).items():
            files = c.get("files") if isinstance(c, dict) else None
            for target, f in (files or {}).items() if isinstance(files, dict) else ():
                if isinstance(f, dict) and "source" in f:
                    _file(f, f"spec.{group}.{cname}.files.{target}", read_file, errors)
    return errors


def _file(f: dict[str, Any], where: str, read_file: ReadFile, errors: list[str]) -> None:
    if isinstance(f.get("content"), list):
        f["content"] = "\n".join(str(x) for x in f["content"])
    source = f.get("source")
    if not isinstance(source, str):
        return
    if posixpath.isabs(source) or ".." in posixpath.normpath(source).split("/"):
        errors.append(f"{where}.source: '{source}' must be a relative path within the Score file's folder")
        return
    try:
        data = read_file(source)
    except OSError as e:
        looked = f" (looked for {e.filename})" if e.filename else ""
        errors.append(f"{where}.source: cannot read '{source}' next to the Score file{looked}: {e.strerror or e}")
        return
    f.pop("source")
    try:
        f["content"] = data.decode("utf-8")
    except UnicodeDecodeError:
        f["binaryContent"] = base64.b64encode(data).decode()
        f.pop("noExpand", None)


def _environment_params(spec: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Fill each environment resource's params with the variables the workload reads from it."""
    envs = {n for n, r in spec["resources"].items() if isinstance(r, dict) and r.get("type") == "environment"}
    if not envs:
        return
    text = repr(spec["containers"])
    for name, key in _REF.findall(text):
        if name in envs and key in environ:
            params = spec["resources"][name].setdefault("params", {})
            params.setdefault(key, environ[key])


# ---- across workloads ---------------------------------------------------------------------------


def callees(service: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """(resource, target workload, target namespace) of every workload a service calls."""
    out = []
    for rname, r in sorted((service["spec"].get("resources") or {}).items()):
        if not isinstance(r, dict):
            continue
        if r.get("type") == "service" and r.get("direction", "outbound") in ("outbound", "both"):
            target = str(r.get("id") or rname).split(".")[-1]
            out.append((rname, target, r.get("namespace")))
        elif r.get("type") == "service-port" and isinstance((r.get("params") or {}).get("workload"), str):
            out.append((rname, r["params"]["workload"], None))
    return out


def _accepts(callee: Mapping[str, Any], caller: str) -> bool:
    resources = (callee.get("spec") or {}).get("resources") or {}
    return any(isinstance(r, dict) and r.get("type") == "service" and r.get("direction") in ("inbound", "both")
               and (r.get("id") or k) in (caller, "*") for k, r in resources.items())


def link(services: list[dict[str, Any]], others: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """Add the inbound declarations a caller among ``services`` (converted from Score) needs; notes on what
    was added, or on what a callee outside them (``others``: LatticeServices as written, not changed) lacks."""
    by_name = {s["metadata"]["name"]: s for s in services}
    given = {s["metadata"]["name"]: s for s in others}
    notes: list[str] = []
    for caller in services:
        cname = caller["metadata"]["name"]
        for rname, target, ns in callees(caller):
            callee = by_name.get(target)
            if callee is None or (ns and ns != callee["metadata"].get("namespace")):
                if target in given and _accepts(given[target], cname):
                    continue
                notes.append(f"LatticeService {cname} calls {target} (resources.{rname}); {target} must accept it: "
                             f"add resources.{cname} {{type: service, direction: inbound}} to {target}")
                continue
            resources = callee["spec"].setdefault("resources", {})
            if _accepts(callee, cname):
                continue
            key = cname if cname not in resources else f"{cname}-caller"
            resources[key] = {"type": "service", "direction": "inbound", **({"id": cname} if key != cname else {})}
            notes.append(f"added resources.{key} {{type: service, direction: inbound}} to {target} so that {cname} "
                         "may call it (Score workloads declare no inbound callers)")
    return notes
