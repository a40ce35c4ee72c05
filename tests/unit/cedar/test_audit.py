"""Audit-mode CedarPolicies: judged beside the enforced set, never part of a decision."""

from crds.cedar_policy import PolicyMode
from lattice_cedar import AuditedStore, DenyReason, PolicyStore
from lattice_cedar.store import ClusterDirectory

from .support import CLUSTER, SECRET, example, policy, secret

AUDIT = PolicyMode.AUDIT
FORBID_PROD = f'forbid(principal, {SECRET}, resource) when {{ resource.path like "*/prod/*" }};'
PERMIT_PAYMENTS = f'permit(principal, {SECRET}, resource) when {{ principal.namespace == "payments" }};'


def test_an_audit_policy_is_never_part_of_the_enforced_store() -> None:
    store = PolicyStore.from_policies([example("platform-database-secrets"),
                                       policy("audit-forbid", FORBID_PROD, mode=AUDIT)])
    assert {s.source for s in store.statements} == {"platform-database-secrets"}
    (d,) = store.decide_secrets([secret("platform", "api-gateway", "vault-prod", "database/prod/api-gateway")])
    assert d.allowed  # the audit forbid changes nothing


def test_audit_forbid_reports_what_it_would_deny() -> None:
    audited = AuditedStore.from_policies([example("platform-database-secrets"),
                                          policy("audit-forbid", FORBID_PROD, mode=AUDIT)])
    requests = [secret("platform", "api-gateway", "vault-prod", "database/prod/api-gateway"),
                secret("platform", "api-gateway", "vault-prod", "database/dev/api-gateway")]
    decided = audited.enforced.decide_secrets(requests)
    assert [d.allowed for d in decided] == [True, True]
    [f] = audited.audit_secrets(requests, decided)
    assert (f.policy, f.index, f.would, f.enforced.allowed) == ("audit-forbid", 0, "deny", True)
    assert f.audited.reason is DenyReason.FORBIDDEN and f.audited.policies == ("audit-forbid.0",)


def test_audit_permit_reports_what_it_would_allow_and_nothing_else() -> None:
    audited = AuditedStore.from_policies([policy("audit-permit", PERMIT_PAYMENTS, mode=AUDIT)])
    requests = [secret("payments", "checkout", "vault", "a"), secret("orders", "cart", "vault", "b")]
    assert [d.allowed for d in audited.enforced.decide_secrets(requests)] == [False, False]
    [f] = audited.audit_secrets(requests)
    assert (f.index, f.would, f.enforced.reason) == (0, "allow", DenyReason.NO_PERMIT)


def test_each_audit_policy_is_judged_alone() -> None:
    # Together the two would cancel out (forbid beats permit); alone each changes one thing.
    audited = AuditedStore.from_policies([
        example("platform-database-secrets"),
        policy("a-forbid", FORBID_PROD, mode=AUDIT),
        policy("b-permit", PERMIT_PAYMENTS, mode=AUDIT),
    ])
    requests = [secret("platform", "api", "vault-prod", "database/prod/x"), secret("payments", "c", "v", "p")]
    found = audited.audit_secrets(requests)
    assert [(f.index, f.policy, f.would) for f in found] == [(0, "a-forbid", "deny"), (1, "b-permit", "allow")]


def test_disabled_audit_policies_and_other_namespaces_are_ignored() -> None:
    audited = AuditedStore.from_policies([
        policy("off", FORBID_PROD, mode=AUDIT, enabled=False),
        policy("elsewhere", FORBID_PROD, mode=AUDIT, namespace="default"),
    ])
    assert audited.audit_policies == ()


def test_audit_on_cluster_access() -> None:
    forbid_intern = ('forbid(principal == Lattice::User::"intern", '
                     f'{CLUSTER}, resource == Lattice::Cluster::"production");')
    audited = AuditedStore.from_policies([example("allow-platform-team"),
                                          policy("audit-intern", forbid_intern, mode=AUDIT)])
    platform = ["system:serviceaccounts:platform"]
    assert audited.enforced.authorize_cluster("intern", platform, "production").allowed
    [f] = audited.audit_cluster("intern", platform, "production")
    assert (f.policy, f.would) == ("audit-intern", "deny")
    assert audited.audit_cluster("someone", platform, "production") == []
    directory = ClusterDirectory.from_labels({"production": {}, "staging": {}})
    found = audited.audit_clusters("intern", platform, directory)
    assert list(found) == ["production"] and found["production"][0].policy == "audit-intern"


def test_audited_store_is_memoised_by_content() -> None:
    policies = [example("platform-database-secrets"), policy("audit-forbid", FORBID_PROD, mode=AUDIT)]
    assert AuditedStore.from_policies(policies) is AuditedStore.from_policies(list(reversed(policies)))
