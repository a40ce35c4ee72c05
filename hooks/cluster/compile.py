"""LatticeCluster + CloudProvider → the Cluster API objects in namespace ``capi-<cluster>``.

``compile_cluster`` is pure and deterministic (no clock, no I/O, no randomness; the same inputs
give the same objects in the same order). Outcomes:

- ``errors``: the spec cannot be provisioned as written (every problem, each naming its field);
  no objects.
- ``waiting``: something outside the spec is missing (the CloudProvider, or it is not Ready); no
  objects, nothing the user did wrong.
- otherwise ``objects``: Namespace, Cluster, infrastructure cluster, provider extras (identities,
  load-balancer config), control plane and its machine template, and per worker pool a machine
  template, a bootstrap config template and a MachineDeployment; the RoleBindings that let the cell
  write Secrets, ConfigMaps and Cluster API objects in ``capi-<cluster>`` and Secrets where
  credentials copies go (``cell_access``). Plus what the shell must do first:
  ``secret_copies`` (provider credentials) and, when the agent is installed, the name of the
  bootstrap Secret it must write (:func:`hooks.cluster.agent.bootstrap_secret`).

Worker replicas: a static pool's MachineDeployment carries ``replicas`` (scaling the pool edits it);
an autoscaled pool's carries the autoscaler's min/max annotations and no ``replicas`` at all, so
re-applying the objects never fights the autoscaler (Cluster API starts it at the minimum).
"""

from __future__ import annotations

import attrs

from crds import FieldError
from crds.cluster import WorkerPoolSpec
from hooks.cluster import agent, apis, cell_access, kubeadm, names, rke2
from hooks.cluster.apis import Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import ClusterInputs, SecretCopy
from hooks.cluster.nodes import NodeSetup
from hooks.cluster.providers import CONTROL_PLANE, Provider, Role, get
from hooks.cluster.validate import capi_synced, check


@attrs.frozen
class ClusterPlan:
    objects: list[Obj] = attrs.field(factory=list)
    errors: list[FieldError] = attrs.field(factory=list)
    waiting: str | None = None
    warnings: list[str] = attrs.field(factory=list)
    secret_copies: list[SecretCopy] = attrs.field(factory=list)
    bootstrap_secret: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.waiting is None


def autoscaler_warning(pool_id: str, pool: WorkerPoolSpec) -> str | None:
    if pool.autoscaling and pool.replicas is not None:
        return (f"worker pool '{pool_id}': replicas ({pool.replicas}) ignored, the autoscaler manages it "
                f"within [{pool.min}, {pool.max}]")
    return None


def compile_cluster(inputs: ClusterInputs) -> ClusterPlan:
    verdict = check(inputs)
    if verdict.errors or verdict.waiting is not None:
        return ClusterPlan(errors=verdict.errors, waiting=verdict.waiting)
    assert inputs.provider is not None
    ctx = Ctx(inputs.cluster, inputs.provider, inputs.agent, inputs.settings)
    provider = get(ctx.provider_type)

    copies = provider.credentials(ctx)
    objects: list[Obj] = [_namespace(ctx), *cell_access.bindings(ctx.name, [c.target.namespace for c in copies]),
                          _cluster(ctx, provider)]
    infra = apis.new_object(provider.cluster_kind, ctx.name, ctx.namespace, ctx.labels(),
                            provider.infra_cluster_annotations(ctx))
    infra["spec"] = provider.infra_cluster_spec(ctx)
    objects.append(infra)
    objects += provider.extra_objects(ctx)
    objects += _control_plane(ctx, provider)
    warnings: list[str] = []
    for pool_id, pool in ctx.pools:
        objects += _pool(ctx, provider, pool_id, pool)
        warning = autoscaler_warning(pool_id, pool)
        if warning:
            warnings.append(warning)
    return ClusterPlan(
        objects=objects,
        warnings=warnings,
        secret_copies=copies,
        bootstrap_secret=inputs.agent.secret_for(ctx.name) if inputs.agent is not None else None,
    )


def _namespace(ctx: Ctx) -> Obj:
    return apis.new_object(apis.NAMESPACE, ctx.namespace, None, ctx.labels())


