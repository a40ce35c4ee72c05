"""The CedarPolicies of one sync: enforced ones decide, Audit-mode ones are only reported."""

from typing import Any

from hooks.context import SecretAudit, ServiceContext
from hooks.secrets import audited_from_related, authorizer_from_related, compile_secrets, policy_sources

from .support import ALLOW_SECRETS, cedar_policy, related, secret_resource, service

FORBID_PROD = ('forbid(principal, action == Lattice::Action::"AccessSecret", resource) '
               'when { resource.path like "*/prod/*" };')


def audit(policy: dict[str, Any]) -> dict[str, Any]:
    policy["spec"]["mode"] = "Audit"
    return policy


def test_audit_mode_policies_are_not_sources_of_the_enforced_set() -> None:
    objs = [cedar_policy("allow", ALLOW_SECRETS), audit(cedar_policy("audit-forbid", FORBID_PROD))]
    assert [s.name for s in policy_sources(objs)] == ["allow"]
    assert [s.name for s in policy_sources(objs, audit=True)] == ["audit-forbid"]
    audited = audited_from_related(related(*objs))
    assert audited.audit_policies == ("audit-forbid",)


def test_audit_forbid_changes_no_decision_and_is_reported() -> None:
    svc = service({"db": secret_resource("database/prod/api"), "cache": secret_resource("cache/dev/api")})
    authorizer = authorizer_from_related(related(cedar_policy("allow", ALLOW_SECRETS),
                                                 audit(cedar_policy("audit-forbid", FORBID_PROD))))
    result = compile_secrets(ServiceContext(service=svc, authorizer=authorizer, auditor=authorizer))
    assert result.denied == [] and len(result.children) == 2  # both ExternalSecrets, as without it
    assert result.audit == [SecretAudit(resource="db", policy="audit-forbid", would_allow=False,
                                        statements=("audit-forbid.0",))]


def test_audit_permit_would_allow_a_denied_secret() -> None:
    svc = service({"db": secret_resource("database/prod/api")})
    authorizer = authorizer_from_related(related(audit(cedar_policy("audit-allow", ALLOW_SECRETS))))
    result = compile_secrets(ServiceContext(service=svc, authorizer=authorizer, auditor=authorizer))
    assert [d.resource for d in result.denied] == ["db"]  # still denied: audit never grants
    assert [(a.resource, a.would_allow) for a in result.audit] == [("db", True)]


def test_no_auditor_no_audit() -> None:
    svc = service({"db": secret_resource("database/prod/api")})
    authorizer = authorizer_from_related(related(audit(cedar_policy("audit-allow", ALLOW_SECRETS))))
    assert compile_secrets(ServiceContext(service=svc, authorizer=authorizer)).audit == []
