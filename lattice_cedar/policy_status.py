"""The status of a CedarPolicy (Valid/Invalid, counts, every error located), and the policies a
cluster hands down to its children."""

from __future__ import annotations

from collections.abc import Iterable

from crds import Condition, ConditionStatus
from crds.cedar_policy import CedarPolicy, CedarPolicyPhase, CedarPolicyStatus, PolicyError, PolicyMode
from lattice_cedar.statements import parse_text
from lattice_cedar.store import POLICY_NAMESPACE


def validate_policy(cp: CedarPolicy, now: str | None = None) -> CedarPolicyStatus:
    """The status of one CedarPolicy: Valid/Invalid, statement counts, every error located."""
    generation = cp.metadata.generation
    if not cp.spec.enabled:
        return _status(CedarPolicyPhase.VALID, "Policy is disabled", 0, 0, [], now, generation)
    parsed = parse_text(cp.spec.policies)
    errors = [
        PolicyError(statement=s.index, line=s.line, policy_id=f"{cp.name}.{s.index}", message=m)
        for s in parsed
        for m in s.errors
    ]
    if not parsed:
        errors.append(PolicyError(statement=0, line=1, message="no Cedar statement found"))
    permits = sum(1 for s in parsed if s.effect == "permit")
    forbids = sum(1 for s in parsed if s.effect == "forbid")
    where = "" if cp.namespace == POLICY_NAMESPACE else f" (not enforced: only CedarPolicies in {POLICY_NAMESPACE} are)"
    if not where and cp.spec.mode is PolicyMode.AUDIT:
        where = " (Audit mode: evaluated and reported, never enforced)"
    if errors:
        bad = len({e.statement for e in errors})
        message = f"{len(errors)} error(s) in {bad} of {max(len(parsed), 1)} statement(s){where}"
        return _status(CedarPolicyPhase.INVALID, message, permits, forbids, errors, now, generation)
    message = f"{permits} permit, {forbids} forbid statements{where}"
    return _status(CedarPolicyPhase.VALID, message, permits, forbids, [], now, generation)


def _status(phase: CedarPolicyPhase, message: str, permits: int, forbids: int, errors: list[PolicyError],
            now: str | None, generation: int | None) -> CedarPolicyStatus:
    ok = phase is CedarPolicyPhase.VALID
    ready = Condition(
        type="Ready",
        status=ConditionStatus.TRUE if ok else ConditionStatus.FALSE,
        reason=phase.value,
        message=message,
        last_transition_time=now,
        observed_generation=generation,
    )
    return CedarPolicyStatus(
        phase=phase, message=message, permit_count=permits, forbid_count=forbids, last_validated=now,
        validation_errors=errors, conditions=[ready], observed_generation=generation,
    )


def propagated_policies(policies: Iterable[CedarPolicy], namespace: str = POLICY_NAMESPACE) -> list[CedarPolicy]:
    """The CedarPolicies a cluster hands down to its children: enabled, ``propagate: true``."""
    return sorted(
        (p for p in policies if p.namespace == namespace and p.spec.enabled and p.spec.propagate),
        key=lambda p: (-p.spec.priority, p.name),
    )