def _cluster(ctx: Ctx, provider: Provider) -> Obj:
    # The CloudProvider's labels (e.g. for autoscaler or policy selection) first; ours win.
    obj = apis.new_object(apis.CLUSTER, ctx.name, ctx.namespace, {**ctx.provider.spec.labels, **ctx.labels()})
    control_plane_kind = rke2.CONTROL_PLANE if ctx.rke2 else kubeadm.CONTROL_PLANE
    obj["spec"] = {
        "clusterNetwork": {
            "pods": {"cidrBlocks": [ctx.settings.pods_cidr]},
            "services": {"cidrBlocks": [ctx.settings.services_cidr]},
        },
        "controlPlaneRef": control_plane_kind.ref(names.control_plane(ctx.name)),
        "infrastructureRef": provider.cluster_kind.ref(ctx.name),
    }
    return obj


def _machine_template(ctx: Ctx, provider: Provider, base: str, role: Role, labels: dict[str, str]) -> Obj:
    inner = provider.template_spec(ctx, role)
    obj = apis.new_object(provider.template_kind, names.templated(base, inner), ctx.namespace, labels)
    obj["spec"] = {"template": {"spec": inner}}
    return obj


def _control_plane(ctx: Ctx, provider: Provider) -> list[Obj]:
    name = names.control_plane(ctx.name)
    labels = ctx.labels(**{names.ROLE_LABEL: "control-plane"})
    template = _machine_template(ctx, provider, name, CONTROL_PLANE, labels)
    sans = tuple(ctx.cluster.spec.provider.kubernetes.cert_sans)
    setup = provider.node(ctx, CONTROL_PLANE) + NodeSetup(cert_sans=sans)
    if ctx.agent is not None:
        setup += agent.node_setup(ctx.name, ctx.bootstrap, ctx.agent.secret_for(ctx.name))
    replicas = ctx.cluster.spec.nodes.control_plane
    template_name = template["metadata"]["name"]
    if ctx.rke2:
        kind = rke2.CONTROL_PLANE
        spec = rke2.control_plane_spec(replicas, ctx.version, provider.template_kind.object_ref(template_name), setup)
    else:
        kind = kubeadm.CONTROL_PLANE
        spec = kubeadm.control_plane_spec(replicas, ctx.version, provider.template_kind.ref(template_name), setup)
    obj = apis.new_object(kind, name, ctx.namespace, labels)
    obj["spec"] = spec
    return [obj, template]


def _pool(ctx: Ctx, provider: Provider, pool_id: str, pool: WorkerPoolSpec) -> list[Obj]:
    name = names.pool(ctx.name, pool_id)
    role = Role(pool_id, pool)
    labels = ctx.labels(**{names.ROLE_LABEL: "worker", names.POOL_LABEL: pool_id})
    template = _machine_template(ctx, provider, name, role, labels)

    node_labels = {names.POOL_LABEL: pool_id, **{k: v for k, v in pool.labels.items() if not capi_synced(k)}}
    machine_labels = {k: v for k, v in pool.labels.items() if capi_synced(k)}
    setup = provider.node(ctx, role) + NodeSetup(node_labels=tuple(sorted(node_labels.items())),
                                                 taints=tuple(pool.taints))
    config_kind = rke2.CONFIG_TEMPLATE if ctx.rke2 else kubeadm.CONFIG_TEMPLATE
    config_spec = rke2.config_template_spec(setup) if ctx.rke2 else kubeadm.config_template_spec(setup)
    config = apis.new_object(config_kind, names.templated(name, config_spec), ctx.namespace, labels)
    config["spec"] = config_spec

    annotations: dict[str, str] = {}
    if pool.autoscaling:
        annotations = {names.AUTOSCALER_MIN: str(pool.min), names.AUTOSCALER_MAX: str(pool.max)}
    md = apis.new_object(apis.MACHINE_DEPLOYMENT, name, ctx.namespace, labels, annotations)
    selector = {names.CLUSTER_NAME_LABEL: ctx.name, names.DEPLOYMENT_NAME_LABEL: name}
    machine: Obj = {
        "clusterName": ctx.name,
        "version": ctx.version,
        "bootstrap": {"configRef": config_kind.ref(config["metadata"]["name"])},
        "infrastructureRef": provider.template_kind.ref(template["metadata"]["name"]),
    }
    failure_domain = provider.failure_domain(ctx, role)
    if failure_domain:
        machine["failureDomain"] = failure_domain
    spec: Obj = {"clusterName": ctx.name}
    if not pool.autoscaling:
        spec["replicas"] = pool.replicas
    spec["selector"] = {"matchLabels": selector}
    spec["template"] = {
        "metadata": {"labels": dict(sorted({**machine_labels, **selector, names.POOL_LABEL: pool_id}.items()))},
        "spec": machine,
    }
    md["spec"] = spec
    return [template, config, md]
