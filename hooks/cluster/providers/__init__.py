"""Infrastructure providers: what differs between docker, aws, openstack and proxmox.

Each provider module exposes one ``PROVIDER`` implementing :class:`Provider`: its infrastructure
cluster, its machine templates (control plane and per worker pool), what its machines need on
first boot (kubelet flags, files, SANs), extra objects, the credentials the shell must copy, and
the checks that need the CloudProvider as well as the LatticeCluster.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from crds import FieldError
from crds.cluster import WorkerPoolSpec
from hooks.cluster.apis import Kind, Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import SecretCopy
from hooks.cluster.nodes import NodeSetup


@attrs.frozen
class Role:
    """The control plane (``pool_id`` None) or one worker pool."""

    pool_id: str | None = None
    pool: WorkerPoolSpec | None = None

    @property
    def control_plane(self) -> bool:
        return self.pool_id is None


CONTROL_PLANE = Role()


class Provider(Protocol):
    cluster_kind: Kind
    template_kind: Kind

    def check(self, ctx: Ctx) -> list[FieldError]: ...

    def infra_cluster_spec(self, ctx: Ctx) -> Obj: ...

    def infra_cluster_annotations(self, ctx: Ctx) -> dict[str, str]: ...

    def template_spec(self, ctx: Ctx, role: Role) -> Obj: ...

    def node(self, ctx: Ctx, role: Role) -> NodeSetup: ...

    def extra_objects(self, ctx: Ctx) -> list[Obj]: ...

    def credentials(self, ctx: Ctx) -> list[SecretCopy]: ...

    def failure_domain(self, ctx: Ctx, role: Role) -> str | None: ...


def get(provider_type: str) -> Provider:
    from hooks.cluster.providers import aws, docker, openstack, proxmox

    table: dict[str, Provider] = {
        "aws": aws.PROVIDER, "docker": docker.PROVIDER, "openstack": openstack.PROVIDER, "proxmox": proxmox.PROVIDER,
    }
    return table[provider_type]


CONFIG_PATH = "spec.provider.config"
