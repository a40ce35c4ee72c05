"""LatticeCluster: the Cluster API objects of a cluster, its status, its deletion and the pivot.

* **customize** relates the CloudProvider the cluster names; the cell's agent Lease
  ``lattice-system/lattice-agent-<name>`` when the cluster gets an agent; and, on a cluster's own
  LatticeCluster (its name is this hook server's cluster), every LatticeCluster — the others are
  its children.
* **sync** compiles (``hooks.cluster.compile_cluster``) and returns the objects in ``capi-<name>``
  with the status (``hooks.cluster.cluster_status``). Bad specs are Failed and a missing or failed
  CloudProvider is Pending; either way the observed children are returned unchanged (running
  clusters are never torn down by a typo). Old machine and bootstrap templates stay while the
  observed control plane or a MachineDeployment still points at them.
* **the pivot** (docs/cluster-lifecycle.md): while ``lattice.dev/pivot-phase=Started`` (or any value
  it does not know) the children are the observed ones, echoed, never compiled anew, so
  Metacontroller creates, updates and deletes nothing; after ``Complete`` no Cluster API children
  on this side (kept, with a message, if live ones were not moved). ``status.pivot.phase``
  acknowledges the phase acted on.
* **finalize** (declared: Metacontroller holds a finalizer) deletes the CAPI ``Cluster`` only and
  echoes the rest until Cluster API has deleted what it owns, then everything else; a cluster's own
  LatticeCluster with children, or with Cluster API objects of its own, blocks with a message.
"""

from __future__ import annotations

import attrs

import crds
from crds import Condition, ConditionStatus, KubeObject, LatticeCluster
from crds.cluster import PIVOT_PHASE_ANNOTATION, ClusterPhase, LatticeClusterStatus, PivotPhase
from hooks import wire
from hooks.cluster import (
    AgentBootstrap,
    ClusterInputs,
    ClusterPlan,
    PivotProgress,
    cell_access,
    cluster_status,
    compile_cluster,
    installs_agent,
    names,
)
from hooks.cluster.status import DELETING_MESSAGE, credential_copies
from hooks.cluster.validate import PROVIDER_NAMESPACE
from hooks.controllers import cluster_observed as seen
from hooks.controllers import kinds
from hooks.controllers.definition import INTERNAL_ERROR, Answer, ChildRule, Composite, HookConfig, failed_status_for
from hooks.controllers.events import EventPolicy
from hooks.controllers.memo import LRU, version
from hooks.controllers.parsing import parse_object
from hooks.wire import CustomizeRequest, CustomizeResponse, RelatedRule, SyncRequest, SyncResponse

# While waiting on the agent's Lease (it may go stale without an event) or a blocked deletion.
RECHECK_SECONDS = 30.0
DELETE_RECHECK_SECONDS = 10.0

CHILDREN: tuple[ChildRule, ...] = (
    ChildRule(kinds.NAMESPACE, why="capi-<name> holds everything else"),
    ChildRule(kinds.CAPI_CLUSTER),
    ChildRule(kinds.MACHINE_DEPLOYMENT, why="scaling a static pool edits its replicas"),
    ChildRule(kinds.KUBEADM_CONTROL_PLANE, why="a spec change rolls the control plane, as Cluster API intends"),
    ChildRule(kinds.KUBEADM_CONFIG_TEMPLATE),
    ChildRule(kinds.RKE2_CONTROL_PLANE),
    ChildRule(kinds.RKE2_CONFIG_TEMPLATE),
    ChildRule(kinds.DEV_CLUSTER),
    ChildRule(kinds.DEV_MACHINE_TEMPLATE, why="templates are named by their spec's hash: new spec, new object"),
    ChildRule(kinds.AWS_CLUSTER),
    ChildRule(kinds.AWS_MACHINE_TEMPLATE),
    ChildRule(kinds.AWS_STATIC_IDENTITY),
    ChildRule(kinds.AWS_ROLE_IDENTITY),
    ChildRule(kinds.OPENSTACK_CLUSTER),
    ChildRule(kinds.OPENSTACK_MACHINE_TEMPLATE),
    ChildRule(kinds.PROXMOX_CLUSTER),
    ChildRule(kinds.PROXMOX_MACHINE_TEMPLATE),
    ChildRule(kinds.CONFIG_MAP, why="the RKE2-on-Docker load balancer template"),
    ChildRule(kinds.ROLE_BINDING,
              why="where the cell may write Secrets, ConfigMaps and Cluster API objects (hooks.cluster.cell_access)"),
)
# The child kinds served by CRDs (Metacontroller starts the controller once all of them are).
CRD_CHILDREN = tuple(r.kind for r in CHILDREN if r.kind not in (kinds.NAMESPACE, kinds.CONFIG_MAP, kinds.ROLE_BINDING))

