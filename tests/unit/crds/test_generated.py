"""The generated CRDs and docs match the models, are structural, and their columns exist."""

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import crds
from crds import generate
from crds.schema import crd, json_path_exists

ROOT = Path(__file__).resolve().parents[3]


def test_generated_files_are_up_to_date() -> None:
    assert generate.main(["--check"]) == 0, "run `python -m crds.generate`"


def test_generation_is_deterministic() -> None:
    assert generate.outputs() == generate.outputs()


@pytest.mark.parametrize("cls", crds.KINDS, ids=lambda c: c.__crd__.kind)
def test_printer_columns_exist(cls: Any) -> None:
    obj = crd(cls)
    version = obj["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    for col in version["additionalPrinterColumns"]:
        assert json_path_exists(schema, col["jsonPath"]), col


def _structural_problems(node: Any, path: str) -> list[str]:
    out: list[str] = []
    if not isinstance(node, dict):
        return out
    if "$ref" in node:
        out.append(f"{path}: $ref")
    if "type" not in node and not node.get("x-kubernetes-int-or-string") and not node.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        out.append(f"{path}: no type")
    for key, child in node.get("properties", {}).items():
        out += _structural_problems(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        out += _structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _structural_problems(node["additionalProperties"], f"{path}.*")
    return out


@pytest.mark.parametrize("cls", crds.KINDS, ids=lambda c: c.__crd__.kind)
def test_schema_is_structural(cls: Any) -> None:
    schema = crd(cls)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _structural_problems(schema, "") == []


CRD_FILES = sorted((ROOT / "crds").glob("*.yaml"))


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_crd_manifest_is_a_valid_crd(path: Path) -> None:
    kubernetes_validate.validate(yaml.safe_load(path.read_text()), "1.34", strict=True)


def test_free_form_only_where_the_spec_is_free_form() -> None:
    text = "".join(p.read_text() for p in CRD_FILES)
    # params (resources), workloadMetadata (Score's free-form metadata), and a Provisioner's templates:
    # outputs, each manifest, a parameter's default.
    assert text.count("x-kubernetes-preserve-unknown-fields") == 5


def test_short_names_and_scope() -> None:
    names = {c.__crd__.kind: (c.__crd__.short_names, c.__crd__.namespaced) for c in crds.KINDS}
    assert names["LatticeCluster"] == (("lc",), False)
    assert names["LatticeService"] == (("ls",), True)
    assert names["LatticeExternalService"] == (("lext",), True)
