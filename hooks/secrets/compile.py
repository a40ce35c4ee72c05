"""Cedar-gated secrets of one LatticeService: authorize every secret, emit ExternalSecrets for the allowed.

Contract with the service compiler (``hooks.service``):

* ``result.children`` — ExternalSecrets of the *allowed* secrets only. Return them with the rest of
  the service's children even when some secret is denied: a secret whose grant was revoked then
  loses its ExternalSecret (and ESO's Secret), while the other secrets and the workload stay.
* ``result.failed`` / ``result.message`` — when any secret is denied or misconfigured the service
  is Failed with this message (``secret access denied: '<r>': <reason>; ...``).
* ``result.resync_after_seconds`` — 30 while denied, so the service recovers on its own once a
  permit exists; ``related_resources`` also makes every CedarPolicy change re-sync the service.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crds import KubeObject
from crds.service import LatticeService, ResourceSpec
from hooks.context import SecretAudit, SecretDecision, SecretRequest, ServiceContext
from hooks.secrets.external_secret import SecretSource, external_secret, name_error

RESYNC_WHILE_DENIED = 30.0
POLICY_NAMESPACE = "lattice-system"
NO_PERMIT = "no permit policy for this service and secret path"


@attrs.frozen
class SecretsResult:
    children: list[KubeObject] = attrs.field(factory=list)  # ExternalSecrets of allowed secrets
    denied: list[SecretDecision] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)  # misconfigured secret resources
    audit: list[SecretAudit] = attrs.field(factory=list)  # what Audit-mode policies would change

    @property
    def failed(self) -> bool:
        return bool(self.denied or self.errors)

    @property
    def message(self) -> str:
        """The Failed message: configuration errors, then the denied secrets (only those)."""
        parts = list(self.errors)
        if self.denied:
            parts.append("secret access denied: " + "; ".join(f"'{d.resource}': {d.reason}" for d in self.denied))
        return "; ".join(parts)

    @property
    def resync_after_seconds(self) -> float | None:
        return RESYNC_WHILE_DENIED if self.denied else None


def secret_sources(service: LatticeService) -> tuple[list[SecretSource], list[str]]:
    """Every ``type: secret`` resource (sorted by name) and the errors of the unusable ones."""
    sources: list[SecretSource] = []
    errors: list[str] = []
    for name in sorted(service.spec.resources):
        spec = service.spec.resources[name]
        if spec.type != "secret":
            continue
        source, problem = _source(service.name, name, spec)
        if problem:
            errors.append(f"invalid secret config: secret resource '{name}': {problem}")
        elif source is not None:
            sources.append(source)
    return sources, errors


def _source(service: str, name: str, spec: ResourceSpec) -> tuple[SecretSource | None, str | None]:
    params: Mapping[str, Any] = spec.params or {}
    provider = params.get("provider")
    keys = params.get("keys")
    interval = params.get("refreshInterval")
    if not spec.id:
        return None, "missing 'id' field (the path in the secret store)"
    if not isinstance(provider, str) or not provider:
        return None, "secret resource requires 'provider' in params (a SecretsProvider name)"
    if keys is not None and (not isinstance(keys, list) or not keys
                             or not all(isinstance(k, str) and k for k in keys)):
        return None, "'keys' must be a non-empty list of key names (omit it to sync every key)"
    if interval is not None and not isinstance(interval, str):
        return None, "'refreshInterval' must be a duration such as '1h'"
    if problem := name_error(service, name):
        return None, problem
    return SecretSource(
        resource=name, path=spec.id, provider=provider,
        keys=None if keys is None else tuple(dict.fromkeys(keys)),
        refresh_interval=interval,
    ), None


def compile_secrets(ctx: ServiceContext) -> SecretsResult:
    """Authorize every secret resource of the service; ExternalSecrets for the allowed ones."""
    sources, errors = secret_sources(ctx.service)
    decisions = _authorize(ctx, sources)
    audit = ctx.auditor.audit_secrets(_requests(ctx, sources)) if ctx.auditor is not None and sources else []
    children: list[KubeObject] = []
    denied: list[SecretDecision] = []
    for source in sources:
        decision = decisions[source.resource]
        if decision.allowed:
            children.append(external_secret(ctx.namespace, ctx.name, source))
        else:
            denied.append(decision)
    return SecretsResult(children=children, denied=denied, errors=errors, audit=audit)


def _requests(ctx: ServiceContext, sources: Sequence[SecretSource]) -> list[SecretRequest]:
    return [
        SecretRequest(resource=s.resource, namespace=ctx.namespace, service=ctx.name, provider=s.provider,
                      path=s.path)
        for s in sources
    ]


def _authorize(ctx: ServiceContext, sources: Sequence[SecretSource]) -> dict[str, SecretDecision]:
    requests = _requests(ctx, sources)
    answers = ctx.authorizer.authorize_secrets(requests) if ctx.authorizer and requests else []
    by_name = {d.resource: d for d in answers}
    # Default deny: no authorizer, or no answer for a secret, means no permit.
    return {
        r.resource: by_name.get(r.resource) or SecretDecision(resource=r.resource, allowed=False, reason=NO_PERMIT)
        for r in requests
    }


def related_resources(service: LatticeService) -> list[dict[str, Any]]:
    """Customize-hook rules: a service with secrets watches every CedarPolicy in lattice-system.

    Needs the v2 customize hook (a namespaced parent reading another namespace). Any change to a
    CedarPolicy then re-syncs the service, so a new permit takes effect without touching it.
    """
    if not any(r.type == "secret" for r in service.spec.resources.values()):
        return []
    return [{"apiVersion": "lattice.dev/v1alpha1", "resource": "cedarpolicies", "namespace": POLICY_NAMESPACE}]
