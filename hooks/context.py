"""What the service compiler is given: the service, the objects it names, the cluster identity."""

from collections.abc import Mapping
from typing import Protocol

import attrs

from crds.external_service import LatticeExternalService
from crds.service import LatticeService

# (namespace, name) of a namespaced object.
Key = tuple[str, str]


@attrs.frozen
class ClusterIdentity:
    """The cluster the hooks run for; Istio principals live in its trust domain."""

    name: str = "default"
    provider: str = "docker"
    cluster_domain: str = "cluster.local"

    @property
    def trust_domain(self) -> str:
        return f"lattice.{self.name}.local"

    def principal(self, namespace: str, service_account: str) -> str:
        """Istio source principal (no ``spiffe://`` prefix in AuthorizationPolicy)."""
        return f"{self.trust_domain}/ns/{namespace}/sa/{service_account}"


@attrs.frozen
class SecretRequest:
    """One secret resource a service wants: principal ns/name, resource provider:path."""

    resource: str
    namespace: str
    service: str
    provider: str
    path: str


@attrs.frozen
class SecretDecision:
    resource: str
    allowed: bool
    reason: str  # "" when allowed; else the README's reason text


class SecretAuthorizer(Protocol):
    """Decides secret access (on Cedar: ``hooks.secrets.policies.CedarSecretAuthorizer``)."""

    def authorize_secrets(self, requests: list[SecretRequest]) -> list[SecretDecision]: ...


@attrs.frozen
class SecretAudit:
    """An Audit-mode CedarPolicy would decide ``resource`` differently: ``would_allow`` it, by
    ``statements``, instead of what is in force. Reported, never enforced."""

    resource: str
    policy: str
    would_allow: bool
    statements: tuple[str, ...] = ()


class SecretAuditor(Protocol):
    """Reports what Audit-mode policies would change (``CedarSecretAuthorizer`` is one)."""

    def audit_secrets(self, requests: list[SecretRequest]) -> list[SecretAudit]: ...


@attrs.frozen
class ServiceContext:
    """Everything one sync of one LatticeService may look at.

    ``services`` and ``external_services`` hold the related objects Metacontroller delivered
    (those the service names, plus its callers when it accepts ``*``); the service itself may be
    among them. ``authorizer`` None means no policy set: every secret is denied.
    """

    service: LatticeService
    services: Mapping[Key, LatticeService] = attrs.field(factory=dict)
    external_services: Mapping[Key, LatticeExternalService] = attrs.field(factory=dict)
    cluster: ClusterIdentity = attrs.field(factory=ClusterIdentity)
    authorizer: SecretAuthorizer | None = None
    auditor: SecretAuditor | None = None

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def namespace(self) -> str:
        return self.service.namespace or "default"

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)