failed_status = failed_status_for(LatticeClusterStatus, ClusterPhase.FAILED)
# Compile results by the cluster's spec (uid, generation) and its CloudProvider's version.
_compiled: LRU[ClusterPlan] = LRU(1024)


def is_self(cluster_name: str, cfg: HookConfig) -> bool:
    """The cluster's own LatticeCluster, in its own API server (after the pivot, or a root)."""
    return cluster_name == cfg.cluster.name


def related_rules(cluster: LatticeCluster, cfg: HookConfig) -> list[RelatedRule]:
    rules = [RelatedRule(crds.API_VERSION, kinds.CLOUD_PROVIDER.resource, namespace=PROVIDER_NAMESPACE,
                         names=(cluster.spec.provider_ref,)),
             # An unpivot imports capi-<name> itself: seeing it, the sync grants the cell its writes there.
             RelatedRule(kinds.NAMESPACE.api_version, kinds.NAMESPACE.resource,
                         names=(names.namespace(cluster.name),))]
    if is_self(cluster.name, cfg):
        rules.append(RelatedRule(crds.API_VERSION, kinds.LATTICE_CLUSTER.resource))
    elif installs_agent(cluster):
        rules.append(RelatedRule(kinds.LEASE.api_version, kinds.LEASE.resource, namespace=PROVIDER_NAMESPACE,
                                 names=(seen.lease_name(cluster.name),)))
    return rules


def customize(req: CustomizeRequest, cfg: HookConfig) -> CustomizeResponse:
    cluster, _errors = parse_object(req.parent, LatticeCluster)
    if cluster is None:
        return CustomizeResponse(())
    return CustomizeResponse(tuple(related_rules(cluster, cfg)))


_statuses: LRU[tuple[LatticeClusterStatus | None]] = LRU(1024)


def _previous(parent: KubeObject) -> LatticeClusterStatus | None:
    """The status last written (transition times, flags), parsed once per parent version."""
    raw = parent.get("status")
    if not isinstance(raw, dict) or not raw:
        return None

    def parse() -> tuple[LatticeClusterStatus | None]:
        status, errors = crds.parse_as(LatticeClusterStatus, raw)
        return (status if not errors else None,)

    return _statuses.get_or_make(version(parent), parse)[0]


def plan_for(cluster: LatticeCluster, req: SyncRequest) -> ClusterPlan:
    provider, raw_provider = seen.cloud_provider(req.related, cluster.spec.provider_ref)
    inputs = ClusterInputs(cluster, provider, AgentBootstrap() if installs_agent(cluster) else None)
    head = version(req.parent)
    key = None if head is None else (head[1], head[3], version(raw_provider) if raw_provider else None)
    return _compiled.get_or_make(key, lambda: compile_cluster(inputs))


@attrs.frozen
class _Sync:
    """One sync's inputs, read once."""

    req: SyncRequest
    cfg: HookConfig
    cluster: LatticeCluster
    now: float

    @property
    def own(self) -> bool:
        return is_self(self.cluster.name, self.cfg)

    def pivot(self, phase: PivotPhase | None) -> tuple[PivotProgress | None, float | None]:
        if self.own or not installs_agent(self.cluster):
            return None, None
        connected, left = seen.agent_connected(self.req.related, self.cluster.name, self.now)
        return PivotProgress(agent_connected=connected, phase=phase), left

    def status(self, plan: ClusterPlan, pivot: PivotProgress | None) -> LatticeClusterStatus:
        return cluster_status(self.cluster, plan, seen.observed_capi(self.req.children), pivot=pivot,
                              self_managed=self.own, previous=_previous(self.req.parent),
                              now=seen.rfc3339(self.now))

    def echo(self, *, drop: tuple[str, ...] = ()) -> list[KubeObject]:
        """Every observed child as it is (minus the groups in ``drop``): nothing to create, change
        or delete — except children a move marked ``delete-for-move``, which are left out. Their
        deletion is under way anyway (Metacontroller's has a UID precondition), and echoing them
        could re-create them: under server-side apply, an apply of an object that was deleted
        after Metacontroller read it creates it again."""
        kept = [wire.keep_as_is(o) for g in sorted(self.req.children) if g not in drop
                for o in wire.iter_objects(self.req.children, g) if not seen.moving_out(o)]
        return kept + self.missing_access()

    def missing_access(self) -> list[KubeObject]:
        """The cell's RoleBinding in ``capi-<name>`` when that namespace is there (a child, or
        imported by an unpivot) and the binding is not: the cell's Secret, ConfigMap and Cluster API
        writes there need it, also while everything else is held still."""
        ns = names.namespace(self.cluster.name)
        if seen.has_child(self.req.children, kinds.ROLE_BINDING, ns, cell_access.BINDING):
            return []
        if not seen.namespace_active(self.req.children, self.req.related, ns):
            return []
        return [cell_access.namespace_binding(self.cluster.name)]


