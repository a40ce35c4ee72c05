"""Validate objects offline against upstream CRD schemas, the way an apiserver would before CEL
(shared by the mesh and cluster compiler tests):
defaults applied, the OpenAPI schema, and every field the apiserver would silently prune (a field
no schema declares is an error here, not a no-op). CEL rules (``x-kubernetes-validations``) are not
evaluated; the integration tests create the objects on a real apiserver for those.

``SchemaIndex.from_crds_sh(*sets)`` reads the files ``testbed/crds.sh`` lists (from the Go module
cache). A kind without a schema fails the calling test.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
Schema = dict[str, Any]
Obj = dict[str, Any]


def crds_sh(*args: str, env: dict[str, str] | None = None) -> list[Path]:
    """The CRD files ``testbed/crds.sh <args>`` lists (fails the test when it cannot run here)."""
    try:
        out = subprocess.run(["bash", str(ROOT / "testbed" / "crds.sh"), *args], capture_output=True, text=True,
                             timeout=300, env={**os.environ, **(env or {})}, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"testbed/crds.sh {' '.join(args)} failed (is Go and its module proxy reachable?): {exc}")
    return [Path(p) for p in out.split()]


@attrs.frozen
class SchemaIndex:
    """(apiVersion, kind) -> openAPIV3Schema of every served version."""

    schemas: dict[tuple[str, str], Schema]

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> SchemaIndex:
        out: dict[tuple[str, str], Schema] = {}
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for path in paths:
            for doc in yaml.load_all(path.read_text(), Loader=loader):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
                for v in doc["spec"]["versions"]:
                    if v.get("served") and "schema" in v:
                        out[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
        return cls(out)

    def errors(self, obj: Obj) -> list[str]:
        schema = self.schemas.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            pytest.fail(f"no upstream schema for {obj['apiVersion']} {obj['kind']}")
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        schema = {**schema, "required": [r for r in schema.get("required", []) if r != "metadata"]}
        body = with_defaults(copy.deepcopy(body), schema)
        found = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in _Validator(schema).iter_errors(body)]
        return found + pruned(body, schema, "")

    def assert_valid(self, obj: Obj) -> None:
        found = self.errors(obj)
        assert not found, f"{obj['kind']} {obj['metadata']['name']}: {found}"


@functools.cache
def _go_regex(pattern: str) -> re.Pattern[str]:
    """Go (RE2) patterns may set flags mid-expression (``^(?i)[a-z]``); Python only at the start.
    Hoisting the flag to the whole pattern can only accept more, never reject a valid value."""
    flags = 0
    if "(?i)" in pattern:
        pattern, flags = pattern.replace("(?i)", ""), re.IGNORECASE
    return re.compile(pattern, flags)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Schema) -> Any:
    if isinstance(instance, str) and not _go_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


def with_defaults(value: Any, schema: Schema) -> Any:
    """Fill in the schema's ``default`` values for absent properties, as the apiserver does."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for k, sub in props.items():
            if k not in value and isinstance(sub, dict) and "default" in sub:
                value[k] = copy.deepcopy(sub["default"])
        for k, v in value.items():
            if k in props:
                value[k] = with_defaults(v, props[k])
            elif isinstance(schema.get("additionalProperties"), dict):
                value[k] = with_defaults(v, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [with_defaults(v, schema["items"]) for v in value]
    return value


def pruned(value: Any, schema: Schema, path: str) -> list[str]:
    """Fields the apiserver would drop: not declared, and unknown fields not preserved."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                out += pruned(v, props[k], f"{path}.{k}")
            elif isinstance(extra, dict):
                out += pruned(v, extra, f"{path}.{k}")
            elif extra is not True:
                out.append(f"{path}.{k}: unknown field (pruned)")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            out += pruned(v, schema["items"], f"{path}[{i}]")
    return out


@functools.cache
def cluster_api() -> SchemaIndex:
    """Cluster API v1.13 core, kubeadm, CAPD/DevCluster, CAPA, CAPO, Proxmox and RKE2."""
    return SchemaIndex.from_files([p for p in crds_sh() if "cluster-api" in str(p)] + crds_sh("--capi", "--providers"))
