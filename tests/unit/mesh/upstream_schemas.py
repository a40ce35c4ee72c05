"""Validate generated objects against the upstream CRDs (Cilium, Istio, Gateway API, cert-manager,
Envoy Gateway) the way an apiserver would: the OpenAPI schema, plus every field the apiserver
would silently prune (a field no schema declares is an error here, not a no-op).

The CRD files come from ``testbed/crds.sh`` (the Go module cache; both Gateway API channels, and
Envoy Gateway's BackendTrafficPolicy). A kind without a schema fails the calling test.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
Schema = dict[str, Any]
# The CRD files holding the kinds the mesh compilers generate.
_WANTED = ("ciliumnetworkpolicies", "customresourcedefinitions.gen", "httproutes", "_gateways.",
           "cert-manager.io_certificates.", "backendtrafficpolicies")


def _crd_paths() -> list[Path]:
    paths: list[Path] = []
    for channel in ("standard", "experimental"):
        try:
            out = subprocess.run([str(ROOT / "testbed" / "crds.sh")], capture_output=True, text=True, timeout=120,
                                 env={**os.environ, "LATTICE_GATEWAY_API_CHANNEL": channel}, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        paths += [Path(p) for p in out.split()]
    return paths


@functools.cache
def schemas() -> dict[tuple[str, str], Schema]:
    """(apiVersion, kind) -> openAPIV3Schema; the experimental Gateway API channel wins."""
    out: dict[tuple[str, str], Schema] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in _crd_paths():
        if not any(part in path.name for part in _WANTED):
            continue
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                if v.get("served") and "schema" in v:
                    out[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return out


def _pruned(value: Any, schema: Schema, path: str) -> list[str]:
    """Fields the apiserver would drop: not declared, and unknown fields not preserved."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                out += _pruned(v, props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                out += _pruned(v, extra, f"{path}.{k}")
            elif props is not None and extra is not True:
                out.append(f"{path}.{k}: unknown field (pruned)")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            out += _pruned(v, schema["items"], f"{path}[{i}]")
    return out


def errors(obj: dict[str, Any]) -> list[str]:
    schema = schemas().get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        pytest.fail(f"no upstream schema for {obj['apiVersion']} {obj['kind']} (did testbed/crds.sh run?)")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    schema = {**schema, "required": [r for r in schema.get("required", []) if r != "metadata"]}
    found = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
             for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    return found + _pruned(body, schema, "")


def assert_valid(obj: dict[str, Any]) -> None:
    found = errors(obj)
    assert not found, f"{obj['kind']} {obj['metadata']['name']}: {found}"
