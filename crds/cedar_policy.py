"""CedarPolicy: Cedar statements that authorize proxy access and secret access."""

from typing import ClassVar

import attrs

from crds._base import Condition, CrdInfo, ObjectMeta, PrinterColumn, StrEnum, field
from crds.convert import LatticeObject


class PolicyMode(StrEnum):
    ENFORCE = "Enforce"
    AUDIT = "Audit"


class CedarPolicyPhase(StrEnum):
    PENDING = "Pending"
    VALID = "Valid"
    INVALID = "Invalid"


@attrs.define(kw_only=True)
class CedarPolicySpec:
    policies: str = field(doc="Cedar policy text (one or more statements).")
    enabled: bool = field(True, doc="Disabled policies are not evaluated.")
    mode: PolicyMode = field(
        PolicyMode.ENFORCE,
        doc="`Enforce` (default): part of every decision. `Audit`: evaluated beside the enforced set and "
        "its would-be effects reported (Events, `lattice_cedar_audit_decisions_total`, `lattice policy "
        "check`), but it never changes a decision.",
    )
    priority: int = field(0, doc="Higher priority is evaluated and reported first.")
    propagate: bool = field(True, doc="Distribute to child clusters in the hierarchy.")
    description: str | None = field(None, doc="Human-readable description.")


@attrs.define(kw_only=True)
class PolicyError:
    """A parse or schema error in one statement."""

    statement: int = field(doc="0-based index of the statement in `policies`.")
    line: int | None = field(None, doc="1-based line where the statement starts.")
    policy_id: str | None = field(None, doc="The statement's id in the combined policy set.")
    message: str = field("", doc="What is wrong.")


@attrs.define(kw_only=True)
class CedarPolicyStatus:
    phase: CedarPolicyPhase = field(CedarPolicyPhase.PENDING, doc="Pending, Valid or Invalid.")
    message: str | None = field(None, doc="Summary.")
    permit_count: int = field(0, doc="Number of permit statements.")
    forbid_count: int = field(0, doc="Number of forbid statements.")
    last_validated: str | None = field(None, doc="When the text was last validated.")
    validation_errors: list[PolicyError] = field(factory=list, doc="Every error found.")
    conditions: list[Condition] = field(factory=list, doc="Conditions (Ready).")
    observed_generation: int | None = field(None, doc="Generation last validated.")


@attrs.define(kw_only=True)
class CedarPolicy(LatticeObject):
    """Cedar statements; the union of every enabled one in lattice-system is the policy set."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="CedarPolicy",
        plural="cedarpolicies",
        singular="cedarpolicy",
        short_names=("cp", "cedar"),
        namespaced=True,
        columns=(
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Enabled", ".spec.enabled", type="boolean"),
            PrinterColumn("Mode", ".spec.mode"),
            PrinterColumn("Priority", ".spec.priority", type="integer"),
            PrinterColumn("Description", ".spec.description"),
        ),
        doc="Cedar statements; the union of every enabled one in lattice-system is the policy set.",
    )

    spec: CedarPolicySpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("CedarPolicy")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: CedarPolicyStatus | None = field(None, doc="Observed state.")
