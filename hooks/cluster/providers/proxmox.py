"""Proxmox (CAPMOX): ``ProxmoxCluster`` + ``ProxmoxMachineTemplate``, kube-vip for the API address.

Nodes take their addresses from the pool in ``ipv4Pool`` (CAPMOX turns it into an in-cluster IPAM
pool); the API server's virtual IP is ``controlPlaneEndpoint``, announced by kube-vip on the control
plane. VMs are cloned from a template: ``sourceNode`` + ``templateId`` (defaults from the
CloudProvider's ``proxmox.node``, and 9000), or ``templateTags``. CAPMOX reads its credentials
Secret (keys ``token``, ``secret``, and ``url``) from any namespace; the shell copies the
CloudProvider's Secret into ``capi-<cluster>`` and adds the CloudProvider's ``serverUrl`` as ``url``,
so the cluster's objects move together on pivot.
"""

from __future__ import annotations

from crds import FieldError, SecretRef
from crds.cluster_providers import ProxmoxConfig, parse_ipv4_range, parse_ipv6_range
from hooks.cluster import apis, kube_vip, names
from hooks.cluster.apis import Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import SecretCopy
from hooks.cluster.nodes import NodeSetup
from hooks.cluster.providers import CONFIG_PATH, Role

DEFAULT_TEMPLATE_ID = 9000
BOOT_DISK = "scsi0"
ROUTE_METRIC = 100
# The form CAPMOX's own templates use (cloud-init renders the instance id).
PROVIDER_ID = "proxmox://'{{ ds.meta_data.instance_id }}'"


def _cfg(ctx: Ctx) -> ProxmoxConfig:
    cfg: ProxmoxConfig = ctx.config
    return cfg


def _source_node(ctx: Ctx) -> str | None:
    cfg = _cfg(ctx)
    if cfg.template_tags:
        return None
    account = ctx.provider.spec.proxmox
    return cfg.source_node or (account.node if account else None)


def _minor(ctx: Ctx) -> int:
    return int(ctx.semver.split(".")[1])


