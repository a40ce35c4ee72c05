"""CedarPolicy: validate the text and report every error (``hooks.cedar_policy``); no children.

Enforcement lives with the consumers: every LatticeService with a secret relates the CedarPolicies
of lattice-system, so a change here re-syncs those services.
"""

from __future__ import annotations

import crds
from crds import CedarPolicy
from crds.cedar_policy import CedarPolicyPhase, CedarPolicyStatus
from hooks.cedar_policy import compile_cedar_policy, resync_after_seconds
from hooks.controllers import kinds
from hooks.controllers.definition import INTERNAL_ERROR, Answer, Composite, HookConfig, failed_status_for
from hooks.controllers.events import EventPolicy
from hooks.controllers.parsing import parse_object
from hooks.wire import SyncRequest, SyncResponse

failed_status = failed_status_for(CedarPolicyStatus, CedarPolicyPhase.INVALID)


def sync(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
    policy, errors = parse_object(req.parent, CedarPolicy)
    if policy is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    status = compile_cedar_policy(policy)
    failure = "InvalidPolicy" if status.phase is CedarPolicyPhase.INVALID else None
    return Answer(SyncResponse(status=crds.dump(status), children=[],
                               resync_after_seconds=resync_after_seconds(status)), failure)


CONTROLLER = Composite(
    name="cedarpolicy",
    parent=kinds.CEDAR_POLICY,
    children=(),
    sync=sync,
    failed_status=failed_status,
    resync_period_seconds=600,
    doc="Validates Cedar policy text; Valid/Invalid with every error located.",
    events=EventPolicy(failures=frozenset({CedarPolicyPhase.INVALID.value, "ValidationFailed", INTERNAL_ERROR}),
                       first_success="Validated", renamed={CedarPolicyPhase.INVALID.value: "PolicyInvalid"}),
)
