"""What the cluster compiler takes, and the pieces of its answer that the shell acts on.

``ClusterInputs`` is everything one compilation reads: the LatticeCluster, the CloudProvider it
names (None when it does not exist), whether the new cluster installs a Lattice agent on first
boot, and a few settings of the management cluster. Nothing here is a secret value: the token and
the provider credentials are referenced by Secret name, and ``SecretCopy`` tells the shell which
credentials to copy where.
"""

from __future__ import annotations

import attrs

from crds import CloudProvider, LatticeCluster, SecretRef
from crds.cluster_providers import DockerBackend
from hooks.cluster import names


@attrs.frozen
class AgentBootstrap:
    """Install the Lattice agent on the first control-plane node.

    The node reads the parent cell's bootstrap URL, CA bundle and one-time token from the Secret
    ``secret_name`` in ``capi-<cluster>`` (keys ``url``, ``ca.crt``, ``token``), which the shell
    writes with :func:`hooks.cluster.agent.bootstrap_secret` before the control plane boots. The
    objects only name that Secret, so the token never appears in them, and a new token or CA bundle
    does not change the control plane's spec (which would roll every control-plane machine).
    """

    secret_name: str | None = None  # default: names.bootstrap_secret(cluster)

    def secret_for(self, cluster: str) -> str:
        return self.secret_name or names.bootstrap_secret(cluster)


def installs_agent(cluster: LatticeCluster) -> bool:
    """Whether the new cluster's control plane installs the Lattice agent (and so is pivoted).

    Everywhere except Cluster API's in-memory backend, whose machines run nothing: a cluster there
    stays managed by its parent and is Ready once provisioned. Depends on the spec only, so the
    cluster's own hook (after the pivot) compiles the same control plane as its parent did.
    """
    docker = cluster.spec.provider.config.docker
    return not (docker is not None and docker.backend is DockerBackend.IN_MEMORY)


@attrs.frozen
class ManagementSettings:
    """Facts about the management cluster the objects are created in."""

    capa_namespace: str = "capa-system"  # where CAPA reads AWSClusterStaticIdentity Secrets
    pods_cidr: str = "192.168.0.0/16"
    services_cidr: str = "10.128.0.0/12"


@attrs.frozen
class ClusterInputs:
    """One compilation: ``cluster`` must have parsed without errors (``crds.parse``)."""

    cluster: LatticeCluster
    provider: CloudProvider | None
    agent: AgentBootstrap | None = None
    settings: ManagementSettings = ManagementSettings()


@attrs.frozen
class SecretCopy:
    """A Secret the shell must copy before the objects can work (the compiler never reads values).

    ``literals`` are non-secret keys to add to the copy (e.g. the Proxmox API URL CAPMOX expects
    in the same Secret as the token).
    """

    source: SecretRef
    target: SecretRef
    literals: tuple[tuple[str, str], ...] = ()
    purpose: str = ""
