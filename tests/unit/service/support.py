"""Fixtures shared by the service compiler tests: contexts from the examples and small specs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import attrs
import kubernetes_validate
import yaml

import crds
from crds.external_service import LatticeExternalService
from crds.service import LatticeService
from hooks.context import ClusterIdentity, SecretAuthorizer, SecretDecision, SecretRequest, ServiceContext

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "services"
K8S_VERSION = "1.34"


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return doc


def parse_service(doc: dict[str, Any]) -> LatticeService:
    obj, errors = crds.parse_as(LatticeService, doc)
    assert not errors, [str(e) for e in errors]
    assert obj is not None
    return obj


def parse_external(doc: dict[str, Any]) -> LatticeExternalService:
    obj, errors = crds.parse_as(LatticeExternalService, doc)
    assert not errors, [str(e) for e in errors]
    assert obj is not None
    return obj


def service_doc(spec: dict[str, Any], name: str = "api", namespace: str = "shop",
                **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "lattice.dev/v1alpha1",
        "kind": "LatticeService",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": copy.deepcopy(spec),
    }


def make_ctx(spec: dict[str, Any], *, name: str = "api", namespace: str = "shop",
             services: list[dict[str, Any]] = (),  # type: ignore[assignment]
             externals: list[dict[str, Any]] = (),  # type: ignore[assignment]
             provider: str = "docker", authorizer: SecretAuthorizer | None = None,
             **metadata: Any) -> ServiceContext:
    svc = parse_service(service_doc(spec, name, namespace, **metadata))
    related = [parse_service(d) for d in services]
    ext = [parse_external(d) for d in externals]
    return ServiceContext(
        service=svc,
        services={(s.namespace, s.name): s for s in related},
        external_services={(e.namespace, e.name): e for e in ext},
        cluster=ClusterIdentity(name="test", provider=provider),
        authorizer=authorizer,
    )


def gateway_ctx(**kwargs: Any) -> ServiceContext:
    """The README's api-gateway with every object it names."""
    doc = example("api-gateway")
    services = [example(n) for n in ("auth-service", "redis", "web-frontend", "asset-store")]
    return make_ctx(doc["spec"], name="api-gateway", namespace="platform", services=services,
                    externals=[example("stripe-api")], **kwargs)


@attrs.frozen
class FixedAuthorizer:
    """Allows every secret except the denied ones (resource -> reason)."""

    denied: dict[str, str] = attrs.field(factory=dict)

    def authorize_secrets(self, requests: list[SecretRequest]) -> list[SecretDecision]:
        return [SecretDecision(r.resource, r.resource not in self.denied, self.denied.get(r.resource, ""))
                for r in requests]


def main(spec: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    """A minimal spec with one container ``main``; extra keys go into the container."""
    out = {"containers": {"main": {"image": "nginx:1.27", **container}}}
    out.update(spec or {})
    return out


def assert_valid_k8s(obj: dict[str, Any]) -> None:
    """Strict schema validation of a built-in kind against Kubernetes 1.34."""
    kubernetes_validate.validate(copy.deepcopy(obj), K8S_VERSION, strict=True)


def by_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [c for c in children if c["kind"] == kind]


def one(children: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(children, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]
