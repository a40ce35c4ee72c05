"""Cedar for one sync: the policy store built from the CedarPolicies Metacontroller delivered as
related objects, and the ``SecretAuthorizer`` the service compiler asks.

A thin user of ``lattice_cedar``: reads only the fields the store needs from the raw objects
(cheap on every sync; the store is memoised by content, so unchanged policies are never parsed
twice) and turns Cedar's decisions into the compiler's ``SecretDecision``s.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crds import KubeObject
from hooks.context import SecretAudit, SecretDecision, SecretRequest
from lattice_cedar import POLICY_NAMESPACE, AuditedStore, PolicySource, PolicyStore

CEDAR_POLICY_GROUP = "CedarPolicy.lattice.dev/v1alpha1"


AUDIT = "Audit"


def policy_sources(objects: Iterable[Mapping[str, Any]], namespace: str = POLICY_NAMESPACE, *,
                   audit: bool = False) -> list[PolicySource]:
    """Enabled, enforced CedarPolicies of ``namespace`` as store sources (with ``audit``: the
    enabled Audit-mode ones instead); malformed objects are skipped."""
    out: list[PolicySource] = []
    for obj in objects:
        meta, spec = obj.get("metadata"), obj.get("spec")
        if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
            continue
        if obj.get("kind") != "CedarPolicy" or meta.get("namespace") != namespace:
            continue
        name, text = meta.get("name"), spec.get("policies")
        enabled, priority = spec.get("enabled", True), spec.get("priority", 0)
        if not isinstance(name, str) or not isinstance(text, str) or enabled is not True:
            continue
        if (spec.get("mode") == AUDIT) != audit:
            continue
        if not isinstance(priority, int) or isinstance(priority, bool):
            priority = 0
        out.append(PolicySource(name, priority, text))
    return out


def store_from_related(related: Mapping[str, Mapping[str, KubeObject]]) -> PolicyStore:
    """The store for one sync request's ``related`` map (empty store: every secret denied)."""
    return PolicyStore.from_sources(policy_sources((related.get(CEDAR_POLICY_GROUP) or {}).values()))


def audited_from_related(related: Mapping[str, Mapping[str, KubeObject]]) -> AuditedStore:
    """The enforced store and the Audit-mode policies beside it, for one sync request."""
    objects = list((related.get(CEDAR_POLICY_GROUP) or {}).values())
    return AuditedStore.from_sources(policy_sources(objects), policy_sources(objects, audit=True))


@attrs.frozen
class CedarSecretAuthorizer:
    """The service compiler's ``SecretAuthorizer`` (decided by the enforced Cedar store) and its
    ``SecretAuditor`` (what the Audit-mode policies would change)."""

    store: PolicyStore
    audited: AuditedStore | None = None

    def authorize_secrets(self, requests: list[SecretRequest]) -> list[SecretDecision]:
        """One decision per request, in order; the reason is the README's text when denied."""
        return [
            SecretDecision(resource=r.resource, allowed=d.allowed, reason=d.reason_text)
            for r, d in zip(requests, self.store.decide_secrets(requests), strict=True)
        ]

    def audit_secrets(self, requests: list[SecretRequest]) -> list[SecretAudit]:
        """Every secret an Audit-mode policy would decide differently, in request order."""
        if self.audited is None or not self.audited.audits:
            return []
        return [
            SecretAudit(resource=requests[f.index].resource, policy=f.policy, would_allow=f.audited.allowed,
                        statements=f.audited.policies)
            for f in self.audited.audit_secrets(requests)
        ]


def authorizer_from_related(related: Mapping[str, Mapping[str, KubeObject]]) -> CedarSecretAuthorizer:
    """The authorizer (and auditor) for one sync request's ``related`` map."""
    audited = audited_from_related(related)
    return CedarSecretAuthorizer(audited.enforced, audited)