class Proxmox:
    cluster_kind = apis.PROXMOX_CLUSTER
    template_kind = apis.PROXMOX_MACHINE_TEMPLATE

    def check(self, ctx: Ctx) -> list[FieldError]:
        cfg = _cfg(ctx)
        errors: list[FieldError] = []
        if not cfg.template_tags and _source_node(ctx) is None:
            errors.append(FieldError(f"{CONFIG_PATH}.proxmox.sourceNode",
                                     "required to clone by templateId (or set templateTags, or the CloudProvider's "
                                     "proxmox.node)"))
        for pool_id, pool in ctx.pools:
            if pool.node_class:
                errors.append(FieldError(f"spec.nodes.workerPools.{pool_id}.nodeClass",
                                         "not supported by provider proxmox (size pools with workerCores, "
                                         "workerMemoryMib and workerDiskSizeGb)"))
        return errors

    def infra_cluster_spec(self, ctx: Ctx) -> Obj:
        cfg = _cfg(ctx)
        spec: Obj = {
            "controlPlaneEndpoint": {"host": cfg.control_plane_endpoint, "port": kube_vip.API_PORT},
            "dnsServers": list(cfg.dns_servers),
            "credentialsRef": {"name": names.credentials_secret(ctx.name), "namespace": ctx.namespace},
        }
        v4 = parse_ipv4_range(cfg.ipv4_pool.range)
        assert v4 is not None  # checked by the model
        spec["ipv4Config"] = {"addresses": [f"{v4[0]}-{v4[1]}"], "prefix": v4[2], "gateway": cfg.ipv4_pool.gateway,
                              "metric": ROUTE_METRIC}
        if cfg.ipv6_pool is not None:
            v6 = parse_ipv6_range(cfg.ipv6_pool.range)
            assert v6 is not None
            spec["ipv6Config"] = {"addresses": [f"{v6[0]}-{v6[1]}"], "prefix": v6[2],
                                  "gateway": cfg.ipv6_pool.gateway, "metric": ROUTE_METRIC}
        if cfg.allowed_nodes:
            spec["allowedNodes"] = list(cfg.allowed_nodes)
        if cfg.memory_adjustment is not None:
            spec["schedulerHints"] = {"memoryAdjustment": cfg.memory_adjustment}
        return spec

    def infra_cluster_annotations(self, ctx: Ctx) -> dict[str, str]:
        return {}

    def template_spec(self, ctx: Ctx, role: Role) -> Obj:
        cfg = _cfg(ctx)
        account = ctx.provider.spec.proxmox
        if role.control_plane:
            sockets, cores, memory, disk = cfg.cp_sockets, cfg.cp_cores, cfg.cp_memory_mib, cfg.cp_disk_size_gb
        else:
            sockets, cores = cfg.worker_sockets, cfg.worker_cores
            memory, disk = cfg.worker_memory_mib, cfg.worker_disk_size_gb
        spec: Obj = {}
        if cfg.template_tags:
            spec["templateSelector"] = {"matchTags": list(cfg.template_tags)}
        else:
            spec["sourceNode"] = _source_node(ctx)
            spec["templateID"] = cfg.template_id if cfg.template_id is not None else DEFAULT_TEMPLATE_ID
        if cfg.snap_name:
            spec["snapName"] = cfg.snap_name
        if cfg.target_node:
            spec["target"] = cfg.target_node
        if account is not None and account.storage:
            spec["storage"] = account.storage
        if cfg.pool:
            spec["pool"] = cfg.pool
        if cfg.description:
            worker = "" if role.control_plane else f" (worker: {role.pool_id})"
            spec["description"] = cfg.description + worker
        if cfg.tags:
            spec["tags"] = list(cfg.tags)
        spec.update({
            "numSockets": sockets, "numCores": cores, "memoryMiB": memory,
            "disks": {"bootVolume": {"disk": BOOT_DISK, "sizeGb": disk}},
        })
        device: Obj = {"bridge": cfg.bridge, "model": cfg.network_model}
        if cfg.vlan is not None:
            device["vlan"] = cfg.vlan
        spec["network"] = {"default": device}
        if cfg.vmid_min is not None and cfg.vmid_max is not None:
            spec["vmIDRange"] = {"start": cfg.vmid_min, "end": cfg.vmid_max}
        checks: Obj = {}
        if cfg.skip_cloud_init_status is not None:
            checks["skipCloudInitStatus"] = cfg.skip_cloud_init_status
        if cfg.skip_qemu_guest_agent is not None:
            checks["skipQemuGuestAgent"] = cfg.skip_qemu_guest_agent
        if checks:
            spec["checks"] = checks
        return spec

    def node(self, ctx: Ctx, role: Role) -> NodeSetup:
        cfg = _cfg(ctx)
        setup = NodeSetup(kubelet_args=(("provider-id", PROVIDER_ID),), ssh_keys=tuple(cfg.ssh_authorized_keys))
        if role.control_plane:
            setup += kube_vip.node_setup(ctx.bootstrap, cfg.control_plane_endpoint, cfg.virtual_ip_network_interface,
                                         cfg.kube_vip_image, _minor(ctx))
        return setup

    def extra_objects(self, ctx: Ctx) -> list[Obj]:
        return []

    def credentials(self, ctx: Ctx) -> list[SecretCopy]:
        if ctx.credentials is None:
            return []
        account = ctx.provider.spec.proxmox
        literals = (("url", account.server_url),) if account is not None else ()
        target = SecretRef(name=names.credentials_secret(ctx.name), namespace=ctx.namespace)
        return [SecretCopy(source=ctx.credentials, target=target, literals=literals,
                           purpose="ProxmoxCluster credentialsRef (keys token, secret, url)")]

    def failure_domain(self, ctx: Ctx, role: Role) -> str | None:
        return None


PROVIDER = Proxmox()
