"""SecretsProvider → ClusterSecretStore, status, and the store decorator's pure functions."""

import base64

import pytest

from crds import Phase
from hooks.secrets import (
    compile_secrets_provider,
    desired_stores,
    eso_installed,
    observed_store,
    orphaned_stores,
    provider_related_resources,
    providers_from_related,
    stores_related_resources,
)
from hooks.secrets.policies import policy_sources

from .support import cedar_policy, provider

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _vault(result_children: list[dict]) -> dict:  # type: ignore[type-arg]
    (store,) = result_children
    return store["spec"]["provider"]["vault"]  # type: ignore[no-any-return]


def test_token_auth() -> None:
    sp = provider({"authMethod": "token", "credentialsSecretRef": {"name": "vault-token"}, "path": "kv",
                   "namespace": "team-a", "caBundle": PEM})
    result = compile_secrets_provider(sp, now="2026-01-01T00:00:00Z")
    (store,) = result.children
    assert store["apiVersion"] == "external-secrets.io/v1" and store["kind"] == "ClusterSecretStore"
    assert "namespace" not in store["metadata"]
    assert store["metadata"]["name"] == "vault-prod"
    assert store["metadata"]["labels"] == {
        "app.kubernetes.io/name": "vault-prod", "app.kubernetes.io/managed-by": "lattice",
        "lattice.dev/secrets-provider": "vault-prod", "lattice.dev/owner-namespace": "lattice-system",
        "lattice.dev/owner-name": "vault-prod",
    }
    assert store["spec"] == {"provider": {"vault": {
        "server": "https://vault.example.com:8200", "path": "kv", "version": "v2", "namespace": "team-a",
        "caBundle": base64.b64encode(PEM.encode()).decode(),
        "auth": {"tokenSecretRef": {"name": "vault-token", "namespace": "lattice-system", "key": "token"}},
    }}}
    assert result.status.phase is Phase.READY and result.status.observed_generation == 2
    assert result.status.last_validated == "2026-01-01T00:00:00Z"
    assert result.resync_after_seconds == 300


def test_token_key_override() -> None:
    sp = provider({"authMethod": "token", "credentialsSecretRef": {"name": "t", "namespace": "vault", "key": "root"}})
    auth = _vault(compile_secrets_provider(sp).children)["auth"]
    assert auth == {"tokenSecretRef": {"name": "t", "namespace": "vault", "key": "root"}}


def test_kubernetes_auth_defaults() -> None:
    vault = _vault(compile_secrets_provider(provider({"authMethod": "kubernetes"})).children)
    assert vault["path"] == "secret" and "caBundle" not in vault and "namespace" not in vault
    assert vault["auth"] == {"kubernetes": {"mountPath": "kubernetes", "role": "external-secrets"}}


def test_kubernetes_auth_with_role_mount_and_jwt_secret() -> None:
    sp = provider({"authMethod": "kubernetes", "kubernetesRole": "lattice-reader", "kubernetesMountPath": "k8s-one",
                   "credentialsSecretRef": {"name": "sa-jwt"}})
    assert _vault(compile_secrets_provider(sp).children)["auth"] == {"kubernetes": {
        "mountPath": "k8s-one", "role": "lattice-reader",
        "secretRef": {"name": "sa-jwt", "namespace": "lattice-system", "key": "token"},
    }}


def test_approle_auth() -> None:
    sp = provider({"authMethod": "appRole", "credentialsSecretRef": {"name": "approle"}, "approleMountPath": "ar"})
    assert _vault(compile_secrets_provider(sp).children)["auth"] == {"appRole": {
        "path": "ar",
        "roleRef": {"name": "approle", "namespace": "lattice-system", "key": "role_id"},
        "secretRef": {"name": "approle", "namespace": "lattice-system", "key": "secret_id"},
    }}


@pytest.mark.parametrize(("method", "message"), [
    ("token", "Token auth requires credentialsSecretRef"),
    ("appRole", "AppRole auth requires credentialsSecretRef"),
])
def test_credentials_required(method: str, message: str) -> None:
    result = compile_secrets_provider(provider({"authMethod": method}))
    assert result.children == []
    assert result.status.phase is Phase.FAILED and message in (result.status.message or "")
    assert result.resync_after_seconds == 30


def test_only_lattice_system_providers_make_stores() -> None:
    sp = provider({"authMethod": "kubernetes"}, namespace="tenant")
    result = compile_secrets_provider(sp)
    assert result.children == [] and result.status.phase is Phase.FAILED
    assert "lattice-system" in (result.status.message or "")


def test_pending_until_eso_is_installed() -> None:
    result = compile_secrets_provider(provider({"authMethod": "kubernetes"}), eso_installed=False)
    assert result.status.phase is Phase.PENDING and result.status.message == "Waiting for ESO to be installed"


