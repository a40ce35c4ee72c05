"""Secret resources → Cedar decisions → ExternalSecrets of the allowed ones."""

from typing import Any

from crds.convert import parse_as
from crds.service import LatticeService, ResourceSpec
from hooks.context import ServiceContext
from hooks.secrets import (
    RESYNC_WHILE_DENIED,
    CedarSecretAuthorizer,
    authorizer_from_related,
    compile_secrets,
    related_resources,
    store_from_related,
)
from lattice_cedar import PolicyStore

from .support import ALLOW_SECRETS, cedar_policy, example, related, secret_resource, service

FORBID_DB = ('forbid(principal, action == Lattice::Action::"AccessSecret", resource) '
             'when { resource.path == "db/creds" };')


def _by_name(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["metadata"]["name"]: c for c in children}


def test_keys_become_one_data_entry_each() -> None:
    svc = service({"db": secret_resource("database/prod/api", keys=["username", "password"], refreshInterval="1h")})
    deny_all = CedarSecretAuthorizer(PolicyStore.from_sources([]))
    result = compile_secrets(ServiceContext(service=svc, authorizer=deny_all))
    assert result.children == []  # default deny
    store = store_from_related(related(cedar_policy("all", ALLOW_SECRETS)))
    (es,) = compile_secrets(ServiceContext(service=svc, authorizer=CedarSecretAuthorizer(store))).children
    assert es["apiVersion"] == "external-secrets.io/v1" and es["kind"] == "ExternalSecret"
    assert es["metadata"]["name"] == "checkout-db" and es["metadata"]["namespace"] == "payments"
    assert es["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "lattice"
    assert es["metadata"]["labels"]["lattice.dev/service"] == "checkout"
    assert es["spec"] == {
        "secretStoreRef": {"name": "vault-prod", "kind": "ClusterSecretStore"},
        "target": {"name": "checkout-db", "creationPolicy": "Owner"},
        "data": [
            {"secretKey": "username", "remoteRef": {"key": "database/prod/api", "property": "username"}},
            {"secretKey": "password", "remoteRef": {"key": "database/prod/api", "property": "password"}},
        ],
        "refreshInterval": "1h",
    }


def test_no_keys_extracts_the_whole_path() -> None:
    svc = service({"all-config": secret_resource("services/api-config", refreshInterval="30m")})
    store = store_from_related(related(cedar_policy("all", ALLOW_SECRETS)))
    (es,) = compile_secrets(ServiceContext(service=svc, authorizer=CedarSecretAuthorizer(store))).children
    assert es["spec"]["dataFrom"] == [{"extract": {"key": "services/api-config"}}]
    assert "data" not in es["spec"] and es["spec"]["refreshInterval"] == "30m"


def test_without_authorizer_every_secret_is_denied() -> None:
    svc = service({"b": secret_resource("x/b"), "a": secret_resource("x/a"), "vol": {"type": "volume"}})
    result = compile_secrets(ServiceContext(service=svc))
    assert result.children == [] and [d.resource for d in result.denied] == ["a", "b"]
    assert result.failed and result.resync_after_seconds == RESYNC_WHILE_DENIED
    assert result.message == (
        "secret access denied: 'a': no permit policy for this service and secret path; "
        "'b': no permit policy for this service and secret path"
    )


def test_message_names_only_the_denied_resources() -> None:
    svc = service({"db": secret_resource("db/creds"), "api": secret_resource("api/key")})
    store = store_from_related(related(cedar_policy("all", ALLOW_SECRETS), cedar_policy("no-db", FORBID_DB)))
    result = compile_secrets(ServiceContext(service=svc, authorizer=CedarSecretAuthorizer(store)))
    assert list(_by_name(result.children)) == ["checkout-api"]
    assert result.message == "secret access denied: 'db': access explicitly forbidden by policy"


def test_recovery_no_policy_then_permit() -> None:
    svc = service({"db": secret_resource("db/creds")})
    before = compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related({})))
    assert before.failed and before.children == [] and before.resync_after_seconds == 30
    after = compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related(
        related(cedar_policy("payments", ALLOW_SECRETS)))))
    assert not after.failed and after.resync_after_seconds is None and after.message == ""
    assert list(_by_name(after.children)) == ["checkout-db"]


def test_revocation_removes_only_that_external_secret() -> None:
    svc = service({"db": secret_resource("db/creds"), "api": secret_resource("api/key"), "tls": secret_resource("t")})
    granted = compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related(
        related(cedar_policy("all", ALLOW_SECRETS)))))
    assert sorted(_by_name(granted.children)) == ["checkout-api", "checkout-db", "checkout-tls"]
    revoked = compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related(
        related(cedar_policy("all", ALLOW_SECRETS), cedar_policy("revoke-db", FORBID_DB)))))
    assert sorted(_by_name(revoked.children)) == ["checkout-api", "checkout-tls"]
    assert _by_name(revoked.children) == {k: v for k, v in _by_name(granted.children).items() if k != "checkout-db"}
    assert [d.resource for d in revoked.denied] == ["db"]


def test_disabled_and_foreign_policies_do_not_grant() -> None:
    svc = service({"db": secret_resource("db/creds")})
    for rel in (related(cedar_policy("off", ALLOW_SECRETS, enabled=False)),
                related(cedar_policy("elsewhere", ALLOW_SECRETS, namespace="payments"))):
        assert compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related(rel))).failed


def test_misconfigured_resources_are_errors_not_requests() -> None:
    svc = service({"ok": secret_resource("p")})
    # The CRD validation rejects these; the compiler still refuses them on its own.
    svc.spec.resources["nokeys"] = ResourceSpec(type="secret", id="p", params={"provider": "v", "keys": []})
    svc.spec.resources["files"] = ResourceSpec(type="secret", id="p", params={"provider": "v"})
    svc.spec.resources["Bad_Name"] = ResourceSpec(type="secret", id="p", params={"provider": "v"})
    svc.spec.resources["noid"] = ResourceSpec(type="secret", params={"provider": "v"})
    result = compile_secrets(ServiceContext(service=svc, authorizer=authorizer_from_related(
        related(cedar_policy("all", ALLOW_SECRETS)))))
    assert list(_by_name(result.children)) == ["checkout-ok"]
    assert [e.split(": ", 2)[1] for e in result.errors] == [
        "secret resource 'Bad_Name'", "secret resource 'files'", "secret resource 'noid'", "secret resource 'nokeys'",
    ]
    assert result.failed and result.resync_after_seconds is None


def test_related_resources_only_for_services_with_secrets() -> None:
    assert related_resources(service({"db": secret_resource("p")})) == [
        {"apiVersion": "lattice.dev/v1alpha1", "resource": "cedarpolicies", "namespace": "lattice-system"}
    ]
    assert related_resources(service({"cache": {"type": "volume", "params": {"size": "1Gi"}}})) == []


def test_readme_gateway_with_the_example_policies() -> None:
    gateway, _ = parse_as(LatticeService, example("services/api-gateway.yaml"))
    assert gateway is not None
    policies = [example(f"cedar/{n}.yaml") for n in ("platform-database-secrets", "forbid-prod-secrets")]
    ok = compile_secrets(ServiceContext(service=gateway, authorizer=authorizer_from_related(related(*policies))))
    assert list(_by_name(ok.children)) == ["api-gateway-db-creds"] and not ok.failed
    policies[1]["spec"]["enabled"] = True
    denied = compile_secrets(ServiceContext(service=gateway, authorizer=authorizer_from_related(related(*policies))))
    assert denied.children == []
    assert denied.message == "secret access denied: 'db-creds': access explicitly forbidden by policy"
