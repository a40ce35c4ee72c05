"""LatticeCluster: a self-managing cluster provisioned through Cluster API (cluster-scoped)."""

from typing import ClassVar

import attrs

from crds import checks
from crds._base import Condition, CrdInfo, FieldError, ObjectMeta, PrinterColumn, SecretRef, StrEnum, field
from crds.cluster_providers import ProviderConfig
from crds.convert import LatticeObject


class Bootstrap(StrEnum):
    KUBEADM = "kubeadm"
    RKE2 = "rke2"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


# Set by the parent operator's pivot driver on the parent's LatticeCluster (docs/cluster-lifecycle.md);
# the LatticeCluster hook reads it and acknowledges it in ``status.pivot.phase``.
PIVOT_PHASE_ANNOTATION = "lattice.dev/pivot-phase"


class PivotPhase(StrEnum):
    STARTED = "Started"  # the driver is moving the Cluster API objects: the hook echoes what it observes
    COMPLETE = "Complete"  # the objects live in the child: the hook emits none on this side


class ClusterPhase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    PIVOTING = "Pivoting"
    PIVOTED = "Pivoted"
    READY = "Ready"
    DELETING = "Deleting"
    UNPIVOTING = "Unpivoting"
    FAILED = "Failed"


@attrs.define(kw_only=True)
class KubernetesSpec:
    version: str = field(doc="Kubernetes version `MAJOR.MINOR.PATCH`, e.g. `1.32.0` (a leading `v` is accepted).",
                         check=checks.k8s_release)
    cert_sans: list[str] = field(factory=list, wire="certSANs", doc="Extra API server certificate SANs.")
    bootstrap: Bootstrap = field(Bootstrap.KUBEADM, doc="`kubeadm` or `rke2` (FIPS).")


@attrs.define(kw_only=True)
class ProviderSpec:
    kubernetes: KubernetesSpec = field(doc="Kubernetes distribution.")
    config: ProviderConfig = field(doc="Infrastructure provider settings (exactly one).")
    credentials_secret_ref: SecretRef | None = field(None, doc="Override the CloudProvider's credentials.")


@attrs.define(kw_only=True)
class Taint:
    key: str = field(doc="Taint key.", check=checks.label_key)
    value: str | None = field(None, doc="Taint value.", check=checks.label_value)
    effect: TaintEffect = field(doc="NoSchedule, PreferNoSchedule or NoExecute.")


@attrs.define(kw_only=True)
class WorkerPoolSpec:
    replicas: int | None = field(
        None, minimum=0,
        doc="Worker count; required unless `min` and `max` are set (then the autoscaler owns the count and a "
            "`replicas` given anyway is ignored with a warning).")
    display_name: str | None = field(None, doc="Human-readable name.")
    node_class: str | None = field(None, doc="Instance type (aws) or flavor (openstack) for this pool, instead of "
                                             "the provider's worker default.")
    labels: dict[str, str] = field(factory=dict, doc="Node labels.", check=checks.labels)
    taints: list[Taint] = field(factory=list, doc="Node taints.")
    min: int | None = field(None, doc="Autoscaler minimum (with max).", minimum=0)
    max: int | None = field(None, doc="Autoscaler maximum (with min).", minimum=1)

    @property
    def autoscaling(self) -> bool:
        return self.min is not None and self.max is not None

    def _validate(self) -> list[FieldError]:
        if (self.min is None) != (self.max is None):
            return [FieldError("min" if self.min is None else "max", "min and max must both be set or both unset")]
        if self.min is not None and self.max is not None:
            if self.min > self.max:
                return [FieldError("min", f"min ({self.min}) cannot exceed max ({self.max})")]
            if self.min < 1:
                return [FieldError("min", "scale-from-zero not supported (min must be >= 1)")]
        elif self.replicas is None:
            return [FieldError("replicas", "required unless the pool is autoscaled (min and max set)")]
        return []


@attrs.define(kw_only=True)
class NodesSpec:
    control_plane: int = field(doc="Control-plane nodes (1, 3, 5, ...).", minimum=1)
    worker_pools: dict[str, WorkerPoolSpec] = field(
        factory=dict, doc="Worker pools keyed by id.", check=checks.each_key(checks.pool_id)
    )

    def _validate(self) -> list[FieldError]:
        if self.control_plane > 1 and self.control_plane % 2 == 0:
            return [FieldError("controlPlane", f"must be odd for etcd quorum (got {self.control_plane})")]
        return []


@attrs.define(kw_only=True)
class IpPoolRef:
    cidr: str = field(doc="LoadBalancer IP pool.", check=checks.cidr)


@attrs.define(kw_only=True)
class NetworkingSpec:
    default: IpPoolRef | None = field(None, doc="Default Cilium LB-IPAM pool.")


