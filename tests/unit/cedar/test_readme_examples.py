"""The README's Cedar examples, as decisions."""

import pytest

from crds.cedar_policy import CedarPolicyPhase
from lattice_cedar import DenyReason, PolicyStore, validate_policy

from .support import example, secret

EXAMPLES = ["admin-vault-platform-only", "allow-platform-team", "deny-intern-prod", "forbid-prod-secrets",
            "payments-secrets", "platform-database-secrets"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_is_valid_against_the_schema(name: str) -> None:
    status = validate_policy(example(name, enabled=True))
    assert status.phase is CedarPolicyPhase.VALID, status.validation_errors
    assert status.validation_errors == []


def test_namespace_permit_with_like() -> None:
    store = PolicyStore.from_policies([example("payments-secrets")])
    allowed, other_ns, other_path = store.decide_secrets([
        secret("payments", "checkout", "vault-prod", "secret/data/payments/db"),
        secret("orders", "checkout", "vault-prod", "secret/data/payments/db"),
        secret("payments", "checkout", "vault-prod", "secret/data/orders/db"),
    ])
    assert allowed.allowed and allowed.policies == ("payments-secrets.0",)
    assert other_ns.reason is DenyReason.NO_PERMIT
    assert other_path.reason is DenyReason.NO_PERMIT


def test_forbid_on_prod_paths_overrides_the_permit() -> None:
    store = PolicyStore.from_policies([example("payments-secrets"), example("forbid-prod-secrets", enabled=True)])
    prod, dev = store.decide_secrets([
        secret("payments", "checkout", "vault-prod", "secret/data/payments/prod/db"),
        secret("payments", "checkout", "vault-prod", "secret/data/payments/dev/db"),
    ])
    assert not prod.allowed
    assert prod.reason is DenyReason.FORBIDDEN
    assert prod.reason_text == "access explicitly forbidden by policy"
    assert prod.policies == ("forbid-prod-secrets.0",)
    assert dev.allowed


def test_the_shipped_forbid_example_is_disabled_and_so_not_in_force() -> None:
    store = PolicyStore.from_policies([example("payments-secrets"), example("forbid-prod-secrets")])
    (d,) = store.decide_secrets([secret("payments", "checkout", "vault-prod", "secret/data/payments/prod/db")])
    assert d.allowed


def test_provider_scoped_permit() -> None:
    store = PolicyStore.from_policies([example("admin-vault-platform-only")])
    platform_admin, payments_admin, platform_prod = store.decide_secrets([
        secret("platform", "ops", "vault-admin", "any/path", "a"),
        secret("payments", "checkout", "vault-admin", "any/path", "b"),
        secret("platform", "ops", "vault-prod", "any/path", "c"),
    ])
    assert platform_admin.allowed and platform_admin.reason_text == ""
    assert not payments_admin.allowed
    assert payments_admin.reason_text == "no permit policy for this service and secret path"
    assert not platform_prod.allowed


def test_group_based_cluster_access() -> None:
    store = PolicyStore.from_policies([example("allow-platform-team")])
    platform = store.authorize_cluster("system:serviceaccount:platform:deployer",
                                       ["system:serviceaccounts", "system:serviceaccounts:platform"], "prod-us-west")
    other = store.authorize_cluster("system:serviceaccount:web:app", ["system:serviceaccounts:web"], "prod-us-west")
    assert platform.allowed and platform.policies == ("allow-platform-team.0",)
    assert not other.allowed and other.reason is DenyReason.NO_PERMIT


def test_user_forbid_beats_group_permit() -> None:
    store = PolicyStore.from_policies([example("allow-platform-team"), example("deny-intern-prod")])
    intern = "system:serviceaccount:default:intern-sa"
    groups = ["system:serviceaccounts:platform"]
    prod = store.authorize_cluster(intern, groups, "production")
    staging = store.authorize_cluster(intern, groups, "staging")
    assert not prod.allowed and prod.reason is DenyReason.FORBIDDEN
    assert prod.policies == ("deny-intern-prod.0",)
    assert staging.allowed
    assert store.accessible_clusters(intern, groups, {"production": {}, "staging": {}, "dev": {}}) == ["staging", "dev"]


def test_a_group_permit_for_clusters_grants_no_secret() -> None:
    # `action` unconstrained, but a Service is never in a Group: no secret access follows.
    store = PolicyStore.from_policies([example("allow-platform-team")])
    (d,) = store.decide_secrets([secret("platform", "ops", "vault-prod", "x")])
    assert not d.allowed
