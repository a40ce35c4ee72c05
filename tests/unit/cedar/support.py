"""Builders shared by the Cedar tests."""

from pathlib import Path

import attrs
import yaml

from crds import ObjectMeta
from crds.cedar_policy import CedarPolicy, CedarPolicySpec, PolicyMode
from crds.convert import parse_as

ROOT = Path(__file__).resolve().parents[3]
SECRET = 'action == Lattice::Action::"AccessSecret"'
CLUSTER = 'action == Lattice::Action::"AccessCluster"'


def policy(name: str, text: str, *, namespace: str = "lattice-system", enabled: bool = True,
           priority: int = 0, generation: int | None = None, mode: PolicyMode = PolicyMode.ENFORCE) -> CedarPolicy:
    return CedarPolicy(
        metadata=ObjectMeta(name=name, namespace=namespace, generation=generation),
        spec=CedarPolicySpec(policies=text, enabled=enabled, priority=priority, mode=mode),
    )


def example(name: str, *, enabled: bool | None = None) -> CedarPolicy:
    """One of the README's CedarPolicies, from examples/cedar/<name>.yaml."""
    raw = yaml.safe_load((ROOT / "examples" / "cedar" / f"{name}.yaml").read_text())
    cp, errors = parse_as(CedarPolicy, raw)
    assert cp is not None and not errors, errors
    if enabled is not None:
        cp.spec.enabled = enabled
    return cp


@attrs.frozen
class SecretRequest:
    """A ``lattice_cedar.SecretAccess``: service ``namespace/service`` asks for ``provider:path``."""

    namespace: str
    service: str
    provider: str
    path: str
    resource: str = "s"


def secret(namespace: str, service: str, provider: str, path: str, resource: str = "s") -> SecretRequest:
    return SecretRequest(namespace=namespace, service=service, provider=provider, path=path, resource=resource)