@attrs.define(kw_only=True)
class CellService:
    type: str = field(doc="Service type exposing the cell, e.g. `LoadBalancer`.")


@attrs.define(kw_only=True)
class ParentConfig:
    """Present when this cluster can provision children (it runs a cell)."""

    service: CellService = field(doc="How the cell is exposed.")
    host: str | None = field(None, doc="Address children dial (default: the Service's address).")
    grpc_port: int = field(50051, doc="Agent gRPC port.", check=checks.port)
    bootstrap_port: int = field(8443, doc="Bootstrap webhook port.", check=checks.port)
    proxy_port: int = field(8081, doc="Read-only CAPI proxy port.", check=checks.port)
    auth_proxy_port: int = field(8082, doc="Authenticated API proxy port.", check=checks.port)


@attrs.define(kw_only=True)
class LatticeClusterSpec:
    provider_ref: str = field(doc="CloudProvider name in lattice-system.", check=checks.dns_subdomain)
    provider: ProviderSpec = field(doc="Kubernetes and infrastructure.")
    nodes: NodesSpec = field(doc="Control plane and worker pools.")
    networking: NetworkingSpec | None = field(None, doc="LoadBalancer address pools.")
    parent_config: ParentConfig | None = field(None, doc="Makes this cluster a parent.")
    services_enabled: bool = field(True, doc="Install the service mesh (Istio, Gateway API, mesh policies).")


@attrs.define(kw_only=True)
class WorkerPoolStatus:
    desired_replicas: int = field(0, doc="Desired workers.")
    current_replicas: int = field(0, doc="Existing workers.")
    ready_replicas: int = field(0, doc="Ready workers.")
    autoscaling_enabled: bool = field(False, doc="Managed by the autoscaler.")
    message: str | None = field(None, doc="Detail.")


@attrs.define(kw_only=True)
class PivotStatus:
    phase: PivotPhase | None = field(None, doc="The `lattice.dev/pivot-phase` annotation the hook last acted on.")
    message: str | None = field(None, doc="Detail.")


@attrs.define(kw_only=True)
class CredentialCopy:
    """A provider credentials Secret the cell copies for Cluster API (the hook never reads its values)."""

    source: SecretRef = field(doc="The Secret named by the CloudProvider or the LatticeCluster.")
    target: SecretRef = field(doc="Where the provider's controller reads it.")
    literals: dict[str, str] = field(factory=dict, doc="Non-secret keys added to the copy (e.g. Proxmox `url`).")
    purpose: str | None = field(None, doc="What reads the copy.")


@attrs.define(kw_only=True)
class LatticeClusterStatus:
    phase: ClusterPhase = field(ClusterPhase.PENDING, doc="Lifecycle phase.")
    message: str | None = field(None, doc="Detail.")
    conditions: list[Condition] = field(factory=list, doc="Conditions.")
    observed_generation: int | None = field(None, doc="Generation last acted on.")
    provider: str | None = field(None, doc="Provider type in use (aws, docker, ...).")
    ready_control_plane: int | None = field(None, doc="Ready control-plane nodes.")
    ready_workers: int | None = field(None, doc="Ready workers.")
    worker_pools: dict[str, WorkerPoolStatus] = field(factory=dict, doc="Per-pool state.")
    endpoint: str | None = field(None, doc="API server URL.")
    pivot_complete: bool = field(False, doc="CAPI objects live in the cluster itself.")
    bootstrap_complete: bool = field(False, doc="The agent was installed.")
    unpivot_import_complete: bool = field(False, doc="CAPI objects moved back to the parent for deletion.")
    pivot: PivotStatus | None = field(None, doc="The pivot handshake as the hook last acknowledged it.")
    bootstrap_secret: str | None = field(
        None, doc="Secret in `capi-<name>` the cell fills with the agent's one-time install token "
                  "(unset when no agent is installed).")
    credential_copies: list[CredentialCopy] = field(
        factory=list, doc="Provider credentials the cell copies for Cluster API.")


@attrs.define(kw_only=True)
class LatticeCluster(LatticeObject):
    """A self-managing cluster provisioned through Cluster API."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="LatticeCluster",
        plural="latticeclusters",
        singular="latticecluster",
        short_names=("lc",),
        namespaced=False,
        columns=(
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Provider", ".spec.providerRef"),
            PrinterColumn("K8s", ".spec.provider.kubernetes.version"),
            PrinterColumn("CP", ".spec.nodes.controlPlane", type="integer"),
        ),
        doc="A self-managing cluster provisioned through Cluster API.",
    )

    spec: LatticeClusterSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("LatticeCluster")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: LatticeClusterStatus | None = field(None, doc="Observed state.")
