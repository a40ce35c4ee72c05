"""hooks.service.provisioning.defaults: every built-in data service, evaluated for a workload, is valid
against the upstream schemas, keeps its credentials in an ESO-generated Secret, and says it is
development-grade."""

from __future__ import annotations

import pytest

from hooks.service.compile import compile_service
from hooks.service.provisioning.defaults import DEFAULTS
from tests.unit.service.provisioning.upstream import assert_valid
from tests.unit.service.support import main, make_ctx

# The outputs score-k8s's default provisioners give (plus elasticsearch as score-compose has it).
SCORE_OUTPUTS = {
    "postgres": {"host", "port", "name", "database", "username", "password"},
    "postgres-instance": {"host", "port", "username", "password"},
    "redis": {"host", "port", "username", "password"},
    "mysql": {"host", "port", "name", "database", "username", "password"},
    "mongodb": {"host", "port", "username", "password", "connection"},
    "amqp": {"host", "port", "vhost", "username", "password"},
    "mssql": {"server", "port", "database", "username", "password", "connection"},
    "s3": {"bucket", "access_key_id", "secret_key", "endpoint", "region", "aws_access_key_id", "aws_secret_key"},
    "kafka-topic": {"host", "port", "name", "num_partitions"},
    "elasticsearch": {"host", "port", "username", "password"},
}


def test_every_score_default_type_is_built_in() -> None:
    assert set(DEFAULTS) == set(SCORE_OUTPUTS)


@pytest.mark.parametrize("type_", sorted(DEFAULTS))
def test_builtin_outputs_match_score(type_: str) -> None:
    assert set(DEFAULTS[type_].outputs) == SCORE_OUTPUTS[type_]


@pytest.mark.parametrize("type_", sorted(DEFAULTS))
def test_builtin_children_are_valid_upstream(type_: str) -> None:
    variables = {f"OUT_{o.upper()}": f"${{resources.dep.{o}}}" for o in sorted(SCORE_OUTPUTS[type_])}
    ctx = make_ctx(main({"resources": {"dep": {"type": type_}}}, variables=variables))
    result = compile_service(ctx)
    assert result.status.phase == "Ready", result.status.message
    assert "resources.dep (" + type_ + ") is a development-grade built-in" in (result.status.message or "")
    made = [c for c in result.children if c["metadata"].get("annotations", {}).get("lattice.dev/provisioner")]
    kinds = sorted(c["kind"] for c in made)
    has_secret = DEFAULTS[type_].secret is not None
    assert kinds == sorted(["Service", "StatefulSet", *(["ExternalSecret", "Password"] if has_secret else [])])
    for obj in made:
        assert obj["metadata"]["name"] == "api-dep"
        assert obj["metadata"]["namespace"] == "shop"
        assert_valid(obj)
    text = repr(made)
    assert "${" not in text.replace("{{ .password }}", "")  # every template resolved
    env = {e["name"]: e for e in next(c for c in result.children if c["kind"] == "Deployment")
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("OUT_PASSWORD", "OUT_SECRET_KEY"):
        if name in env:
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "api-dep"


def test_the_generated_secret_is_created_once_and_never_holds_values() -> None:
    ctx = make_ctx(main({"resources": {"db": {"type": "mysql"}}}))
    children = compile_service(ctx).children
    external = next(c for c in children if c["kind"] == "ExternalSecret")
    assert external["spec"]["refreshPolicy"] == "CreatedOnce"
    assert external["spec"]["dataFrom"] == [{"sourceRef": {"generatorRef": {
        "apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "api-db"}}}]
    password = next(c for c in children if c["kind"] == "Password")
    assert password["spec"]["secretKeys"] == ["password", "root-password"]
    assert not [c for c in children if c["kind"] == "Secret"]
