"""The Cluster API kinds the cluster compiler emits, at the API versions their CRDs serve.

One Cluster API minor for every manager and CRD: v1.13 (core, kubeadm bootstrap and control plane
v1.13.6; CAPD with the in-memory backend from ``sigs.k8s.io/cluster-api/test`` v1.13.7, the only
release where that backend builds). The providers' versions are the storage versions of their
CRDs at the releases ``testbed/crds.sh`` lists: CAPA v2.13.0, CAPO v0.13.0, CAPMOX v0.7.0,
CAPRKE2 v0.21.0.
"""

from __future__ import annotations

from typing import Any

import attrs

Obj = dict[str, Any]

CLUSTER_GROUP = "cluster.x-k8s.io"
INFRA_GROUP = "infrastructure.cluster.x-k8s.io"
BOOTSTRAP_GROUP = "bootstrap.cluster.x-k8s.io"
CONTROL_PLANE_GROUP = "controlplane.cluster.x-k8s.io"


@attrs.frozen
class Kind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def ref(self, name: str) -> Obj:
        """A Cluster API v1beta2 contract reference (apiGroup, kind, name)."""
        return {"apiGroup": self.group, "kind": self.kind, "name": name}

    def object_ref(self, name: str) -> Obj:
        """A v1beta1-style ObjectReference (apiVersion, kind, name), as CAPRKE2 v1beta1 takes."""
        return {"apiVersion": self.api_version, "kind": self.kind, "name": name}


NAMESPACE = Kind("", "v1", "Namespace")
CONFIG_MAP = Kind("", "v1", "ConfigMap")
SECRET = Kind("", "v1", "Secret")

CLUSTER = Kind(CLUSTER_GROUP, "v1beta2", "Cluster")
MACHINE_DEPLOYMENT = Kind(CLUSTER_GROUP, "v1beta2", "MachineDeployment")

KUBEADM_CONTROL_PLANE = Kind(CONTROL_PLANE_GROUP, "v1beta2", "KubeadmControlPlane")
KUBEADM_CONFIG_TEMPLATE = Kind(BOOTSTRAP_GROUP, "v1beta2", "KubeadmConfigTemplate")
RKE2_CONTROL_PLANE = Kind(CONTROL_PLANE_GROUP, "v1beta1", "RKE2ControlPlane")
RKE2_CONFIG_TEMPLATE = Kind(BOOTSTRAP_GROUP, "v1beta1", "RKE2ConfigTemplate")

# CAPD: DevCluster/DevMachineTemplate carry both backends (docker, inMemory); DockerCluster and
# DockerMachineTemplate are deprecated in v1.13 in favour of them.
DEV_CLUSTER = Kind(INFRA_GROUP, "v1beta2", "DevCluster")
DEV_MACHINE_TEMPLATE = Kind(INFRA_GROUP, "v1beta2", "DevMachineTemplate")
AWS_CLUSTER = Kind(INFRA_GROUP, "v1beta2", "AWSCluster")
AWS_MACHINE_TEMPLATE = Kind(INFRA_GROUP, "v1beta2", "AWSMachineTemplate")
AWS_STATIC_IDENTITY = Kind(INFRA_GROUP, "v1beta2", "AWSClusterStaticIdentity")
AWS_ROLE_IDENTITY = Kind(INFRA_GROUP, "v1beta2", "AWSClusterRoleIdentity")
OPENSTACK_CLUSTER = Kind(INFRA_GROUP, "v1beta1", "OpenStackCluster")
OPENSTACK_MACHINE_TEMPLATE = Kind(INFRA_GROUP, "v1beta1", "OpenStackMachineTemplate")
PROXMOX_CLUSTER = Kind(INFRA_GROUP, "v1alpha1", "ProxmoxCluster")
PROXMOX_MACHINE_TEMPLATE = Kind(INFRA_GROUP, "v1alpha1", "ProxmoxMachineTemplate")


def new_object(kind: Kind, name: str, namespace: str | None, labels: dict[str, str],
               annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(sorted(labels.items()))
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}
