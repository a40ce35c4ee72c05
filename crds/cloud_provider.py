"""CloudProvider: an infrastructure account that LatticeClusters provision into.

Its credentials Secret is checked by the cell, which may read Secrets; the CloudProvider hook may
not (hooks never see secret values). The cell records what it saw — whether the Secret exists and
the names of its keys, never a value — in the annotation ``lattice.dev/credentials-observed``
(:class:`CredentialsObservation`), and the hook turns that into the CloudProvider's readiness.
"""

import json
from typing import Any, ClassVar

import attrs

from crds import checks
from crds._base import Condition, CrdInfo, FieldError, ObjectMeta, Phase, PrinterColumn, SecretRef, StrEnum, field
from crds.convert import LatticeObject


class ProviderType(StrEnum):
    AWS = "aws"
    PROXMOX = "proxmox"
    OPENSTACK = "openstack"
    DOCKER = "docker"


# The keys each provider's Cluster API controller reads from the credentials Secret.
REQUIRED_CREDENTIAL_KEYS: dict[ProviderType, tuple[str, ...]] = {
    ProviderType.AWS: ("AccessKeyID", "SecretAccessKey"),  # CAPA's AWSClusterStaticIdentity (+ SessionToken)
    ProviderType.OPENSTACK: ("clouds.yaml",),  # CAPO's identityRef
    ProviderType.PROXMOX: ("token", "secret"),  # CAPMOX's credentialsRef (the cell adds `url`)
    ProviderType.DOCKER: (),
}

CREDENTIALS_OBSERVED_ANNOTATION = "lattice.dev/credentials-observed"


@attrs.frozen
class CredentialsObservation:
    """What the cell saw of a credentials Secret: ``namespace/name``, whether it exists, its key names."""

    secret: str
    exists: bool
    keys: tuple[str, ...] = ()
    observed_at: str | None = None  # RFC 3339, when this observation was first made

    def to_annotation(self) -> str:
        body: dict[str, Any] = {"secret": self.secret, "exists": self.exists, "keys": sorted(self.keys)}
        if self.observed_at:
            body["observedAt"] = self.observed_at
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    def same_facts(self, other: "CredentialsObservation | None") -> bool:
        return other is not None and (self.secret, self.exists, sorted(self.keys)) == (
            other.secret, other.exists, sorted(other.keys))

    @classmethod
    def from_annotations(cls, annotations: dict[str, str]) -> "CredentialsObservation | None":
        """The observation in ``annotations``; None when absent or unreadable."""
        text = annotations.get(CREDENTIALS_OBSERVED_ANNOTATION)
        try:
            body = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("secret"), str):
            return None
        keys = body.get("keys")
        observed_at = body.get("observedAt")
        return cls(secret=body["secret"], exists=body.get("exists") is True,
                   keys=tuple(sorted(k for k in keys if isinstance(k, str))) if isinstance(keys, list) else (),
                   observed_at=observed_at if isinstance(observed_at, str) else None)


@attrs.define(kw_only=True)
class AwsAccount:
    vpc_id: str | None = field(None, doc="Existing VPC to use.")
    subnet_ids: list[str] = field(factory=list, doc="Existing subnets.")
    ssh_key_name: str | None = field(None, doc="EC2 key pair.")
    role_arn: str | None = field(None, doc="IAM role to assume.")


@attrs.define(kw_only=True)
class ProxmoxAccount:
    server_url: str = field(doc="Proxmox API URL.", check=checks.url)
    node: str | None = field(None, doc="Default node.")
    storage: str | None = field(None, doc="Default storage.")


@attrs.define(kw_only=True)
class OpenStackAccount:
    auth_url: str = field(doc="Keystone URL.", check=checks.url)
    network_id: str | None = field(None, doc="Network to use.")
    floating_ip_pool: str | None = field(None, doc="Floating IP pool.")


@attrs.define(kw_only=True)
class CloudProviderSpec:
    type: ProviderType = field(doc="`aws`, `proxmox`, `openstack` or `docker`.")
    region: str | None = field(None, doc="Default region.")
    credentials_secret_ref: SecretRef | None = field(None, doc="Secret with the provider credentials.")
    aws: AwsAccount | None = field(None, doc="AWS settings.")
    proxmox: ProxmoxAccount | None = field(None, doc="Proxmox settings.")
    openstack: OpenStackAccount | None = field(None, doc="OpenStack settings.")
    labels: dict[str, str] = field(factory=dict, doc="Labels copied to clusters of this provider.")

    def _validate(self) -> list[FieldError]:
        errs: list[FieldError] = []
        if self.type is not ProviderType.DOCKER and self.credentials_secret_ref is None:
            errs.append(FieldError("credentialsSecretRef", f"required for type '{self.type}'"))
        for other in ("aws", "proxmox", "openstack"):
            if getattr(self, other) is not None and other != self.type.value:
                errs.append(FieldError(other, f"does not match type '{self.type}'"))
        return errs


@attrs.define(kw_only=True)
class CloudProviderStatus:
    phase: Phase = field(Phase.PENDING, doc="Pending, Ready or Failed.")
    message: str | None = field(None, doc="Detail.")
    last_validated: str | None = field(None, doc="When the account was last validated.")
    cluster_count: int = field(0, doc="Clusters using this provider.")
    conditions: list[Condition] = field(factory=list, doc="Conditions (Ready).")
    observed_generation: int | None = field(None, doc="Generation last acted on.")


@attrs.define(kw_only=True)
class CloudProvider(LatticeObject):
    """An infrastructure account that LatticeClusters provision into."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="CloudProvider",
        plural="cloudproviders",
        singular="cloudprovider",
        short_names=("cloud",),
        namespaced=True,
        columns=(
            PrinterColumn("Type", ".spec.type"),
            PrinterColumn("Region", ".spec.region"),
            PrinterColumn("Phase", ".status.phase"),
        ),
        doc="An infrastructure account that LatticeClusters provision into.",
    )

    spec: CloudProviderSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("CloudProvider")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: CloudProviderStatus | None = field(None, doc="Observed state.")
