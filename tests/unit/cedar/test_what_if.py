"""The flip list of a policy change, on the README's examples."""

import attrs

from crds.cedar_policy import PolicyMode
from lattice_cedar import PolicyStore, what_if
from lattice_cedar.store import ClusterDirectory, enforced_sources
from lattice_cedar.what_if import ANY_OTHER_USER, apply_change, changed_statements, named_principals, principal_of

from .support import SECRET, example, policy, secret

EXAMPLES = ["admin-vault-platform-only", "allow-platform-team", "deny-intern-prod", "forbid-prod-secrets",
            "payments-secrets", "platform-database-secrets"]
# The README's api-gateway secret, plus payments services reading their own paths.
SECRETS = [
    secret("platform", "api-gateway", "vault-prod", "database/prod/api-gateway", "db-creds"),
    secret("payments", "checkout", "vault-prod", "secret/data/payments/prod/db", "db"),
    secret("payments", "checkout", "vault-prod", "secret/data/payments/dev/db", "dev-db"),
    secret("orders", "cart", "vault-prod", "secret/data/orders/db", "db"),
]
CLUSTERS = ClusterDirectory.from_labels({"production": {"lattice.dev/tier": "prod"}, "staging": {}})
INTERN = "system:serviceaccount:default:intern-sa"
PLATFORM = "system:serviceaccounts:platform"


def current() -> list:  # as shipped: forbid-prod-secrets disabled
    return [example(n) for n in EXAMPLES]


def test_enabling_the_prod_forbid_flips_exactly_the_prod_paths() -> None:
    result = what_if(current(), example("forbid-prod-secrets", enabled=True), SECRETS, clusters=CLUSTERS)
    assert result.change == "replace CedarPolicy forbid-prod-secrets"
    rows = [(f.principal, f.resource, f.detail, f.change, f.after.policies) for f in result.flips]
    assert rows == [
        ("platform/api-gateway", "vault-prod:database/prod/api-gateway", "db-creds", "allow -> deny",
         ("forbid-prod-secrets.0",)),
        ("payments/checkout", "vault-prod:secret/data/payments/prod/db", "db", "allow -> deny",
         ("forbid-prod-secrets.0",)),
    ]
    assert result.audit == ()


def test_removing_a_permit_flips_what_it_allowed() -> None:
    change = example("payments-secrets", enabled=False)
    result = what_if(current(), change, SECRETS, clusters=CLUSTERS)
    assert [(f.principal, f.resource, f.change) for f in result.flips] == [
        ("payments/checkout", "vault-prod:secret/data/payments/prod/db", "allow -> deny"),
        ("payments/checkout", "vault-prod:secret/data/payments/dev/db", "allow -> deny"),
    ]


def test_cluster_forbid_flips_the_intern_in_the_platform_group_only() -> None:
    without = [p for p in current() if p.name != "deny-intern-prod"]
    result = what_if(without, example("deny-intern-prod"), SECRETS, clusters=CLUSTERS)
    assert result.change == "add CedarPolicy deny-intern-prod"
    assert [(f.principal, f.resource, f.change) for f in result.flips] == [
        (f"user {INTERN} in group {PLATFORM}", "production", "allow -> deny")]


def test_a_permit_for_everyone_shows_up_as_any_other_user() -> None:
    change = policy("everyone", 'permit(principal, action == Lattice::Action::"AccessCluster", resource);')
    result = what_if(current(), change, [], clusters=CLUSTERS)
    assert {(f.principal, f.resource) for f in result.flips} == {
        (ANY_OTHER_USER, "production"), (ANY_OTHER_USER, "staging"), (f"user {INTERN}", "staging"),
    }  # the intern stays forbidden on production; platform members were allowed already


def test_audit_mode_change_flips_nothing_and_reports_what_it_would() -> None:
    change = attrs.evolve(example("forbid-prod-secrets", enabled=True),
                          spec=attrs.evolve(example("forbid-prod-secrets", enabled=True).spec, mode=PolicyMode.AUDIT))
    result = what_if(current(), change, SECRETS, clusters=CLUSTERS)
    assert result.mode is PolicyMode.AUDIT and result.flips == ()
    assert [(f.principal, f.change) for f in result.audit] == [
        ("platform/api-gateway", "allow -> deny"), ("payments/checkout", "allow -> deny")]


def test_unchanged_policy_evaluates_nothing() -> None:
    result = what_if(current(), example("payments-secrets"), SECRETS, clusters=CLUSTERS)
    assert result.flips == () and result.evaluated == 0


def test_namespace_scoped_change_evaluates_only_its_namespace() -> None:
    change = policy("orders", f'permit(principal, {SECRET}, resource) when {{ principal.namespace == "orders" }};')
    result = what_if(current(), change, SECRETS, clusters=CLUSTERS)
    assert [(f.principal, f.change) for f in result.flips] == [("orders/cart", "deny -> allow")]
    assert result.evaluated == 2  # one request, in both sets


def test_flip_list_agrees_with_evaluating_everything() -> None:
    change = example("forbid-prod-secrets", enabled=True)
    after, _ = apply_change(current(), change)
    before_store = PolicyStore.from_sources(enforced_sources(current()))
    after_store = PolicyStore.from_sources(enforced_sources(after))
    brute = [r for r, b, a in zip(SECRETS, before_store.decide_secrets(SECRETS), after_store.decide_secrets(SECRETS),
                                  strict=True) if b.allowed != a.allowed]
    result = what_if(current(), change, SECRETS, clusters=CLUSTERS)
    assert [f.detail for f in result.flips] == [r.resource for r in brute]
    assert changed_statements(before_store, after_store)[0].id == "forbid-prod-secrets.0"


def test_named_principals() -> None:
    store = PolicyStore.from_policies(current())
    shown = [p.shown for p in named_principals([store], [principal_of("bob", ["dev", "dev"])])]
    assert shown == [f"user {INTERN}", f"user {INTERN} in group {PLATFORM}", f"any member of group {PLATFORM}",
                     "user bob (groups dev)", ANY_OTHER_USER]
