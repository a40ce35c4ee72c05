"""LatticeService: the workload, its mesh policies and its secrets.

customize asks only for what the service names (``hooks.mesh.graph.peer_query``): the
LatticeServices and LatticeExternalServices its resources declare, by ``names`` in each namespace;
every LatticeService of a namespace only for a wildcard (``*``) inbound resource naming that
namespace, and of every namespace (a rule without a namespace) for a wildcard naming none; the
CedarPolicies of lattice-system only when it has a secret resource; the cluster's Provisioners
when it has a resource of a provisioned type; every LatticeService of its namespace when it
shares a provisioned resource by ``id`` (the first declaring service by name owns the instance);
the LatticeServices its ``service-port`` resources name. The answer depends only on the spec
(Metacontroller caches it per generation).

sync parses the service and the related objects, builds a ``ServiceContext`` and runs
``hooks.service.compile.compile_service``. A service that fails validation is answered with a
Failed status carrying every error and its observed children unchanged. A service that compiles is
Pending (reason ApplyPending), not Ready, until every child is observed as desired
(``hooks.controllers.applied``).
"""

from __future__ import annotations

from collections import defaultdict

import attrs
import orjson

import crds
from crds import FieldError, KubeObject, LatticeExternalService, LatticeService, Provisioner
from crds.service import ServicePhase
from hooks.context import Key, ServiceContext
from hooks.controllers import applied, kinds
from hooks.controllers.definition import Answer, ChildRule, Composite, HookConfig
from hooks.controllers.events import NORMAL, WARNING, AuditNote, EventNote, EventPolicy, ObjectRef
from hooks.controllers.memo import LRU, inputs_version
from hooks.controllers.parsing import parse_object, valid_related
from hooks.mesh.graph import peer_query
from hooks.secrets import related_resources as secret_related_resources
from hooks.secrets.policies import CEDAR_POLICY_GROUP, authorizer_from_related
from hooks.service.compile import (
    REASON_COMPILATION,
    REASON_COMPILED,
    REASON_DENIED,
    REASON_MISSING,
    REASON_SECRET_CONFIG,
    REASON_VALIDATION,
    ServiceResult,
    compile_service,
    failed_result,
)
from hooks.service.provisioning.native import CORE_TYPES
from hooks.wire import (
    CustomizeRequest,
    CustomizeResponse,
    RelatedRule,
    SyncRequest,
    SyncResponse,
    group_key,
    iter_objects,
    observed_unchanged,
)

# Compile results by the versions of the service and of every related object, weighed by the
# JSON size of the children they hold.
COMPILE_MEMO_ENTRIES = 1024
COMPILE_MEMO_BYTES = 16 * 1024 * 1024
_compiled: LRU[ServiceResult] = LRU(COMPILE_MEMO_ENTRIES, COMPILE_MEMO_BYTES, weigh=lambda r: _weight(r))


def _weight(result: ServiceResult) -> int:
    try:
        return len(orjson.dumps(result.children)) + len(result.status.message or "") + 1024
    except orjson.JSONEncodeError:
        return COMPILE_MEMO_BYTES  # never kept

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
    ChildRule(kinds.STATEFUL_SET, why="a provisioned data service; the StatefulSet rolls its pod itself"),
    ChildRule(kinds.PASSWORD_GENERATOR, why="generates a provisioned data service's credentials once, via ESO"),
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
    rules += provisioning_rules(service)
    return rules


def provisioning_rules(service: LatticeService) -> list[RelatedRule]:
    """Provisioners, sharers of provisioned ids and service-port targets (see the module doc)."""
    ns = service.namespace or "default"
    provisioned = [r for r in service.spec.resources.values() if r.type not in CORE_TYPES]
    if not provisioned:
        return []
    svc_res = kinds.LATTICE_SERVICE.resource
    rules = [RelatedRule(crds.API_VERSION, kinds.PROVISIONER.resource)]
    if any(r.id for r in provisioned):
        rules.append(RelatedRule(crds.API_VERSION, svc_res, namespace=ns))
    targets = sorted({str((r.params or {})["workload"]) for r in provisioned
                      if r.type == "service-port" and isinstance((r.params or {}).get("workload"), str)})
    if targets:
        rules.append(RelatedRule(crds.API_VERSION, svc_res, namespace=ns, names=tuple(targets)))
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
    provisioners = tuple(sorted(valid_related(req.related, Provisioner), key=lambda p: p.name))
    return ServiceContext(service=service, services=services, external_services=externals,
                          cluster=cfg.cluster, authorizer=authorizer, auditor=authorizer,
                          provisioners=provisioners,
                          invalid_provisioners=invalid_provisioners(req))


