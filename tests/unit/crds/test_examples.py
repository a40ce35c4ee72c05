"""Every file in examples/ is a valid Lattice object; broken copies report every bad field."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import crds

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))


def _docs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in EXAMPLES:
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            out.append((f"{path.relative_to(ROOT)}#{i}", doc))
    return out


def test_examples_cover_every_kind() -> None:
    kinds = {doc["kind"] for _, doc in _docs()}
    assert kinds == {k.__crd__.kind for k in crds.KINDS}


@pytest.mark.parametrize(("where", "doc"), _docs(), ids=[w for w, _ in _docs()])
def test_example_is_valid(where: str, doc: dict[str, Any]) -> None:
    result = crds.parse(doc)
    assert result.ok, [str(e) for e in result.errors]
    assert result.obj is not None


@pytest.mark.parametrize(("where", "doc"), _docs(), ids=[w for w, _ in _docs()])
def test_example_round_trips(where: str, doc: dict[str, Any]) -> None:
    obj = crds.parse(doc).obj
    again = crds.parse(crds.dump(obj))
    assert again.ok
    assert crds.dump(again.obj) == crds.dump(obj)


def _gateway() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples/services/api-gateway.yaml").read_text())


def test_broken_service_reports_one_error_per_bad_field() -> None:
    doc = copy.deepcopy(_gateway())
    spec = doc["spec"]
    main = spec["containers"]["main"]
    main["resources"]["requests"]["cpu"] = "1.5m"
    main["resources"]["limits"]["memory"] = "128Xi"
    main["image"] = "my org/api"
    main["files"]["/etc/api/config.yaml"]["mode"] = "0999"
    spec["service"]["ports"]["metrics"]["port"] = 0
    spec["replicas"] = {"min": 5, "max": 2}
    spec["resources"]["redis"]["direction"] = "sideways"
    spec["resources"]["db-creds"]["params"].pop("provider")
    spec["resources"]["my_db"] = {"type": "Postgres!"}
    spec["deploy"]["strategy"] = "bluegreen"
    spec["ingress"]["tls"]["mode"] = "manual"

    errors = [str(e) for e in crds.parse(doc).errors]
    assert sorted(errors) == sorted([
        "spec.containers.main.resources.requests.cpu: invalid quantity '1.5m' (expected e.g. '100m', '1', '0.5')",
        "spec.containers.main.resources.limits.memory: invalid quantity '128Xi' "
        "(expected e.g. '128974848', '129M', '123Mi', '1Gi')",
        "spec.containers.main.image: image 'my org/api' contains invalid characters (whitespace or control characters)",
        "spec.containers.main.files./etc/api/config.yaml.mode: invalid file mode '0999' "
        "(expected 3-4 octal digits, e.g. '0644' or '600')",
        "spec.service.ports.metrics.port: invalid port 0 (expected 1-65535)",
        "spec.resources.redis.direction: invalid value 'sideways' "
        "(expected one of: outbound, inbound, both)",
        "spec.resources.my_db.type: invalid resource type 'Postgres!' (expected 2-63 letters, digits and '-', "
        "starting and ending with a letter or digit, e.g. 'postgres')",
        "spec.deploy.strategy: invalid value 'bluegreen' (expected one of: rolling, canary)",
    ]), errors


def test_rule_errors_are_all_reported_when_types_are_fine() -> None:
    doc = copy.deepcopy(_gateway())
    spec = doc["spec"]
    spec["replicas"] = {"min": 5, "max": 2}
    spec["resources"]["db-creds"]["params"].pop("provider")
    spec["ingress"]["tls"] = {"mode": "manual"}
    spec["containers"]["main"]["files"]["/etc/api/config.yaml"] = {"mode": "0644"}
    errors = [str(e) for e in crds.parse(doc).errors]
    assert sorted(errors) == sorted([
        "spec.replicas.min: min replicas (5) cannot exceed max replicas (2)",
        "spec.resources.db-creds.params.provider: required for type 'secret' (a SecretsProvider name)",
        "spec.ingress.tls.secretName: required when mode is 'manual'",
        "spec.containers.main.files./etc/api/config.yaml: must specify content, binaryContent, or source",
    ])


def test_unknown_and_missing_fields() -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
           "metadata": {"name": "x", "namespace": "y"},
           "spec": {"containers": {"main": {"imagee": "nginx"}}, "replica": 3}}
    errors = [str(e) for e in crds.parse(doc).errors]
    assert "spec.containers.main.image: required field is missing" in errors
    assert any(e.startswith("spec.containers.main.imagee: unknown field") for e in errors)
    assert any(e.startswith("spec.replica: unknown field") for e in errors)


def test_wrong_types_name_the_expected_form() -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", "metadata": {"name": "x"},
           "spec": {"containers": {"main": {"image": "nginx", "variables": {"A": 3}}},
                    "replicas": {"min": "two"}}}
    errors = [str(e) for e in crds.parse(doc).errors]
    assert sorted(errors) == [
        "spec.containers.main.variables.A: expected a string, got the number 3",
        "spec.replicas.min: expected an integer, got the string 'two'",
    ]


def test_unknown_kind_and_api_version() -> None:
    assert next(str(e) for e in crds.parse({"kind": "Pod"}).errors).startswith("kind: unknown kind 'Pod'")
    doc = copy.deepcopy(_gateway())
    doc["apiVersion"] = "lattice.dev/v1"
    assert [str(e) for e in crds.parse(doc).errors] == [
        "apiVersion: expected 'lattice.dev/v1alpha1', got 'lattice.dev/v1'"
    ]


def test_external_service_accepts_both_spellings() -> None:
    base = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeExternalService",
            "metadata": {"name": "stripe", "namespace": "p"}, "spec": {"endpoints": {"api": "https://api.stripe.com"}}}
    for key in ("allowed_requesters", "allowedRequesters"):
        doc = copy.deepcopy(base)
        doc["spec"][key] = ["payment-service"]
        r = crds.parse(doc)
        assert r.ok, r.errors
        assert r.obj.spec.allowed_requesters == ["payment-service"]  # type: ignore[union-attr]
        assert crds.dump(r.obj)["spec"]["allowedRequesters"] == ["payment-service"]
    both = copy.deepcopy(base)
    both["spec"]["allowed_requesters"] = ["a"]
    both["spec"]["allowedRequesters"] = ["b"]
    assert any("given twice" in str(e) for e in crds.parse(both).errors)


def test_unset_optionals_are_omitted() -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", "metadata": {"name": "x"},
           "spec": {"containers": {"main": {"image": "nginx"}}}}
    assert crds.dump(crds.parse(doc).obj) == doc


def test_dump_is_plain_data() -> None:
    """Enums serialise to their values so any YAML/JSON encoder can write the output."""
    obj = crds.parse(_gateway()).obj
    text = yaml.safe_dump(crds.dump(obj))
    assert "direction: outbound" in text
    from crds.service import LatticeServiceStatus, ServicePhase

    assert crds.dump(LatticeServiceStatus(phase=ServicePhase.READY)) == {"phase": "Ready"}
