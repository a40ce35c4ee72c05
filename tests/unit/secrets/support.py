"""Builders shared by the secrets tests."""

from pathlib import Path
from typing import Any

import yaml

from crds.convert import parse_as
from crds.secrets_provider import SecretsProvider
from crds.service import LatticeService

ROOT = Path(__file__).resolve().parents[3]
ALLOW_SECRETS = 'permit(principal, action == Lattice::Action::"AccessSecret", resource);'


def service(resources: dict[str, Any], *, name: str = "checkout", namespace: str = "payments") -> LatticeService:
    raw = {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": {"main": {"image": "app:1"}}, "resources": resources},
    }
    svc, errors = parse_as(LatticeService, raw)
    assert svc is not None, errors
    return svc


def secret_resource(path: str, provider: str = "vault-prod", **params: Any) -> dict[str, Any]:
    return {"type": "secret", "id": path, "params": {"provider": provider, **params}}


def cedar_policy(name: str, text: str, *, namespace: str = "lattice-system", enabled: bool = True) -> dict[str, Any]:
    """A CedarPolicy as Metacontroller delivers it in `related`."""
    return {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"policies": text, "enabled": enabled},
    }


def related(*policies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"CedarPolicy.lattice.dev/v1alpha1": {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in policies
    }}


def provider(spec: dict[str, Any], *, name: str = "vault-prod", namespace: str = "lattice-system") -> SecretsProvider:
    raw = {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "SecretsProvider",
        "metadata": {"name": name, "namespace": namespace, "generation": 2},
        "spec": {"server": "https://vault.example.com:8200", **spec},
    }
    sp, _ = parse_as(SecretsProvider, raw)  # rule errors are the compiler's to report too
    assert sp is not None
    return sp


def example(path: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / path).read_text())
    return doc
