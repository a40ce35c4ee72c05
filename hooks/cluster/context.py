"""The resolved facts one compilation works from (after validation succeeded)."""

from __future__ import annotations

from typing import Any

import attrs

from crds import CloudProvider, LatticeCluster, SecretRef
from crds.cluster import Bootstrap, WorkerPoolSpec
from hooks.cluster import names
from hooks.cluster.inputs import AgentBootstrap, ManagementSettings


@attrs.frozen
class Ctx:
    cluster: LatticeCluster
    provider: CloudProvider
    agent: AgentBootstrap | None
    settings: ManagementSettings

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def namespace(self) -> str:
        return names.namespace(self.name)

    @property
    def bootstrap(self) -> Bootstrap:
        return self.cluster.spec.provider.kubernetes.bootstrap

    @property
    def rke2(self) -> bool:
        return self.bootstrap is Bootstrap.RKE2

    @property
    def provider_type(self) -> str:
        return self.cluster.spec.provider.config.provider_type

    @property
    def config(self) -> Any:
        """The one provider block of ``spec.provider.config``."""
        return getattr(self.cluster.spec.provider.config, self.provider_type)

    @property
    def semver(self) -> str:
        """``v1.32.0``."""
        v = self.cluster.spec.provider.kubernetes.version
        return v if v.startswith("v") else f"v{v}"

    @property
    def version(self) -> str:
        """The version the control plane and machines carry (RKE2 releases: ``v1.32.0+rke2r1``)."""
        return f"{self.semver}+rke2r1" if self.rke2 else self.semver

    @property
    def credentials(self) -> SecretRef | None:
        """The cluster's own credentials reference, else the CloudProvider's."""
        return self.cluster.spec.provider.credentials_secret_ref or self.provider.spec.credentials_secret_ref

    @property
    def pools(self) -> list[tuple[str, WorkerPoolSpec]]:
        return sorted(self.cluster.spec.nodes.worker_pools.items())

    def labels(self, **extra: str) -> dict[str, str]:
        return names.labels(self.name, **extra)
