"""hooks.service.compile: the orchestrator and the status phases (mesh and secrets are fakes here)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import yaml

import crds
from crds import FieldError
from crds.service import Direction, OneSidedDeclaration, ResolvedDependency
from hooks.context import SecretAudit, SecretDecision, ServiceContext
from hooks.service.compile import compile_service, failed_result

from .support import FixedAuthorizer, example, gateway_ctx, main, make_ctx, one

AUTH = ResolvedDependency(resource="auth-service", kind="LatticeService", name="auth-service",
                          namespace="platform", direction=Direction.OUTBOUND)
POLICY = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
          "metadata": {"name": "policy-api-gateway", "namespace": "platform"}}
NO_PERMIT = "no permit policy for this service and secret path"
FORBID = "access explicitly forbidden by policy"


@attrs.frozen
class FakeMesh:
    children: list[dict[str, Any]] = attrs.field(factory=lambda: [POLICY])
    resolved: list[ResolvedDependency] = attrs.field(factory=lambda: [AUTH])
    missing: list[str] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)
    one_sided: list[OneSidedDeclaration] = attrs.field(factory=list)

    def __call__(self, ctx: ServiceContext) -> FakeMesh:
        return self


@attrs.frozen
class FakeSecrets:
    children: list[dict[str, Any]] = attrs.field(factory=list)
    denied: list[SecretDecision] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    audit: list[SecretAudit] = attrs.field(factory=list)

    def __call__(self, ctx: ServiceContext) -> FakeSecrets:
        return self


def never(ctx: ServiceContext) -> Any:
    raise AssertionError("must not be called")


def _ctx(**kwargs: Any) -> ServiceContext:
    ctx = gateway_ctx(**kwargs)
    meta = attrs.evolve(ctx.service.metadata, generation=7)
    return attrs.evolve(ctx, service=attrs.evolve(ctx.service, metadata=meta))


def _status(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = crds.dump(result.status)
    return out


def test_ready() -> None:
    result = compile_service(_ctx(), mesh=FakeMesh(), secrets=FakeSecrets())
    n = len(result.children)
    assert _status(result) == {
        "phase": "Ready",
        "message": f"compiled {n} objects",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Compiled", "message": f"compiled {n} objects",
                        "observedGeneration": 7},
                       {"type": "MeshAgreed", "status": "True", "reason": "AllAgreed",
                        "message": "every mesh declaration is matched by its peer", "observedGeneration": 7}],
        "observedGeneration": 7,
        "resolvedDependencies": [{"resource": "auth-service", "kind": "LatticeService", "name": "auth-service",
                                  "namespace": "platform", "direction": "outbound"}],
    }
    assert (result.resync_after_seconds, result.keep_observed) == (None, False)
    kinds = sorted(c["kind"] for c in result.children)
    assert kinds == ["CiliumNetworkPolicy", "ConfigMap", "Deployment", "HorizontalPodAutoscaler",
                     "PersistentVolumeClaim", "Service", "ServiceAccount"]


def test_children_are_sorted_unique_and_labelled() -> None:
    children = compile_service(_ctx(), mesh=FakeMesh(children=[]), secrets=FakeSecrets()).children
    keys = [(c["apiVersion"], c["kind"], c["metadata"]["namespace"], c["metadata"]["name"]) for c in children]
    assert keys == sorted(set(keys))
    for c in children:
        assert c["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "lattice"
        assert c["metadata"]["labels"]["app.kubernetes.io/name"] == c["metadata"]["name"]


def test_missing_service_dependency_is_compiling_with_children() -> None:
    mesh = FakeMesh(missing=["LatticeService payments/ledger", "LatticeService payments/auth"])
    result = compile_service(_ctx(), mesh=mesh, secrets=FakeSecrets())
    status = _status(result)
    assert status["phase"] == "Compiling"
    assert status["message"] == "waiting for LatticeService payments/auth, LatticeService payments/ledger"
    assert status["conditions"][0]["status"] == "False"
    assert status["conditions"][0]["reason"] == "DependenciesMissing"
    assert result.resync_after_seconds == 10
    assert not result.keep_observed
    assert one(result.children, "Deployment")


def test_denied_secrets_fail_but_the_rest_is_produced() -> None:
    allowed = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
               "metadata": {"name": "api-gateway-other", "namespace": "platform"}}
    secrets = FakeSecrets(children=[allowed], denied=[SecretDecision("z-key", False, FORBID),
                                                      SecretDecision("db-creds", False, NO_PERMIT)])
    result = compile_service(_ctx(), mesh=FakeMesh(missing=["LatticeService x/y"]), secrets=secrets)
    status = _status(result)
    assert status["phase"] == "Failed"
    assert status["message"] == (f"secret access denied: 'db-creds': {NO_PERMIT}; 'z-key': {FORBID}")
    assert status["conditions"][0]["reason"] == "SecretAccessDenied"
    assert result.resync_after_seconds == 30
    assert not result.keep_observed
    assert allowed in result.children
    assert one(result.children, "Deployment")


def test_one_sided_declarations_warn_but_stay_ready() -> None:
    found = [OneSidedDeclaration(resource="ledger", direction=Direction.OUTBOUND, kind="LatticeService",
                                 name="ledger", namespace="platform", missing="platform/ledger does not accept it",
                                 fix="resources:\n  api-gateway:\n    type: service\n    direction: inbound\n")]
    result = compile_service(_ctx(), mesh=FakeMesh(one_sided=found), secrets=FakeSecrets())
    status = _status(result)
    assert status["phase"] == "Ready"
    assert status["message"].endswith("; 1 one-sided declaration (see status.oneSided)")
    mesh = status["conditions"][1]
    assert (mesh["type"], mesh["status"], mesh["reason"]) == ("MeshAgreed", "False", "OneSided")
    assert mesh["message"] == ("1 one-sided declaration, no traffic flows on them: "
                               "resources.ledger: platform/ledger does not accept it")
    assert status["oneSided"] == [crds.dump(found[0])]


def test_mesh_warnings_are_appended() -> None:
    mesh = FakeMesh(warnings=["resources.x: cannot compile"])
    message = _status(compile_service(_ctx(), mesh=mesh, secrets=FakeSecrets()))["message"]
    assert message.endswith(" objects; resources.x: cannot compile")
    mesh = FakeMesh(warnings=["w"], missing=["LatticeService a/b"])
    message = _status(compile_service(_ctx(), mesh=mesh, secrets=FakeSecrets()))["message"]
    assert message == "waiting for LatticeService a/b; w"


def test_secret_config_errors_fail() -> None:
    secrets = FakeSecrets(errors=["invalid secret config: secret resource 'db-creds': bad"])
    status = _status(compile_service(_ctx(), mesh=FakeMesh(), secrets=secrets))
    assert (status["phase"], status["message"]) == ("Failed", "invalid secret config: secret resource 'db-creds': bad")
    assert status["conditions"][0]["reason"] == "InvalidSecretConfig"


def test_template_errors_fail_and_keep_the_running_children() -> None:
    spec = main({"resources": {"cache": {"type": "service"}}},
                variables={"DB_URL": "${resources.nope.host}", "C": "${resources.cache.nope}"},
                volumes={"/data": {"source": "/tmp"}})
    result = compile_service(make_ctx(spec), mesh=never, secrets=never)
    assert result.keep_observed
    assert result.children == []
    assert result.resync_after_seconds is None
    status = _status(result)
    assert status["phase"] == "Failed"
    assert status["conditions"][0]["reason"] == "CompilationFailed"
    assert status["message"] == "; ".join([
        "spec.containers.main.variables.C: unknown reference '${resources.cache.nope}': resource 'cache' (type "
        "service) has no output 'nope' (available: host, name, port, url)",
        "spec.containers.main.variables.DB_URL: unknown reference '${resources.nope.host}': no resource 'nope' is "
        "declared in spec.resources",
        "spec.containers.main.volumes./data.source: expected '${resources.<name>}' naming a volume resource, got "
        "'/tmp'",
    ])


def test_template_needing_a_missing_external_service_waits() -> None:
    ctx = make_ctx(example("api-gateway")["spec"], name="api-gateway", namespace="platform")
    result = compile_service(ctx, mesh=never, secrets=never)
    assert result.keep_observed
    assert result.resync_after_seconds == 10
    status = _status(result)
    assert status["phase"] == "Compiling"
    assert status["message"] == ("waiting for LatticeExternalService platform/stripe-api (needed by "
                                 "spec.containers.main.variables.STRIPE_URL)")


def test_failed_result() -> None:
    result = failed_result([FieldError("spec.replicas.min", "must be >= 0, got -1"), FieldError("", "bad")], 3)
    assert result.keep_observed
    assert result.children == []
    assert _status(result) == {
        "phase": "Failed",
        "message": "spec.replicas.min: must be >= 0, got -1; bad",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ValidationFailed",
                        "message": "spec.replicas.min: must be >= 0, got -1; bad", "observedGeneration": 3}],
        "observedGeneration": 3,
    }


@pytest.mark.parametrize(("denied", "external_secrets", "message"), [
    pytest.param({}, ["api-gateway-db-creds"], None, id="allowed"),
    pytest.param({"db-creds": NO_PERMIT}, [], f"secret access denied: 'db-creds': {NO_PERMIT}", id="denied"),
])
def test_with_the_real_secrets_compiler(denied: dict[str, str], external_secrets: list[str],
                                        message: str | None) -> None:
    result = compile_service(_ctx(authorizer=FixedAuthorizer(denied)), mesh=FakeMesh())
    names = [c["metadata"]["name"] for c in result.children if c["kind"] == "ExternalSecret"]
    assert names == external_secrets
    assert _status(result).get("message") == message or _status(result)["phase"] == "Ready"


def test_deterministic_yaml() -> None:
    def run() -> str:
        r = compile_service(_ctx(), mesh=FakeMesh(), secrets=FakeSecrets())
        return yaml.safe_dump_all(r.children, sort_keys=False)

    assert run() == run()
