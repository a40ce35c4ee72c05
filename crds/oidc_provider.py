"""OIDCProvider: an OpenID Connect issuer whose tokens the API proxy accepts."""

from typing import ClassVar

import attrs

from crds import checks
from crds._base import CrdInfo, ObjectMeta, Phase, PrinterColumn, field
from crds.convert import LatticeObject


@attrs.define(kw_only=True)
class SecretKeyRef:
    name: str = field(doc="Secret name.")
    namespace: str = field("lattice-system", doc="Secret namespace.")
    key: str = field("client-secret", doc="Key in the Secret.")


@attrs.define(kw_only=True)
class RequiredClaim:
    name: str = field(doc="Claim name.")
    value: str | None = field(None, doc="Required value (absent: the claim must merely exist).")


@attrs.define(kw_only=True)
class OIDCProviderSpec:
    issuer_url: str = field(doc="Issuer URL (must match the token's `iss`).", check=checks.url)
    client_id: str = field(doc="OAuth client id.")
    client_secret: SecretKeyRef | None = field(None, doc="Client secret (for kubeconfig login flows).")
    username_claim: str = field("sub", doc="Claim used as the username.")
    groups_claim: str = field("groups", doc="Claim listing the groups.")
    username_prefix: str | None = field(None, doc="Prefix added to usernames.")
    groups_prefix: str | None = field(None, doc="Prefix added to groups.")
    audiences: list[str] = field(factory=list, doc="Accepted audiences (default: the client id).")
    required_claims: list[RequiredClaim] = field(factory=list, doc="Claims a token must carry.")
    extra_scopes: list[str] = field(
        factory=list, check=checks.each(checks.oauth_scope),
        doc="Scopes `lattice token` asks for beyond `openid` and `offline_access` (e.g. `groups`, `email`), "
            "for issuers that put the groups claim in the ID token only when asked.")
    ca_bundle: str | None = field(None, doc="CA PEM for the issuer's TLS.", check=checks.pem_certificate)
    jwks_refresh_interval_seconds: int = field(3600, doc="JWKS cache lifetime.", minimum=60)
    propagate: bool = field(True, doc="Distribute to child clusters.")
    allow_child_override: bool = field(False, doc="Let a child's own provider take precedence.")


@attrs.define(kw_only=True)
class OIDCProviderStatus:
    phase: Phase = field(Phase.PENDING, doc="Pending, Ready or Failed.")
    message: str | None = field(None, doc="Detail.")
    last_jwks_fetch: str | None = field(None, doc="When the JWKS was last fetched.")
    jwks_uri: str | None = field(None, doc="JWKS URL from discovery.")
    observed_generation: int | None = field(None, doc="Generation last acted on.")


@attrs.define(kw_only=True)
class OIDCProvider(LatticeObject):
    """An OpenID Connect issuer whose tokens the API proxy accepts."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="OIDCProvider",
        plural="oidcproviders",
        singular="oidcprovider",
        short_names=("oidc",),
        namespaced=True,
        columns=(
            PrinterColumn("Issuer", ".spec.issuerUrl"),
            PrinterColumn("ClientID", ".spec.clientId"),
            PrinterColumn("Phase", ".status.phase"),
        ),
        doc="An OpenID Connect issuer whose tokens the API proxy accepts.",
    )

    spec: OIDCProviderSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("OIDCProvider")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: OIDCProviderStatus | None = field(None, doc="Observed state.")
