"""Secrets: Cedar-gated ExternalSecrets for services, ClusterSecretStores for SecretsProviders.

* ``compile_secrets(ctx)`` — the secret part of a LatticeService sync (``hooks.secrets.compile``).
* ``compile_secrets_provider(sp)`` — a SecretsProvider's ClusterSecretStore and status, and the
  decorator that owns the cluster-scoped stores (``hooks.secrets.store``).
* ``authorizer_from_related(related)`` — the Cedar-backed ``SecretAuthorizer`` for one sync
  (``hooks.secrets.policies``, a thin user of ``lattice_cedar``).

Pure functions over the CRD models; no I/O.
"""

from hooks.names import secret_name
from hooks.secrets.compile import (
    RESYNC_WHILE_DENIED,
    SecretsResult,
    compile_secrets,
    related_resources,
    secret_sources,
)
from hooks.secrets.external_secret import SecretSource, external_secret
from hooks.secrets.policies import (
    CedarSecretAuthorizer,
    audited_from_related,
    authorizer_from_related,
    policy_sources,
    store_from_related,
)
from hooks.secrets.store import (
    ProviderResult,
    cluster_secret_store,
    compile_secrets_provider,
    desired_stores,
    eso_installed,
    observed_store,
    orphaned_stores,
    provider_related_resources,
    providers_from_related,
    stores_related_resources,
)

__all__ = [
    "RESYNC_WHILE_DENIED",
    "CedarSecretAuthorizer",
    "ProviderResult",
    "SecretSource",
    "SecretsResult",
    "audited_from_related",
    "authorizer_from_related",
    "cluster_secret_store",
    "compile_secrets",
    "compile_secrets_provider",
    "desired_stores",
    "eso_installed",
    "external_secret",
    "observed_store",
    "orphaned_stores",
    "policy_sources",
    "provider_related_resources",
    "providers_from_related",
    "related_resources",
    "secret_name",
    "secret_sources",
    "store_from_related",
    "stores_related_resources",
]
