"""Cedar authorization for Lattice: the entity model, the schema, the policy store (the union of
every enabled CedarPolicy) and the decision API, for every consumer (the hooks deciding secret
access, the cell deciding cluster access). Pure: no I/O; imports only ``crds`` and cedarpy.

* ``PolicyStore`` (``store``) — build with ``from_policies`` / ``from_sources``; decide with
  ``decide_secrets``, ``authorize_cluster``, ``authorize_clusters``, ``accessible_clusters``.
  Only enabled ``mode: Enforce`` CedarPolicies of lattice-system are in it.
* ``AuditedStore`` (``audit``) — Audit-mode policies judged beside the enforced set: the
  decisions each would change, never a decision of its own.
* ``explain`` (``explain``) — the statements behind a decision; ``what_if`` (``what_if``) — the
  decisions that flip when a CedarPolicy is applied.
* ``validate_policy`` (``policy_status``) — a CedarPolicy's status, every error located.
* ``schema`` and ``entities`` — the Lattice entity types and the entities a request carries;
  ``statements`` — Cedar text split into statements, parsed and validated one by one.

Semantics: forbid beats permit; no permit means deny; errors never widen access.
"""

from lattice_cedar.audit import AuditedStore, AuditFinding
from lattice_cedar.explain import Explanation, explain
from lattice_cedar.policy_status import propagated_policies, validate_policy
from lattice_cedar.schema import SCHEMA_TEXT
from lattice_cedar.statements import split_statements
from lattice_cedar.store import (
    POLICY_NAMESPACE,
    ClusterDirectory,
    Decision,
    DenyReason,
    PolicySource,
    PolicyStatement,
    PolicyStore,
    SecretAccess,
    audit_sources,
    enforced_sources,
)
from lattice_cedar.what_if import Flip, Principal, WhatIf, what_if

__all__ = [
    "POLICY_NAMESPACE",
    "SCHEMA_TEXT",
    "AuditFinding",
    "AuditedStore",
    "ClusterDirectory",
    "Decision",
    "DenyReason",
    "Explanation",
    "Flip",
    "PolicySource",
    "PolicyStatement",
    "PolicyStore",
    "Principal",
    "SecretAccess",
    "WhatIf",
    "audit_sources",
    "enforced_sources",
    "explain",
    "propagated_policies",
    "split_statements",
    "validate_policy",
    "what_if",
]
