"""LatticeExternalService: the Istio ServiceEntry of an endpoint outside the mesh.

The external service owns its ServiceEntry (one owner, however many services call it); the
callers' egress policies come from their own compiles, which relate this object by name. Pending,
not Ready, until the ServiceEntry is observed as desired (``hooks.controllers.applied``).
"""

from __future__ import annotations

import crds
from crds import LatticeExternalService, Phase
from crds.external_service import LatticeExternalServiceStatus
from hooks.controllers import applied, kinds
from hooks.controllers.definition import Answer, ChildRule, Composite, HookConfig, failed_status_for
from hooks.controllers.parsing import parse_object
from hooks.mesh.external import compile_external_service
from hooks.wire import SyncRequest, SyncResponse

failed_status = failed_status_for(LatticeExternalServiceStatus, Phase.FAILED)


def sync(req: SyncRequest, cfg: HookConfig) -> Answer[SyncResponse]:
    ext, errors = parse_object(req.parent, LatticeExternalService)
    if ext is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    result = compile_external_service(ext, cfg.cluster)
    children = applied.stamp(result.children)
    status = applied.until_applied(result.status, children, req, Phase.PENDING)
    failure = "Failed" if status.phase is Phase.FAILED else None
    return Answer(SyncResponse(status=crds.dump(status), children=children), failure)


CONTROLLER = Composite(
    name="latticeexternalservice",
    parent=kinds.LATTICE_EXTERNAL_SERVICE,
    children=(ChildRule(kinds.SERVICE_ENTRY, why="endpoint changes apply at once"),),
    sync=sync,
    failed_status=failed_status,
    resync_period_seconds=600,
    doc="Compiles a LatticeExternalService into its Istio ServiceEntry.",
)