def _held(status: LatticeClusterStatus, reason: str, message: str, now: str,
          phase: ClusterPhase | None = None) -> KubeObject:
    """``status`` with ``message`` in front and a Ready condition saying why nothing moves."""
    text = "; ".join(m for m in (message, status.message) if m)
    ready = Condition(type="Ready", status=ConditionStatus.FALSE, reason=reason, message=text,
                      last_transition_time=now, observed_generation=status.observed_generation)
    conditions = [c for c in status.conditions if c.type != "Ready"] + [ready]
    out: KubeObject = crds.dump(attrs.evolve(status, phase=phase or status.phase, message=text,
                                             conditions=conditions))
    return out


def _reason(status: LatticeClusterStatus) -> str | None:
    if status.phase is not ClusterPhase.FAILED:
        return None
    return next((c.reason for c in status.conditions if c.type == "Ready" and c.reason), "Failed")


def sync(req: SyncRequest, cfg: HookConfig) -> Answer[SyncResponse]:
    cluster, errors = parse_object(req.parent, LatticeCluster)
    if cluster is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    s = _Sync(req, cfg, cluster, cfg.clock())
    now = seen.rfc3339(s.now)
    annotation = seen.pivot_annotation(req.parent)
    pivot, lease_left = s.pivot(annotation.phase)
    plan = plan_for(cluster, req)
    status = s.status(plan, pivot)
    # A Lease can go stale without an event (a cell that died writes nothing): look again.
    resync = None
    if pivot is not None and status.phase is ClusterPhase.PIVOTING:
        resync = min(RECHECK_SECONDS, max(lease_left, 1.0)) if lease_left is not None else RECHECK_SECONDS

    if annotation.unknown is not None and not s.own:
        message = (f"unknown {PIVOT_PHASE_ANNOTATION}={annotation.unknown!r} (expected Started or Complete): "
                   "the Cluster API objects are left exactly as they are")
        return Answer(SyncResponse(status=_held(status, "UnknownPivotPhase", message, now), children=s.echo()))
    if pivot is not None and pivot.phase is PivotPhase.STARTED:
        return Answer(SyncResponse(status=crds.dump(status), children=s.echo(), resync_after_seconds=resync))
    if pivot is not None and pivot.phase is PivotPhase.COMPLETE:
        live = seen.live_objects(req.children)
        if live:
            message = (f"pivot marked Complete, but {len(live)} Cluster API objects are still in "
                       f"{names.namespace(cluster.name)} ({', '.join(live)}): kept until the pivot moves them")
            held = _held(attrs.evolve(status, message=None), "PivotIncomplete", message, now, ClusterPhase.PIVOTING)
            return Answer(SyncResponse(status=held, children=s.echo()))
        return Answer(SyncResponse(status=crds.dump(status), children=[]))

    if not plan.ok:  # Failed or Pending: whatever runs stays as it is
        return Answer(SyncResponse(status=crds.dump(status), children=s.echo()), _reason(status))
    children = [*plan.objects, *seen.kept_templates(req.children, plan.objects)]
    return Answer(SyncResponse(status=crds.dump(status), children=children, resync_after_seconds=resync),
                  _reason(status))


def _deleting(s: _Sync, plan: ClusterPlan | None, reason: str, message: str) -> KubeObject:
    base = LatticeClusterStatus(provider=s.cluster.spec.provider.config.provider_type,
                                observed_generation=s.cluster.metadata.generation)
    if plan is not None and plan.ok:  # the provider still needs its credentials to delete
        base = attrs.evolve(base, credential_copies=credential_copies(plan))
    previous = _previous(s.req.parent)
    if previous is not None:
        base = attrs.evolve(base, bootstrap_complete=previous.bootstrap_complete,
                            unpivot_import_complete=previous.unpivot_import_complete,
                            pivot_complete=previous.pivot_complete)
    return _held(attrs.evolve(base, phase=ClusterPhase.DELETING, message=None), reason, message,
                 seen.rfc3339(s.now), ClusterPhase.DELETING)


