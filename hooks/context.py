"""What the service compiler is given: the service, the objects it names, the cluster identity."""

from collections.abc import Mapping
from typing import Protocol

import attrs

from crds.external_service import LatticeExternalService
from crds.provisioner import Provisioner
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
class DataService:
    """A Service a provisioner made for a resource of the service (``hooks.service.provisioning``),
    and the LatticeServices that may call it. ``owned``: this service emits it (and its policies);
    otherwise it shares an instance another service owns (same type, class and id)."""

    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...]  # the Service's pod selector
    ports: tuple[tuple[int, int, str], ...]  # (service port, container port, protocol)
    callers: tuple[Key, ...]
    owned: bool = True

    def container_ports(self) -> list[tuple[int, str]]:
        return sorted({(target, proto) for _, target, proto in self.ports})


@attrs.frozen
class Route:
    """An HTTP route a ``route`` resource asks for: ``host`` + ``path`` prefix to a Service port."""

    resource: str
    host: str
    path: str
    port: int


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
    # The cluster's Provisioner objects (valid ones; see hooks.service.provisioning.matching).
    provisioners: tuple[Provisioner, ...] = ()
    # Provisioners that failed validation: (name, the type they claim, every error), so that a
    # resource of that type is refused rather than silently served by a built-in.
    invalid_provisioners: tuple[tuple[str, str, str], ...] = ()
    # Filled by the service compiler from its resources before the mesh compiler runs.
    data_services: tuple[DataService, ...] = ()
    routes: tuple[Route, ...] = ()

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def namespace(self) -> str:
        return self.service.namespace or "default"

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)
