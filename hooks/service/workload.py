"""The workload objects: ServiceAccount, Deployment, Service and HorizontalPodAutoscaler.

Each ``build_*`` is pure and returns one object (or None when the spec does not ask for it).
The Deployment is assembled from the rendered containers and the volume and file plans.
"""

from __future__ import annotations

from crds import KubeObject
from crds.service import DeploySpec, Strategy
from hooks import durations, names
from hooks.context import ServiceContext
from hooks.labels import NAME, base_labels, new_object
from hooks.service import containers
from hooks.service.expansion import WorkloadExpansion
from hooks.service.files import FilesPlan
from hooks.service.volumes import VolumePlan

HPA_CPU_UTILIZATION = 80
# Workload annotations reach the pod template (Score: e.g. dapr.io/*), except these: tools' own
# bookkeeping, Lattice's, and the Score implementations' directives.
NOT_FOR_PODS = ("kubectl.kubernetes.io/", "lattice.dev/", "metacontroller.k8s.io/", "k8s.score.dev/",
                "compose.score.dev/")
ZONE_PROVIDERS = ("aws", "openstack", "gcp", "azure")
DEFAULT_PROGRESS_DEADLINE = 600


def build_service_account(ctx: ServiceContext) -> KubeObject:
    obj = new_object("v1", "ServiceAccount", names.service_account_name(ctx.name), ctx.namespace)
    obj["automountServiceAccountToken"] = False
    return obj


def build_service(ctx: ServiceContext) -> KubeObject | None:
    """A ClusterIP Service enrolled in the namespace waypoint; None without ports."""
    svc = ctx.service.spec.service
    if svc is None or not svc.ports:
        return None
    obj = new_object("v1", "Service", ctx.name, ctx.namespace,
                     labels={names.USE_WAYPOINT_LABEL: names.waypoint_name(ctx.namespace)})
    ports = []
    for name in sorted(svc.ports):
        p = svc.ports[name]
        ports.append({"name": name, "port": p.port, "targetPort": p.target_port or p.port,
                      "protocol": str(p.protocol or "TCP")})
    obj["spec"] = {"type": "ClusterIP", "selector": {NAME: ctx.name}, "ports": ports}
    return obj


def build_hpa(ctx: ServiceContext) -> KubeObject | None:
    """Scales on CPU between replicas.min (at least 1) and replicas.max; None without a max."""
    r = ctx.service.spec.replicas
    if r.max is None:
        return None
    obj = new_object("autoscaling/v2", "HorizontalPodAutoscaler", ctx.name, ctx.namespace)
    obj["spec"] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.name},
        "minReplicas": max(1, r.min),
        "maxReplicas": r.max,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": HPA_CPU_UTILIZATION}}}],
    }
    return obj


def strategy(deploy: DeploySpec) -> tuple[KubeObject, KubeObject]:
    """The Deployment strategy and the extra Deployment spec fields it implies.

    rolling: 25% unavailable / 25% surge. canary: nothing unavailable; new pods are surged in
    steps of ``stepWeight`` percent (100% without it); each new pod must stay ready for
    ``interval`` before the rollout continues (minReadySeconds); a rollout that makes no progress
    for ``threshold`` + 1 intervals is reported failed (progressDeadlineSeconds).
    """
    if deploy.strategy is Strategy.ROLLING:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}, {}
    canary = deploy.canary
    step = canary.step_weight if canary and canary.step_weight else 100
    extra: KubeObject = {}
    if canary is not None and canary.interval:
        interval = durations.whole_seconds(canary.interval)
        extra["minReadySeconds"] = interval
        checks = (canary.threshold or 1) + 1
        extra["progressDeadlineSeconds"] = max(DEFAULT_PROGRESS_DEADLINE, interval * checks)
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": f"{step}%"}}, extra


def topology_key(provider: str) -> str:
    return "topology.kubernetes.io/zone" if provider in ZONE_PROVIDERS else "kubernetes.io/hostname"


def pod_annotations(ctx: ServiceContext) -> dict[str, str]:
    """The service's own annotations that belong on its pods (Score workload annotations)."""
    own = ctx.service.metadata.annotations
    return {k: own[k] for k in sorted(own) if not k.startswith(NOT_FOR_PODS)}


def build_deployment(
    ctx: ServiceContext, expansion: WorkloadExpansion, volumes: VolumePlan, files: FilesPlan
) -> KubeObject:
    spec = ctx.service.spec
    ports = containers.container_ports(spec.service)
    main: list[KubeObject] = []
    init: list[KubeObject] = []
    for rc in expansion.containers:
        mounts = volumes.mounts.get(rc.name, []) + files.mounts.get(rc.name, [])
        c = containers.container(rc, ports=[] if rc.is_sidecar else ports, mounts=mounts)
        (init if rc.is_init else main).append(c)
    pod: KubeObject = {
        "serviceAccountName": names.service_account_name(ctx.name),
        "automountServiceAccountToken": False,
        "containers": main,
    }
    if init:
        pod["initContainers"] = init
    pod_volumes = volumes.pod_volumes + files.pod_volumes
    if pod_volumes:
        pod["volumes"] = pod_volumes
    if volumes.affinity:
        pod["affinity"] = volumes.affinity
    security: KubeObject = {"seccompProfile": {"type": "RuntimeDefault"}}
    if spec.sysctls:
        security["sysctls"] = [{"name": k, "value": spec.sysctls[k]} for k in sorted(spec.sysctls)]
    pod["securityContext"] = security
    if spec.host_network is not None:
        pod["hostNetwork"] = spec.host_network
    if spec.share_process_namespace is not None:
        pod["shareProcessNamespace"] = spec.share_process_namespace
    pod["topologySpreadConstraints"] = [{
        "maxSkew": 1,
        "topologyKey": topology_key(ctx.cluster.provider),
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {NAME: ctx.name}},
    }]
    template_meta: KubeObject = {"labels": {**base_labels(ctx.name), **dict(sorted(volumes.pod_labels.items()))}}
    annotations = pod_annotations(ctx)
    if files.config_hash:
        annotations[names.CONFIG_HASH_ANNOTATION] = files.config_hash
    if annotations:
        template_meta["annotations"] = annotations
    rollout, extra = strategy(spec.deploy)
    body: KubeObject = {}
    if spec.replicas.max is None:  # with an HPA, the HPA owns the replica count
        body["replicas"] = spec.replicas.min
    body.update({
        "selector": {"matchLabels": {NAME: ctx.name}},
        "strategy": rollout,
        **extra,
        "template": {"metadata": template_meta, "spec": pod},
    })
    obj = new_object("apps/v1", "Deployment", ctx.name, ctx.namespace)
    obj["spec"] = body
    return obj
