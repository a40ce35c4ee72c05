"""Names and labels of the Cluster API objects of one LatticeCluster.

Everything lives in namespace ``capi-<cluster>``; the CAPI ``Cluster`` and the infrastructure
cluster are named like the LatticeCluster, the control plane ``<cluster>-control-plane`` and each
worker pool's MachineDeployment ``<cluster>-pool-<id>``. Machine and bootstrap *templates* carry a
short hash of their spec (``<cluster>-pool-<id>-<hash>``): providers refuse in-place template edits,
so a changed template is a new object and the new reference rolls the machines, which is how Cluster
API expects templates to change.

Secrets the shell writes next to them start with ``<cluster>-`` so that a move (pivot) treats them as
owned by the Cluster.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

NAMESPACE_PREFIX = "capi-"
LABEL_VALUE_MAX = 63
NAME_MAX = LABEL_VALUE_MAX - len("-control-plane")  # the control plane's name is a label value

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
LATTICE_CLUSTER_LABEL = "lattice.dev/cluster"
POOL_LABEL = "lattice.dev/pool"
ROLE_LABEL = "lattice.dev/role"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "lattice"

AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"

HASH_LEN = 8


def namespace(cluster: str) -> str:
    return NAMESPACE_PREFIX + cluster


def control_plane(cluster: str) -> str:
    return f"{cluster}-control-plane"


def pool(cluster: str, pool_id: str) -> str:
    return f"{cluster}-pool-{pool_id}"


def lb_config(cluster: str) -> str:
    return f"{cluster}-lb-config"


def bootstrap_secret(cluster: str) -> str:
    """The Secret the shell writes with the one-time agent token (key ``token``)."""
    return f"{cluster}-lattice-bootstrap"


def credentials_secret(cluster: str) -> str:
    """Where the shell copies the provider credentials for this cluster."""
    return f"{cluster}-provider-credentials"


def aws_identity(cluster: str) -> str:
    return f"lattice-{cluster}"


def spec_hash(spec: Any) -> str:
    """A short, stable digest of a template spec (key order does not matter)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


def templated(base: str, spec: Any) -> str:
    return f"{base}-{spec_hash(spec)}"


def labels(cluster: str, **extra: str) -> dict[str, str]:
    """The labels every object of one cluster carries."""
    return {CLUSTER_NAME_LABEL: cluster, LATTICE_CLUSTER_LABEL: cluster, MANAGED_BY: MANAGED_BY_VALUE, **extra}