def invalid_provisioners(req: SyncRequest) -> tuple[tuple[str, str, str], ...]:
    out = []
    for raw in iter_objects(req.related, group_key(crds.API_VERSION, "Provisioner")):
        obj, errors = parse_object(raw, Provisioner)
        if obj is None or errors:
            spec = raw.get("spec")
            spec = spec if isinstance(spec, dict) else {}
            name = str((raw.get("metadata") or {}).get("name") or "")
            out.append((name, str(spec.get("type") or ""), "; ".join(errors)))
    return tuple(sorted(out))


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


def sync(req: SyncRequest, cfg: HookConfig) -> Answer[SyncResponse]:
    service, errors = parse_object(req.parent, LatticeService)
    if service is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    versions = inputs_version(req.parent, req.related)
    result = _compiled.get_or_make(None if versions is None else (versions, cfg.cluster),
                                   lambda: _compile(service, req, cfg))
    children = observed_unchanged(req.children) if result.keep_observed else result.children
    status: KubeObject = crds.dump(applied.until_applied(result.status, children, req, ServicePhase.PENDING,
                                                         on_delete=ON_DELETE))
    failure = _reason(status) if status.get("phase") == "Failed" else None
    events, audit = audit_notes(req, service, result)
    return Answer(SyncResponse(status=status, children=children,
                               resync_after_seconds=result.resync_after_seconds), failure, events, audit)


def audit_notes(req: SyncRequest, service: LatticeService,
                result: ServiceResult) -> tuple[tuple[EventNote, ...], tuple[AuditNote, ...]]:
    """What the Audit-mode CedarPolicies would change about this service's secrets: an Event on
    the policy and one on the service for each, and one metric sample each. Nothing is enforced."""
    if not result.audit:
        return (), ()
    refs = {r.name: r for raw in iter_objects(req.related, CEDAR_POLICY_GROUP) if (r := ObjectRef.of(raw))}
    me = ObjectRef.of(req.parent)
    who = f"{service.namespace}/{service.name}"
    events: list[EventNote] = []
    for a in result.audit:
        kind, verb, now = (NORMAL, "allowed", "denied") if a.would_allow else (WARNING, "denied", "allowed")
        reason = "AuditWouldAllow" if a.would_allow else "AuditWouldDeny"
        by = f" by {', '.join(a.statements)}" if a.statements else ""
        policy = refs.get(a.policy)
        if policy is not None:
            events.append(EventNote(policy, kind, reason, f"{who}: secret '{a.resource}' would be {verb}{by} "
                                                          f"were this policy enforced (it is {now})"))
        if me is not None:
            events.append(EventNote(me, kind, reason, f"CedarPolicy {a.policy} (Audit mode) would have "
                                                      f"{verb} secret '{a.resource}'{by} (it is {now})"))
    notes = tuple(AuditNote(a.policy, "AccessSecret", "allow" if a.would_allow else "deny") for a in result.audit)
    return tuple(events), notes


ON_DELETE = frozenset(r.kind.group_key for r in CHILDREN if r.update == "OnDelete")

CONTROLLER = Composite(
    name="latticeservice",
    parent=kinds.LATTICE_SERVICE,
    children=CHILDREN,
    sync=sync,
    customize=customize,
    related=(kinds.LATTICE_SERVICE, kinds.LATTICE_EXTERNAL_SERVICE, kinds.CEDAR_POLICY, kinds.PROVISIONER),
    failed_status=failed_status,
    resync_period_seconds=300,
    doc="Compiles a LatticeService into its workload, mesh policies and ExternalSecrets.",
    events=EventPolicy(
        failures=frozenset({REASON_VALIDATION, REASON_COMPILATION, REASON_DENIED, REASON_SECRET_CONFIG,
                            REASON_MISSING, "InternalError"}),
        first_success=REASON_COMPILED, mesh=True),
)
