"""The cluster compiler: a LatticeCluster (with its CloudProvider) → the Cluster API objects that
provision it, and the CAPI objects observed → the LatticeCluster's status.

Pure functions only: no I/O, no clock, no randomness; imports ``crds``, attrs and the
standard library, never starlette, grpc, kr8s or httpx. The compiled objects carry no secret
values: credentials and the agent's one-time token are referenced by Secret name, and the shell
(the controller) copies the credentials (``ClusterPlan.secret_copies``) and writes the token's
Secret, built by :func:`bootstrap_secret`, directly (never as a hook child).

- :func:`compile_cluster` (``hooks.cluster.compile``): the object set in ``capi-<cluster>`` for the
  providers docker (Docker or Cluster API's in-memory backend), aws, openstack and proxmox, with a
  kubeadm or RKE2 control plane; bad or unsupported combinations are errors naming the field.
- :func:`cluster_status` (``hooks.cluster.status``): phase, conditions mirroring Cluster API's and
  per-pool counts from the observed Cluster, control plane and MachineDeployments.
"""

from hooks.cluster.agent import BootstrapData, bootstrap_secret
from hooks.cluster.compile import ClusterPlan, compile_cluster
from hooks.cluster.inputs import AgentBootstrap, ClusterInputs, ManagementSettings, SecretCopy, installs_agent
from hooks.cluster.status import ObservedCapi, PivotProgress, cluster_status

__all__ = [
    "AgentBootstrap",
    "BootstrapData",
    "ClusterInputs",
    "ClusterPlan",
    "ManagementSettings",
    "ObservedCapi",
    "PivotProgress",
    "SecretCopy",
    "bootstrap_secret",
    "cluster_status",
    "compile_cluster",
    "installs_agent",
]
