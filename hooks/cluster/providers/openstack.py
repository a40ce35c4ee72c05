"""OpenStack (CAPO): ``OpenStackCluster`` + ``OpenStackMachineTemplate``.

CAPO reads ``clouds.yaml`` from a Secret in the cluster's own namespace (``identityRef``), so the
shell copies the CloudProvider's Secret there as ``<cluster>-provider-credentials`` (the prefix
makes a move carry it along). CAPO manages a subnet for the nodes unless the CloudProvider names an
existing network, and a load balancer for the API server. Availability zones: the control plane's
through ``controlPlaneAvailabilityZones``, the workers' as the MachineDeployment's failure domain.
Nodes run the external OpenStack cloud controller; the kubelet's provider ID is the instance UUID.
"""

from __future__ import annotations

from crds import FieldError, SecretRef
from crds.cluster_providers import OpenStackConfig
from hooks.cluster import apis, names
from hooks.cluster.apis import Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import SecretCopy
from hooks.cluster.nodes import NodeSetup
from hooks.cluster.providers import Role

# The form CAPO's own templates use (cloud-init renders the instance id).
PROVIDER_ID = "openstack:///'{{ instance_id }}'"


def _cfg(ctx: Ctx) -> OpenStackConfig:
    cfg: OpenStackConfig = ctx.config
    return cfg


class OpenStack:
    cluster_kind = apis.OPENSTACK_CLUSTER
    template_kind = apis.OPENSTACK_MACHINE_TEMPLATE

    def check(self, ctx: Ctx) -> list[FieldError]:
        return []

    def _identity(self, ctx: Ctx) -> Obj:
        return {"cloudName": _cfg(ctx).cloud_name, "name": names.credentials_secret(ctx.name)}

    def infra_cluster_spec(self, ctx: Ctx) -> Obj:
        cfg = _cfg(ctx)
        account = ctx.provider.spec.openstack
        spec: Obj = {
            "identityRef": self._identity(ctx),
            "externalNetwork": {"filter": {"name": cfg.external_network}},
            "apiServerLoadBalancer": {"enabled": True},
        }
        if cfg.api_server_load_balancer_flavor:
            spec["apiServerLoadBalancer"]["flavor"] = cfg.api_server_load_balancer_flavor
        if account is not None and account.network_id:
            spec["network"] = {"id": account.network_id}
        else:
            spec["managedSubnets"] = [{"cidr": cfg.node_cidr, "dnsNameservers": list(cfg.dns_nameservers)}]
        if cfg.managed_security_groups:
            spec["managedSecurityGroups"] = {"allowAllInClusterTraffic": bool(cfg.allow_all_in_cluster_traffic)}
        if cfg.cp_availability_zone:
            spec["controlPlaneAvailabilityZones"] = [cfg.cp_availability_zone]
        return spec

    def infra_cluster_annotations(self, ctx: Ctx) -> dict[str, str]:
        return {}

    def template_spec(self, ctx: Ctx, role: Role) -> Obj:
        cfg = _cfg(ctx)
        if role.control_plane:
            flavor, size, vtype = cfg.cp_flavor, cfg.cp_root_volume_size_gb, cfg.cp_root_volume_type
        else:
            assert role.pool is not None
            flavor = role.pool.node_class or cfg.worker_flavor
            size, vtype = cfg.worker_root_volume_size_gb, cfg.worker_root_volume_type
        spec: Obj = {
            "flavor": flavor,
            "image": {"filter": {"name": cfg.image_name}},
            "sshKeyName": cfg.ssh_key_name,
        }
        if size is not None:
            spec["rootVolume"] = {"sizeGiB": size, **({"type": vtype} if vtype else {})}
        return spec

    def node(self, ctx: Ctx, role: Role) -> NodeSetup:
        return NodeSetup(kubelet_args=(("cloud-provider", "external"), ("provider-id", PROVIDER_ID)),
                         ssh_keys=tuple(_cfg(ctx).ssh_authorized_keys))

    def extra_objects(self, ctx: Ctx) -> list[Obj]:
        return []

    def credentials(self, ctx: Ctx) -> list[SecretCopy]:
        if ctx.credentials is None:
            return []
        target = SecretRef(name=names.credentials_secret(ctx.name), namespace=ctx.namespace)
        return [SecretCopy(source=ctx.credentials, target=target,
                           purpose="OpenStackCluster identityRef (clouds.yaml, read from the cluster's namespace)")]

    def failure_domain(self, ctx: Ctx, role: Role) -> str | None:
        return None if role.control_plane else _cfg(ctx).worker_availability_zone


PROVIDER = OpenStack()
