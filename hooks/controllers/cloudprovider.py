"""CloudProvider: is the account usable? Status only, no children.

A hook never reads a Secret's values, so the credentials are checked by the cell (which copies
them for Cluster API anyway): it records whether the referenced Secret exists and which keys it
has — names, never values — in the annotation ``lattice.dev/credentials-observed``
(``crds.cloud_provider.CredentialsObservation``). An annotation change re-syncs the provider, and
this hook turns the observation into the status:

* ``Ready``: docker (no credentials), or the Secret exists with every key the provider's Cluster API
  controller reads;
* ``Failed``: the CloudProvider is outside lattice-system, its Secret is outside lattice-system, the
  Secret does not exist, or a key is missing (LatticeClusters naming it then wait, Pending);
* ``Pending``: the cell has not looked at this Secret yet.

``status.clusterCount`` is not maintained: counting would relate every LatticeCluster, and each
count change would then re-sync every cluster of the provider.
"""

from __future__ import annotations

import crds
from crds import CloudProvider, Condition, ConditionStatus, KubeObject, Phase
from crds.cloud_provider import REQUIRED_CREDENTIAL_KEYS, CloudProviderStatus, CredentialsObservation, ProviderType
from hooks.cluster.validate import PROVIDER_NAMESPACE
from hooks.controllers import kinds
from hooks.controllers.definition import Answer, Composite, HookConfig, failed_status_for
from hooks.controllers.parsing import parse_object
from hooks.wire import SyncRequest, SyncResponse

failed_status = failed_status_for(CloudProviderStatus, Phase.FAILED)


def _verdict(provider: CloudProvider, observed: CredentialsObservation | None) -> tuple[Phase, str, str]:
    """(phase, reason, message)."""
    if provider.namespace != PROVIDER_NAMESPACE:
        return (Phase.FAILED, "WrongNamespace",
                f"CloudProviders are read from {PROVIDER_NAMESPACE} only; this one is in {provider.namespace}")
    kind = provider.spec.type
    if kind is ProviderType.DOCKER:
        return Phase.READY, "NoCredentialsNeeded", "docker needs no credentials"
    ref = provider.spec.credentials_secret_ref
    if ref is None:  # validation requires it for every other type
        return Phase.FAILED, "ValidationFailed", f"credentialsSecretRef: required for type '{kind}'"
    where = f"{ref.namespace}/{ref.name}"
    if ref.namespace != PROVIDER_NAMESPACE:
        return (Phase.FAILED, "WrongNamespace",
                f"credentialsSecretRef.namespace: the cell copies credentials from {PROVIDER_NAMESPACE} only "
                f"(got {ref.namespace})")
    if observed is None or observed.secret != where:
        return Phase.PENDING, "WaitingForCheck", f"waiting for the cell to check credentials Secret {where}"
    required = REQUIRED_CREDENTIAL_KEYS[kind]
    if not observed.exists:
        return Phase.FAILED, "SecretNotFound", f"credentials Secret {where} not found"
    missing = [k for k in required if k not in observed.keys]
    if missing:
        return (Phase.FAILED, "MissingKeys",
                f"credentials Secret {where} lacks {', '.join(missing)} ({kind} reads {', '.join(required)})")
    return Phase.READY, "CredentialsFound", f"credentials Secret {where} has {', '.join(required)}"


def provider_status(provider: CloudProvider, observed: CredentialsObservation | None) -> CloudProviderStatus:
    phase, reason, message = _verdict(provider, observed)
    condition_status = {Phase.READY: ConditionStatus.TRUE, Phase.FAILED: ConditionStatus.FALSE}.get(
        phase, ConditionStatus.UNKNOWN)
    generation = provider.metadata.generation
    ready = Condition(type="Ready", status=condition_status, reason=reason, message=message,
                      last_transition_time=observed.observed_at if observed else None, observed_generation=generation)
    return CloudProviderStatus(phase=phase, message=message, conditions=[ready], observed_generation=generation,
                               last_validated=observed.observed_at if observed else None)


def sync(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
    provider, errors = parse_object(req.parent, CloudProvider)
    if provider is None or errors:
        return CONTROLLER.failed(req, errors, "ValidationFailed")
    status = provider_status(provider, CredentialsObservation.from_annotations(provider.metadata.annotations))
    out: KubeObject = crds.dump(status)
    failure = status.conditions[0].reason if status.phase is Phase.FAILED else None
    return Answer(SyncResponse(status=out, children=[]), failure)


CONTROLLER = Composite(
    name="cloudprovider",
    parent=kinds.CLOUD_PROVIDER,
    children=(),
    sync=sync,
    failed_status=failed_status,
    resync_period_seconds=600,
    doc="Reports whether a CloudProvider's credentials Secret exists with the keys its provider reads "
        "(as the cell observed it).",
)