@pytest.mark.parametrize(("conditions", "phase"), [
    ([], Phase.PENDING),
    ([{"type": "Ready", "status": "True", "reason": "Valid"}], Phase.READY),
    ([{"type": "Ready", "status": "False", "reason": "InvalidProviderConfig", "message": "permission denied"}],
     Phase.FAILED),
])
def test_observed_store_condition_decides(conditions: list[dict[str, str]], phase: Phase) -> None:
    observed = {"metadata": {"labels": {"lattice.dev/secrets-provider": "vault-prod"}},
                "status": {"conditions": conditions}}
    result = compile_secrets_provider(provider({"authMethod": "kubernetes"}), observed_store=observed)
    assert result.status.phase is phase
    if phase is Phase.FAILED:
        assert "permission denied" in (result.status.message or "")


def test_decorator_desires_one_store_per_usable_live_provider() -> None:
    a = provider({"authMethod": "kubernetes"}, name="b-vault")
    b = provider({"authMethod": "kubernetes"}, name="a-vault")
    broken = provider({"authMethod": "token"}, name="c-vault")
    tenant = provider({"authMethod": "kubernetes"}, name="d-vault", namespace="tenant")
    gone = provider({"authMethod": "kubernetes"}, name="e-vault")
    gone.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    assert [s["metadata"]["name"] for s in desired_stores([a, b, broken, tenant, gone])] == ["a-vault", "b-vault"]
    assert stores_related_resources() == [
        {"apiVersion": "lattice.dev/v1alpha1", "resource": "secretsproviders", "namespace": "lattice-system"}
    ]


def test_orphan_sweep_names_only_lattice_stores_without_provider() -> None:
    live = provider({"authMethod": "kubernetes"}, name="vault-prod")
    stores = [
        *desired_stores([live]),
        *desired_stores([provider({"authMethod": "kubernetes"}, name="deleted")]),
        {"metadata": {"name": "hand-made", "labels": {}}},
    ]
    assert orphaned_stores(stores, [live]) == ["deleted"]


def test_policy_sources_read_raw_objects() -> None:
    objs = [
        cedar_policy("a", "x"), cedar_policy("off", "x", enabled=False), cedar_policy("other", "x", namespace="t"),
        {"kind": "CedarPolicy", "metadata": {"name": "junk", "namespace": "lattice-system"}, "spec": {"policies": 3}},
        {**cedar_policy("p", "y"), "spec": {"policies": "y", "priority": 7}},
    ]
    assert [(s.name, s.priority) for s in policy_sources(objs)] == [("a", 0), ("p", 7)]


def test_a_foreign_store_with_the_same_name_is_reported() -> None:
    foreign = {"metadata": {"name": "vault-prod", "labels": {}}, "status": {"conditions": []}}
    result = compile_secrets_provider(provider({"authMethod": "kubernetes"}), observed_store=foreign)
    assert result.status.phase is Phase.FAILED and "not managed by Lattice" in (result.status.message or "")


def test_reading_the_status_request() -> None:
    sp = provider({"authMethod": "kubernetes"})
    assert provider_related_resources(sp) == [{
        "apiVersion": "apiextensions.k8s.io/v1", "resource": "customresourcedefinitions",
        "names": ["clustersecretstores.external-secrets.io"],
    }]
    assert provider_related_resources(sp, watch_store=True)[1] == {
        "apiVersion": "external-secrets.io/v1", "resource": "clustersecretstores", "names": ["vault-prod"],
    }
    store = desired_stores([sp])[0]
    related = {
        "CustomResourceDefinition.apiextensions.k8s.io/v1": {"clustersecretstores.external-secrets.io": {}},
        "ClusterSecretStore.external-secrets.io/v1": {"vault-prod": store},
    }
    assert eso_installed(related) and not eso_installed({})
    assert observed_store(related, "vault-prod") is store and observed_store(related, "other") is None


def test_decorator_reads_providers_from_related() -> None:
    good = {"apiVersion": "lattice.dev/v1alpha1", "kind": "SecretsProvider",
            "metadata": {"name": "vault-prod", "namespace": "lattice-system"},
            "spec": {"server": "https://v:8200", "authMethod": "kubernetes"}}
    junk = {"kind": "SecretsProvider", "metadata": {"name": "x"}, "spec": "nope"}
    related = {"SecretsProvider.lattice.dev/v1alpha1": {"lattice-system/vault-prod": good, "lattice-system/x": junk}}
    providers = providers_from_related(related)
    assert [p.name for p in providers] == ["vault-prod"]
    assert [s["metadata"]["name"] for s in desired_stores(providers)] == ["vault-prod"]


def test_policy_sources_skip_objects_with_malformed_metadata_or_spec() -> None:
    objs = [
        {"kind": "CedarPolicy", "metadata": "x", "spec": {"policies": "y"}},
        {"kind": "CedarPolicy", "metadata": {"name": "s", "namespace": "lattice-system"}, "spec": "zz"},
        cedar_policy("a", "x"),
    ]
    assert [s.name for s in policy_sources(objs)] == ["a"]
