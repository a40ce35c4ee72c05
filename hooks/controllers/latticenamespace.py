"""The single owner of per-namespace mesh objects: a DecoratorController on Namespaces.

Every LatticeService of a namespace shares one waypoint Gateway and one ``allow-to-waypoint``
AuthorizationPolicy. Were each service to emit them, Metacontroller would see several parents
claiming one object (only one can own it; the others fight over it, and deleting that one service
would delete the waypoint of all). Instead the Namespace itself owns them, as attachments:

* customize asks for the LatticeServices of that namespace (a cluster-scoped target may read a
  namespace by name);
* sync emits the attachments and the namespace labels (ambient data plane, use-waypoint) from
  ``hooks.mesh.namespace.compile_namespace`` while the namespace has at least one
  LatticeService, and nothing once the last one is gone: Metacontroller deletes the attachments,
  and the labels are removed if they still hold the values Lattice set;
* system namespaces are not decorated at all (label selector on the target).
"""

from __future__ import annotations

from crds import KubeObject
from hooks import wire
from hooks.controllers import kinds
from hooks.controllers.definition import Answer, ChildRule, Decorator, HookConfig, Target
from hooks.mesh.namespace import compile_namespace
from hooks.wire import CustomizeRequest, CustomizeResponse, DecoratorSyncRequest, DecoratorSyncResponse, RelatedRule

SYSTEM_NAMESPACES = (
    "kube-system", "kube-public", "kube-node-lease", "istio-system", "lattice-system", "cert-manager",
    "external-secrets", "metacontroller",
)
TARGET = Target(
    kinds.NAMESPACE,
    label_selector={"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(SYSTEM_NAMESPACES)},
    ]},
)
ATTACHMENTS = (
    ChildRule(kinds.GATEWAY, why="the waypoint"),
    ChildRule(kinds.AUTHORIZATION_POLICY, why="allow-to-waypoint"),
)


def _name(obj: KubeObject) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def customize(req: CustomizeRequest, _cfg: HookConfig) -> CustomizeResponse:
    return CustomizeResponse((RelatedRule("lattice.dev/v1alpha1", kinds.LATTICE_SERVICE.resource,
                                          namespace=_name(req.parent)),))


def sync(req: DecoratorSyncRequest, cfg: HookConfig) -> Answer[DecoratorSyncResponse]:
    namespace = _name(req.object)
    meta = req.object.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Answer(DecoratorSyncResponse(attachments=[]))  # nothing new in a terminating namespace
    services = [s for s in wire.iter_objects(req.related, kinds.LATTICE_SERVICE.group_key)
                if (s.get("metadata") or {}).get("namespace") == namespace]
    result = compile_namespace(namespace, cfg.cluster)
    if services:
        return Answer(DecoratorSyncResponse(attachments=list(result.children), labels=dict(result.labels)))
    observed = meta.get("labels") or {}
    stale: dict[str, str | None] = {k: None for k, v in result.labels.items() if observed.get(k) == v}
    return Answer(DecoratorSyncResponse(attachments=[], labels=stale))


CONTROLLER = Decorator(
    name="latticenamespace",
    targets=(TARGET,),
    attachments=ATTACHMENTS,
    sync=sync,
    customize=customize,
    related=(kinds.LATTICE_SERVICE,),
    resync_period_seconds=600,
    doc="Owns each namespace's waypoint Gateway and allow-to-waypoint policy, and its mesh labels.",
)
