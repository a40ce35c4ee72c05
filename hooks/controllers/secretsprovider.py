"""SecretsProvider: status on the provider, ClusterSecretStores owned by the lattice-system Namespace.

A ClusterSecretStore is cluster-scoped and a SecretsProvider namespaced, so the store cannot be the
provider's child (see ``hooks.secrets.store`` and docs/secrets.md). Two controllers:

* ``secretsprovider`` (Composite, no children): validates the provider and reports its status; its
  customize asks for the provider's own ClusterSecretStore, so the status follows what ESO says of it.
* ``secret-stores`` (Decorator on the Namespace lattice-system): one ClusterSecretStore attachment per
  usable SecretsProvider of lattice-system (they are its related objects); a deleted or broken
  provider's store is no longer desired and Metacontroller deletes it.
"""

from __future__ import annotations

import crds
from crds import KubeObject, Phase, SecretsProvider
from crds.secrets_provider import SecretsProviderStatus
from hooks.controllers import kinds
from hooks.controllers.definition import Answer, ChildRule, Composite, Decorator, HookConfig, Target, failed_status_for
from hooks.controllers.parsing import parse_object, valid_related
from hooks.secrets.store import (
    PROVIDER_NAMESPACE,
    compile_secrets_provider,
    desired_stores,
    eso_installed,
    observed_store,
    provider_related_resources,
    stores_related_resources,
)
from hooks.wire import (
    CustomizeRequest,
    CustomizeResponse,
    DecoratorSyncRequest,
    DecoratorSyncResponse,
    RelatedRule,
    SyncRequest,
    SyncResponse,
)

failed_status = failed_status_for(SecretsProviderStatus, Phase.FAILED)


def customize(req: CustomizeRequest, _cfg: HookConfig) -> CustomizeResponse:
    provider, _errors = parse_object(req.parent, SecretsProvider)
    if provider is None:
        return CustomizeResponse(())
    # The ESO CRD (Pending until it exists) and the provider's own store (its Ready condition).
    # ESO is a prerequisite anyway: the store decorator and the services attach ESO kinds.
    rules = provider_related_resources(provider, watch_store=True)
    return CustomizeResponse(tuple(RelatedRule.from_json(r) for r in rules))


def sync(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
    provider, errors = parse_object(req.parent, SecretsProvider)
    if provider is None or errors:
        return PROVIDER.failed(req, errors, "ValidationFailed")
    result = compile_secrets_provider(provider, eso_installed=eso_installed(req.related),
                                      observed_store=observed_store(req.related, provider.name))
    status: KubeObject = crds.dump(result.status)
    failure = next((c.reason for c in result.status.conditions if c.type == "Ready"), "Failed") \
        if result.status.phase is Phase.FAILED else None
    return Answer(SyncResponse(status=status, children=[], resync_after_seconds=result.resync_after_seconds),
                  failure)


PROVIDER = Composite(
    name="secretsprovider",
    parent=kinds.SECRETS_PROVIDER,
    children=(),
    sync=sync,
    customize=customize,
    related=(kinds.CUSTOM_RESOURCE_DEFINITION, kinds.CLUSTER_SECRET_STORE),
    failed_status=failed_status,
    resync_period_seconds=600,
    doc="Validates a SecretsProvider and reports whether its ClusterSecretStore is ready.",
)


def stores_customize(_req: CustomizeRequest, _cfg: HookConfig) -> CustomizeResponse:
    return CustomizeResponse(tuple(RelatedRule.from_json(r) for r in stores_related_resources()))


def stores_sync(req: DecoratorSyncRequest, _cfg: HookConfig) -> Answer[DecoratorSyncResponse]:
    if (req.object.get("metadata") or {}).get("name") != PROVIDER_NAMESPACE:
        return Answer(DecoratorSyncResponse(attachments=[]))
    providers = [p for p in valid_related(req.related, SecretsProvider) if p.namespace == PROVIDER_NAMESPACE]
    return Answer(DecoratorSyncResponse(attachments=desired_stores(providers)))


STORES = Decorator(
    name="secret-stores",
    targets=(Target(kinds.NAMESPACE,
                    label_selector={"matchLabels": {"kubernetes.io/metadata.name": PROVIDER_NAMESPACE}}),),
    attachments=(ChildRule(kinds.CLUSTER_SECRET_STORE, why="credentials rotate in place"),),
    sync=stores_sync,
    customize=stores_customize,
    related=(kinds.SECRETS_PROVIDER,),
    resync_period_seconds=600,
    doc="Owns one ESO ClusterSecretStore per SecretsProvider of lattice-system.",
)
