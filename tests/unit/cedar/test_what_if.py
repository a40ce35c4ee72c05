"""The flip list of a policy change, on the README's examples."""

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crds.cedar_policy import PolicyMode
from lattice_cedar import PolicyStore, what_if
from lattice_cedar.store import ClusterDirectory, enforced_sources
from lattice_cedar.what_if import ANY_OTHER_USER, apply_change, changed_statements, named_principals, principal_of

from .support import CLUSTER as CLUSTER_ACTION
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


def test_user_group_pairs_follow_what_the_change_names() -> None:
    store = PolicyStore.from_policies(current())
    everything = changed_statements(PolicyStore.from_policies([]), store)
    open_scope = [s for s in everything if s.source == "payments-secrets"]
    assert not any(" in group " in p.shown for p in named_principals([store], changed=open_scope))
    only_intern = [s for s in everything if s.source == "deny-intern-prod"]
    assert f"user {INTERN} in group {PLATFORM}" in [p.shown for p in named_principals([store], changed=only_intern)]
    unrelated = policy("x", 'permit(principal == Lattice::User::"zed", action, resource);')
    after = PolicyStore.from_policies([*current(), unrelated])
    shown = [p.shown for p in named_principals([store, after], changed=changed_statements(store, after))]
    assert f"user {INTERN} in group {PLATFORM}" not in shown and f"user zed in group {PLATFORM}" in shown


USERS, GROUPS = ("u0", "u1"), ("g0", "g1")
CLUSTER_LABELS = {"c0": {"lattice.dev/environment": "production"}, "c1": {"lattice.dev/environment": "staging"},
                  "c2": {}}
SCOPES = ["principal", *(f'principal == Lattice::User::"{u}"' for u in USERS),
          *(f'principal in Lattice::Group::"{g}"' for g in GROUPS)]
CONDITIONS = ["", ' when { resource has environment && resource.environment == "production" }',
              ' unless { resource.name == "c1" }']
statement = st.builds(lambda effect, scope, cond: f"{effect}({scope}, {CLUSTER_ACTION}, resource){cond};",
                      st.sampled_from(["permit", "forbid"]), st.sampled_from(SCOPES), st.sampled_from(CONDITIONS))


@settings(max_examples=60, deadline=None)
@given(st.lists(statement, max_size=5), statement, st.booleans())
def test_flip_list_is_exact_for_representatives_and_covers_every_user_in_a_group(
        base: list[str], one: str, remove: bool) -> None:
    """Against brute force: every listed principal's flips are exactly the decisions that change;
    a user in a group the list leaves out only flips where a listed principal flips the same way."""
    if remove and not base:
        return
    existing = [policy(f"p{i}", text) for i, text in enumerate(base)]
    change = policy("p0", "permit(principal == Lattice::User::\"nobody\", action, resource);" if remove else one)
    if not remove:
        change = policy("new", one)
    directory = ClusterDirectory.from_labels(CLUSTER_LABELS)
    result = what_if(existing, change, [], clusters=directory)
    after_policies, _ = apply_change(existing, change)
    before = PolicyStore.from_policies(existing)
    after = PolicyStore.from_policies(after_policies)
    listed = {(f.principal, f.resource, f.change) for f in result.flips}
    everyone = [principal_of(u, [g]) for u in USERS for g in GROUPS]
    people = named_principals((before, after), (), changed_statements(before, after))
    judged = {(p.user, p.groups) for p in people}
    for p in [*people, *everyone]:
        old = before.authorize_clusters(p.user, p.groups, directory)
        new = after.authorize_clusters(p.user, p.groups, directory)
        for c in CLUSTER_LABELS:
            if old[c].allowed == new[c].allowed:
                continue
            change_text = f"{'allow' if old[c].allowed else 'deny'} -> {'allow' if new[c].allowed else 'deny'}"
            if (p.user, p.groups) in judged:
                shown = next(q.shown for q in people if (q.user, q.groups) == (p.user, p.groups))
                assert (shown, c, change_text) in listed
            else:  # an unlisted user-in-group: a representative shows the same flip
                reps = {f"user {p.user}", f"any member of group {p.groups[0]}", ANY_OTHER_USER}
                assert any((r, c, change_text) in listed for r in reps), (p, c, listed)
    assert len(listed) == len(result.flips)
