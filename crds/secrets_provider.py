"""SecretsProvider: a connection to Vault, turned into an ESO ClusterSecretStore."""

from typing import ClassVar

import attrs

from crds import checks
from crds._base import Condition, CrdInfo, FieldError, ObjectMeta, Phase, PrinterColumn, StrEnum, field
from crds.convert import LatticeObject


class AuthMethod(StrEnum):
    TOKEN = "token"
    KUBERNETES = "kubernetes"
    APP_ROLE = "appRole"


@attrs.define(kw_only=True)
class CredentialsRef:
    """A Secret holding credentials: `token` (token auth) or `role_id`/`secret_id` (appRole)."""

    name: str = field(doc="Secret name.")
    namespace: str = field("lattice-system", doc="Secret namespace.")
    key: str | None = field(None, doc="Key of the token (token auth, default `token`) or of the JWT (kubernetes auth).")


@attrs.define(kw_only=True)
class SecretsProviderSpec:
    server: str = field(doc="Vault server URL.", check=checks.url)
    auth_method: AuthMethod = field(doc="`token`, `kubernetes` or `appRole`.")
    path: str = field("secret", doc="KV v2 mount path.")
    credentials_secret_ref: CredentialsRef | None = field(None, doc="Secret with auth credentials.")
    kubernetes_role: str = field("external-secrets", doc="Vault Kubernetes auth role.")
    kubernetes_mount_path: str = field("kubernetes", doc="Vault Kubernetes auth mount path.")
    approle_mount_path: str = field("approle", doc="Vault AppRole auth mount path.")
    namespace: str | None = field(None, doc="Vault namespace (enterprise).")
    ca_bundle: str | None = field(None, doc="CA certificate PEM for TLS verification.",
                                  check=checks.pem_certificate)

    def _validate(self) -> list[FieldError]:
        if self.credentials_secret_ref is None and self.auth_method is AuthMethod.TOKEN:
            return [FieldError("credentialsSecretRef", "required for authMethod 'token' (a Secret with key 'token')")]
        if self.credentials_secret_ref is None and self.auth_method is AuthMethod.APP_ROLE:
            return [FieldError("credentialsSecretRef",
                               "required for authMethod 'appRole' (a Secret with keys 'role_id' and 'secret_id')")]
        return []


@attrs.define(kw_only=True)
class SecretsProviderStatus:
    phase: Phase = field(Phase.PENDING, doc="Pending, Ready or Failed.")
    message: str | None = field(None, doc="Detail.")
    last_validated: str | None = field(None, doc="When the spec was last validated.")
    conditions: list[Condition] = field(factory=list, doc="Conditions (Ready).")
    observed_generation: int | None = field(None, doc="Generation last acted on.")


@attrs.define(kw_only=True)
class SecretsProvider(LatticeObject):
    """A secret store connection; Lattice creates the matching ESO ClusterSecretStore."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="SecretsProvider",
        plural="secretsproviders",
        singular="secretsprovider",
        short_names=("sp",),
        namespaced=True,
        columns=(
            PrinterColumn("Server", ".spec.server"),
            PrinterColumn("Auth", ".spec.authMethod"),
            PrinterColumn("Phase", ".status.phase"),
        ),
        doc="A secret store connection; Lattice creates the matching ESO ClusterSecretStore.",
    )

    spec: SecretsProviderSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("SecretsProvider")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: SecretsProviderStatus | None = field(None, doc="Observed state.")
