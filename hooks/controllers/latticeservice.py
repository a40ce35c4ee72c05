"""LatticeService: the workload, its mesh policies and its secrets.

customize asks only for what the service names (``hooks.mesh.graph.peer_query``): the
LatticeServices and LatticeExternalServices its resources declare, by ``names`` in each namespace;
every LatticeService of a namespace only for a wildcard (``*``) inbound resource naming that
namespace, and of every namespace (a rule without a namespace) for a wildcard naming none; the
CedarPolicies of lattice-system only when it has a secret resource. The answer depends only on
the spec (Metacontroller caches it per generation).

sync parses the service and the related objects, builds a ``ServiceContext`` and runs
``hooks.service.compile.compile_service``. A service that fails validation is answered with a
Failed status carrying every error and its observed children unchanged. A service that compiles is
Pending (reason ApplyPending), not Ready, until every child is observed as desired
(``hooks.controllers.applied``).
"""

from __future__ import annotations

from collections import defaultdict

import attrs

import crds
from crds import ConditionStatus, FieldError, KubeObject, LatticeExternalService, LatticeService
from crds.service import LatticeServiceStatus, ServicePhase
from hooks.context import Key, ServiceContext
from hooks.controllers import applied, kinds
from hooks.controllers.definition import Answer, ChildRule, Composite, HookConfig
from hooks.controllers.memo import LRU, inputs_version
from hooks.controllers.parsing import parse_object, valid_related
from hooks.mesh.graph import peer_query
from hooks.secrets import related_resources as secret_related_resources
from hooks.secrets.policies import authorizer_from_related
from hooks.service.compile import ServiceResult, compile_service, failed_result
from hooks.wire import CustomizeRequest, CustomizeResponse, RelatedRule, SyncRequest, SyncResponse, observed_unchanged

# Compile results by the versions of the service and of every related object (see _memo).
_compiled: LRU[ServiceResult] = LRU(1024)

CHILDREN: tuple[ChildRule, ...] = (
    ChildRule(kinds.SERVICE_ACCOUNT),
    ChildRule(kinds.DEPLOYMENT, why="the Deployment rolls pods out itself"),
    ChildRule(kinds.SERVICE),
    ChildRule(kinds.HPA),
    ChildRule(kinds.PVC, "OnDelete", "a claim's spec is immutable and recreating it would lose data"),
    ChildRule(kinds.CONFIG_MAP),
    ChildRule(kinds.EXTERNAL_SECRET),
    ChildRule(kinds.CILIUM_NETWORK_POLICY, why="revocation must take effect at once"),
    ChildRule(kinds.AUTHORIZATION_POLICY, why="revocation must take effect at once"),
    ChildRule(kinds.GATEWAY),
    ChildRule(kinds.HTTP_ROUTE),
    ChildRule(kinds.CERTIFICATE),
    ChildRule(kinds.ENVOY_FILTER, why="inbound rate limits"),
    ChildRule(kinds.BACKEND_TRAFFIC_POLICY, why="ingress rate limit"),
)


def related_rules(service: LatticeService) -> list[RelatedRule]:
    """The related objects one service needs, from its spec alone (``graph.peer_query``)."""
    query = peer_query((service.namespace or "default", service.name), service)
    svc_res, ext_res = kinds.LATTICE_SERVICE.resource, kinds.LATTICE_EXTERNAL_SERVICE.resource
    rules: list[RelatedRule] = []
    if query.all_namespaces:
        # Every namespace: a rule without one (Metacontroller takes a namespace literally, so "*"
        # would read the namespace named "*").
        rules.append(RelatedRule(crds.API_VERSION, svc_res))
    rules += [RelatedRule(crds.API_VERSION, svc_res, namespace=ns) for ns in query.wildcard_namespaces]
    every = set(query.wildcard_namespaces)
    for resource, keys in ((svc_res, query.services), (ext_res, query.external_services)):
        by_ns: dict[str, set[str]] = defaultdict(set)
        for ns, name in keys:
            if resource == ext_res or not (query.all_namespaces or ns in every):
                by_ns[ns].add(name)
        rules += [RelatedRule(crds.API_VERSION, resource, namespace=ns, names=tuple(sorted(names)))
                  for ns, names in sorted(by_ns.items())]
    # Every CedarPolicy of lattice-system when the service has a secret resource.
    rules += [RelatedRule.from_json(r) for r in secret_related_resources(service)]
    return rules


