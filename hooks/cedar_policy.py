"""CedarPolicy controller: validate the text and report every error with its statement and line.

A thin user of ``lattice_cedar``: validation needs no other object, so the sync hook is
``compile_cedar_policy(cp)`` → status; the CedarPolicy has no children. Enforcement is elsewhere:
the services with secrets (``hooks.secrets.policies``) and the API proxy build their policy store
from every enabled CedarPolicy in lattice-system.
"""

from crds.cedar_policy import CedarPolicy, CedarPolicyPhase, CedarPolicyStatus
from lattice_cedar import validate_policy

RESYNC_VALID = 300.0
RESYNC_INVALID = 60.0


def compile_cedar_policy(cp: CedarPolicy, now: str | None = None) -> CedarPolicyStatus:
    """Valid/Invalid, permit and forbid counts, every parse or schema error located."""
    return validate_policy(cp, now)


def resync_after_seconds(status: CedarPolicyStatus) -> float:
    return RESYNC_VALID if status.phase is CedarPolicyPhase.VALID else RESYNC_INVALID
