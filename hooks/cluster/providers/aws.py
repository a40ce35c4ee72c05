"""AWS (CAPA): ``AWSCluster`` + ``AWSMachineTemplate``, and the identity CAPA signs in with.

Credentials: CAPA reads static credentials only from its own namespace, through a cluster-scoped
``AWSClusterStaticIdentity`` that lists the namespaces allowed to use it. The compiler emits one
identity per cluster (``lattice-<cluster>``, allowed in ``capi-<cluster>`` only) and asks the shell
to copy the CloudProvider's Secret (keys ``AccessKeyID``, ``SecretAccessKey``, optional
``SessionToken``) into CAPA's namespace. With ``CloudProvider.spec.aws.roleArn`` a role identity
assumes that role from the static one. Nodes run the external AWS cloud controller (installed with
the agent), so kubelets start with ``cloud-provider=external`` and the EC2 private DNS name.
"""

from __future__ import annotations

from crds import FieldError, SecretRef
from crds.cluster_providers import AwsConfig
from hooks.cluster import apis, names
from hooks.cluster.apis import Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import SecretCopy
from hooks.cluster.nodes import NodeSetup
from hooks.cluster.providers import Role

# Cilium between nodes: VXLAN overlay, health checks, ICMP for the health probes.
CILIUM_RULES = (
    {"description": "Cilium VXLAN", "protocol": "udp", "fromPort": 8472, "toPort": 8472},
    {"description": "Cilium health", "protocol": "tcp", "fromPort": 4240, "toPort": 4240},
    {"description": "Cilium health ICMP", "protocol": "icmp", "fromPort": -1, "toPort": -1},
)
ROLE_SUFFIX = "-role"


def _cfg(ctx: Ctx) -> AwsConfig:
    cfg: AwsConfig = ctx.config
    return cfg


class Aws:
    cluster_kind = apis.AWS_CLUSTER
    template_kind = apis.AWS_MACHINE_TEMPLATE

    def check(self, ctx: Ctx) -> list[FieldError]:
        return []

    def _identity_ref(self, ctx: Ctx) -> Obj | None:
        if ctx.credentials is None:
            return None  # CAPA's controller identity
        account = ctx.provider.spec.aws
        if account is not None and account.role_arn:
            return {"kind": apis.AWS_ROLE_IDENTITY.kind, "name": names.aws_identity(ctx.name) + ROLE_SUFFIX}
        return {"kind": apis.AWS_STATIC_IDENTITY.kind, "name": names.aws_identity(ctx.name)}

    def infra_cluster_spec(self, ctx: Ctx) -> Obj:
        cfg = _cfg(ctx)
        account = ctx.provider.spec.aws
        vpc_id = cfg.vpc_id or (account.vpc_id if account else None)
        subnets = cfg.subnet_ids or (account.subnet_ids if account and not cfg.vpc_id else [])
        network: Obj = {}
        if vpc_id:
            network["vpc"] = {"id": vpc_id}
        if subnets:
            network["subnets"] = [{"id": s} for s in subnets]
        network["cni"] = {"cniIngressRules": [dict(r) for r in CILIUM_RULES]}
        spec: Obj = {
            "region": cfg.region,
            "sshKeyName": cfg.ssh_key_name,
            "network": network,
            "controlPlaneLoadBalancer": {
                "scheme": "internal" if cfg.internal_load_balancer else "internet-facing",
                "loadBalancerType": cfg.load_balancer_type.value,
                "healthCheckProtocol": "HTTPS",
            },
        }
        identity = self._identity_ref(ctx)
        if identity is not None:
            spec["identityRef"] = identity
        return spec

    def infra_cluster_annotations(self, ctx: Ctx) -> dict[str, str]:
        return {}

    def template_spec(self, ctx: Ctx, role: Role) -> Obj:
        cfg = _cfg(ctx)
        if role.control_plane:
            instance, profile = cfg.cp_instance_type, cfg.cp_iam_instance_profile
            size, vtype = cfg.cp_root_volume_size_gb, cfg.cp_root_volume_type
        else:
            assert role.pool is not None
            instance = role.pool.node_class or cfg.worker_instance_type
            profile = cfg.worker_iam_instance_profile
            size, vtype = cfg.worker_root_volume_size_gb, cfg.worker_root_volume_type
        spec: Obj = {
            "instanceType": instance,
            "iamInstanceProfile": profile,
            "sshKeyName": cfg.ssh_key_name,
            "rootVolume": {"size": size, "type": vtype},
        }
        if cfg.ami_id:
            spec["ami"] = {"id": cfg.ami_id}
        return spec

    def node(self, ctx: Ctx, role: Role) -> NodeSetup:
        return NodeSetup(kubelet_args=(("cloud-provider", "external"),),
                         node_name="{{ ds.meta_data.local_hostname }}",
                         ssh_keys=tuple(_cfg(ctx).ssh_authorized_keys))

    def extra_objects(self, ctx: Ctx) -> list[Obj]:
        if ctx.credentials is None:
            return []
        name = names.aws_identity(ctx.name)
        static = apis.new_object(apis.AWS_STATIC_IDENTITY, name, None, ctx.labels())
        static["spec"] = {"secretRef": names.credentials_secret(ctx.name),
                          "allowedNamespaces": {"list": [ctx.namespace]}}
        account = ctx.provider.spec.aws
        if account is None or not account.role_arn:
            return [static]
        role = apis.new_object(apis.AWS_ROLE_IDENTITY, name + ROLE_SUFFIX, None, ctx.labels())
        role["spec"] = {"roleARN": account.role_arn, "sessionName": f"lattice-{ctx.name}",
                        "sourceIdentityRef": {"kind": apis.AWS_STATIC_IDENTITY.kind, "name": name},
                        "allowedNamespaces": {"list": [ctx.namespace]}}
        return [static, role]

    def credentials(self, ctx: Ctx) -> list[SecretCopy]:
        if ctx.credentials is None:
            return []
        target = SecretRef(name=names.credentials_secret(ctx.name), namespace=ctx.settings.capa_namespace)
        return [SecretCopy(source=ctx.credentials, target=target,
                           purpose=f"AWSClusterStaticIdentity {names.aws_identity(ctx.name)} (CAPA reads it from "
                                   "its own namespace)")]

    def failure_domain(self, ctx: Ctx, role: Role) -> str | None:
        return None


PROVIDER = Aws()