def _blocked_by_children(children: list[str]) -> str:
    n = len(children)
    return (f"deletion blocked: {n} child cluster{'s' if n != 1 else ''} "
            f"{'exist' if n != 1 else 'exists'}: {', '.join(children)}; delete "
            f"{'them' if n != 1 else 'it'} first")


def finalize(req: SyncRequest, cfg: HookConfig) -> Answer[SyncResponse]:
    raw_name = str((req.parent.get("metadata") or {}).get("name") or "")
    cluster = seen.valid_cluster(req.parent)
    observed_any = any(True for _ in wire.iter_objects(req.children))
    if cluster is None:  # cannot read the spec: delete what was made, as in the normal case
        return _finalize_unreadable(req, raw_name, observed_any)
    s = _Sync(req, cfg, cluster, cfg.clock())
    plan = plan_for(cluster, req)
    hold = SyncResponse(status=None, children=s.echo(), finalized=False, resync_after_seconds=DELETE_RECHECK_SECONDS)

    if s.own:
        children = seen.other_clusters(req.related, cluster.name)
        live = seen.live_objects(req.children)
        if children:
            blocked = _deleting(s, plan, "ChildrenExist", _blocked_by_children(children))
            return Answer(attrs.evolve(hold, status=blocked))
        if live:
            message = ("deletion blocked: this is the cluster's own LatticeCluster and it holds the cluster's own "
                       f"Cluster API objects ({', '.join(live)}); move them out first (unpivot into the parent, "
                       "or lattice uninstall)")
            return Answer(attrs.evolve(hold, status=_deleting(s, plan, "SelfManaged", message)))
        return Answer(SyncResponse(status=_deleting(s, plan, "Deleting", "deleted"), children=[],
                                   finalized=not observed_any))

    annotation = seen.pivot_annotation(req.parent)
    if annotation.unknown is not None or annotation.phase is PivotPhase.STARTED:
        message = "deletion waits for the pivot to finish (lattice.dev/pivot-phase is not Complete)"
        return Answer(attrs.evolve(hold, status=_deleting(s, plan, "PivotInProgress", message)))
    capi_cluster = kinds.CAPI_CLUSTER.group_key
    if any(True for _ in wire.iter_objects(req.children, capi_cluster)):
        message = DELETING_MESSAGE.format(namespace=names.namespace(cluster.name), name=cluster.name)
        return Answer(SyncResponse(status=_deleting(s, plan, "Deleting", message),
                                   children=s.echo(drop=(capi_cluster,)), finalized=False,
                                   resync_after_seconds=DELETE_RECHECK_SECONDS))
    message = "deleting what is left in " + names.namespace(cluster.name) if observed_any else "deleted"
    return Answer(SyncResponse(status=_deleting(s, plan, "Deleting", message), children=[],
                               finalized=not observed_any))


def _finalize_unreadable(req: SyncRequest, name: str, observed_any: bool) -> Answer[SyncResponse]:
    capi_cluster = kinds.CAPI_CLUSTER.group_key
    status = failed_status(["the spec cannot be read; deleting what was made for it"], wire.generation(req.parent),
                           "Deleting")
    status["phase"] = ClusterPhase.DELETING.value
    if any(True for _ in wire.iter_objects(req.children, capi_cluster)):
        children = wire.observed_unchanged({g: o for g, o in req.children.items() if g != capi_cluster})
        return Answer(SyncResponse(status=status, children=children, finalized=False,
                                   resync_after_seconds=DELETE_RECHECK_SECONDS))
    return Answer(SyncResponse(status=status, children=[], finalized=not observed_any))


CONTROLLER = Composite(
    name="latticecluster",
    parent=kinds.LATTICE_CLUSTER,
    children=CHILDREN,
    sync=sync,
    customize=customize,
    related=(kinds.CLOUD_PROVIDER, kinds.LEASE, kinds.LATTICE_CLUSTER, kinds.NAMESPACE),
    finalize=finalize,
    declare_finalize=True,
    failed_status=failed_status,
    resync_period_seconds=300,
    doc="Compiles a LatticeCluster into its Cluster API objects, mirrors their status, deletes them "
        "with it, and holds still while the pivot moves them.",
    events=EventPolicy(failures=frozenset({"ValidationFailed", "ClusterFailed", "UnknownPivotPhase",
                                           "PivotIncomplete", INTERNAL_ERROR}), first_success="Ready"),
)
