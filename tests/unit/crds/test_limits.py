"""crds.limits: what a LatticeService may contain, in the CRD schema, in validation (before
anything walks an oversized value) and in docs/crds.md; the largest service they allow is valid."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import crds
from crds import limits
from crds.docs import reference_markdown
from crds.schema import crd
from crds.service import LatticeService

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from bench.support.worst_case import worst_case_service


def service(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"containers": {"main": {"image": "nginx"}}, **spec}}


def errors(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in crds.parse(obj).errors]


def test_the_largest_service_the_limits_allow_is_valid() -> None:
    worst = worst_case_service()
    assert len(orjson.dumps(worst["spec"])) <= limits.MAX_SPEC_BYTES
    assert errors(worst) == []


def test_field_limits_are_in_the_crd_schema() -> None:
    spec = crd(LatticeService)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    containers = spec["properties"]["containers"]
    assert containers["maxProperties"] == limits.CONTAINERS
    container = containers["additionalProperties"]["properties"]
    assert container["variables"]["maxProperties"] == limits.VARIABLES
    assert container["variables"]["additionalProperties"]["maxLength"] == limits.VARIABLE_VALUE
    assert container["args"]["maxItems"] == limits.ARGS and container["args"]["items"]["maxLength"] == limits.ARG
    assert container["image"]["maxLength"] == limits.IMAGE
    assert spec["properties"]["resources"]["maxProperties"] == limits.RESOURCES


def test_and_in_the_field_reference() -> None:
    text = reference_markdown()
    assert "## Limits" in text and f"{limits.MAX_SPEC_BYTES:,} bytes" in text
    assert f"map of string (≤ {limits.VARIABLES:,} entries, keys ≤ {limits.SHORT:,} chars, each ≤ " \
           f"{limits.VARIABLE_VALUE:,} chars)" in text


@pytest.mark.parametrize(("spec", "expected"), [
    ({"containers": {f"c{i}": {"image": "nginx"} for i in range(17)}},
     "spec.containers: must have at most 16 entries, got 17"),
    ({"containers": {"main": {"image": "nginx", "variables": {"A": "x" * 40_000}}}},
     "spec.containers.main.variables.A: must be at most 32,768 characters, got 40,000"),
    ({"containers": {"main": {"image": "nginx", "args": ["x"] * 300}}},
     "spec.containers.main.args: must have at most 256 items, got 300"),
    ({"containers": {"main": {"image": "x" * 2000}}}, "spec.containers.main.image: must be at most 1,024"),
    ({"containers": {"main": {"image": "nginx", "variables": {"K" * 300: "v"}}}},
     "spec.containers.main.variables: key 'KKKK"),
    ({"containers": {"main": {"image": "nginx", "variables": {f"V{i}": "${metadata.name}" * 20
                                                              for i in range(250)}}}},
     "spec: has 5,000 `${...}` references"),
    ({"containers": {"main": {"image": "nginx"}}, "resources": {"x": {"type": "volume", "params": {
        "size": "1Gi", "deep": orjson.loads(b'{"a":' * 70 + b"1" + b"}" * 70)}}}},
     "spec.resources.x.params: is nested more than 64 levels deep"),
])
def test_over_a_limit_is_a_validation_error_with_its_path(spec: dict[str, Any], expected: str) -> None:
    found = errors({**service(), "spec": spec})
    assert any(e.startswith(expected) for e in found), found


def test_a_spec_over_a_mebibyte_is_refused_without_being_walked() -> None:
    variables = {f"V{i:06d}": "x" for i in range(200_000)}  # ~3 MB of small entries
    started = time.perf_counter()
    spec = {"containers": {"main": {"image": "nginx", "variables": variables}}}
    found = errors(service(**spec))
    assert time.perf_counter() - started < 1.0
    size = len(orjson.dumps(spec))
    assert found == [f"spec: is {size:,} bytes as JSON; at most {limits.MAX_SPEC_BYTES:,} are allowed"]


def test_a_spec_nested_past_what_json_encoders_take_is_an_error_not_a_crash() -> None:
    deep = orjson.loads(b"[" * 1000 + b"]" * 1000)
    assert errors({**service(), "spec": {"containers": deep}}) == [
        "spec: is nested too deeply to be a Kubernetes object"]


def test_an_unknown_kind_of_any_shape_is_named_safely() -> None:
    deep = orjson.loads(b"[" * 1000 + b"]" * 1000)
    result = crds.parse({"kind": deep, "metadata": {"name": deep}})
    assert result.name == "" and "unknown kind a list" in str(result.errors[0])