def customize(req: CustomizeRequest, _cfg: HookConfig) -> CustomizeResponse:
    service, _errors = parse_object(req.parent, LatticeService)
    if service is None:
        return CustomizeResponse(())
    return CustomizeResponse(tuple(related_rules(service)))


def context(service: LatticeService, req: SyncRequest, cfg: HookConfig) -> ServiceContext:
    services: dict[Key, LatticeService] = {
        (s.namespace, s.name): s for s in valid_related(req.related, LatticeService)
    }
    externals: dict[Key, LatticeExternalService] = {
        (e.namespace, e.name): e for e in valid_related(req.related, LatticeExternalService)
    }
    has_secrets = any(r.type == "secret" for r in service.spec.resources.values())
    authorizer = authorizer_from_related(req.related) if has_secrets else None
    return ServiceContext(service=service, services=services, external_services=externals,
                          cluster=cfg.cluster, authorizer=authorizer)


def failed_status(messages: list[str], generation: int | None, reason: str) -> KubeObject:
    result = failed_result([FieldError("", m) for m in messages], generation, reason=reason)
    out: KubeObject = crds.dump(result.status)
    return out


def _reason(status: KubeObject) -> str:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready" and cond.get("reason"):
            return str(cond["reason"])
    return "Failed"


def _compile(service: LatticeService, req: SyncRequest, cfg: HookConfig) -> ServiceResult:
    result = compile_service(context(service, req, cfg))
    return result if result.keep_observed else attrs.evolve(result, children=applied.stamp(result.children))


def _until_applied(status: LatticeServiceStatus, children: list[KubeObject], req: SyncRequest) -> LatticeServiceStatus:
    """Ready only once every child is in the cluster as desired (``hooks.controllers.applied``)."""
    if status.phase is not ServicePhase.READY:
        return status
    waiting = applied.not_applied(children, req.children, on_delete=ON_DELETE,
                                  namespace=(req.parent.get("metadata") or {}).get("namespace"))
    if not waiting:
        return status
    message = applied.pending_message(status.message, waiting)
    conditions = [attrs.evolve(c, status=ConditionStatus.FALSE, reason=APPLY_PENDING, message=message)
                  if c.type == "Ready" else c for c in status.conditions]
    return attrs.evolve(status, phase=ServicePhase.PENDING, message=message, conditions=conditions)


def sync(req: SyncRequest, cfg: HookConfig) -> Answer[SyncResponse]:
    service, errors = parse_object(req.parent, LatticeService)
    if service is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    versions = inputs_version(req.parent, req.related)
    result = _compiled.get_or_make(None if versions is None else (versions, cfg.cluster),
                                   lambda: _compile(service, req, cfg))
    children = observed_unchanged(req.children) if result.keep_observed else result.children
    status: KubeObject = crds.dump(_until_applied(result.status, children, req))
    failure = _reason(status) if status.get("phase") == "Failed" else None
    return Answer(SyncResponse(status=status, children=children,
                               resync_after_seconds=result.resync_after_seconds), failure)


ON_DELETE = frozenset(r.kind.group_key for r in CHILDREN if r.update == "OnDelete")
APPLY_PENDING = "ApplyPending"

CONTROLLER = Composite(
    name="latticeservice",
    parent=kinds.LATTICE_SERVICE,
    children=CHILDREN,
    sync=sync,
    customize=customize,
    related=(kinds.LATTICE_SERVICE, kinds.LATTICE_EXTERNAL_SERVICE, kinds.CEDAR_POLICY),
    failed_status=failed_status,
    resync_period_seconds=300,
    doc="Compiles a LatticeService into its workload, mesh policies and ExternalSecrets.",
)
