"""SecretsProvider → ESO ClusterSecretStore (Vault, KV v2), and who owns the cluster-scoped store.

A SecretsProvider is namespaced and a ClusterSecretStore is cluster-scoped, so the store cannot be
a child of the provider (an ownerReference from a cluster-scoped object to a namespaced owner is
invalid: the garbage collector never resolves it). Design (docs/secrets.md):

* **Stores**: a DecoratorController targets the Namespace ``lattice-system`` (cluster-scoped) and
  attaches the ClusterSecretStores. Its customize hook relates every SecretsProvider in
  lattice-system (``stores_related_resources``); its sync returns one store per usable provider
  (``desired_stores``). Deleting a provider re-syncs the decorator, the store is no longer
  desired, and Metacontroller deletes it. The stores are owned by the Namespace, a valid
  cluster-scoped owner, so they also go when lattice-system goes.
* **Status**: a CompositeController on SecretsProviders with no child types writes the status
  (``compile_secrets_provider(...).status``).
* ``orphaned_stores`` names lattice-made stores whose provider is gone, for a sweep after the
  decorator itself was removed and re-installed.

Only providers in lattice-system become stores: a ClusterSecretStore serves every namespace, and
its credentials reference may point into lattice-system, so a provider created in a tenant
namespace must not be able to define one.
"""

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crds import Condition, ConditionStatus, KubeObject, Phase, checks
from crds.convert import parse_as
from crds.secrets_provider import AuthMethod, SecretsProvider, SecretsProviderSpec, SecretsProviderStatus
from hooks.labels import new_object
from hooks.secrets import eso

PROVIDER_NAMESPACE = "lattice-system"
TOKEN_KEY = "token"
ROLE_ID_KEY = "role_id"
SECRET_ID_KEY = "secret_id"
RESYNC_READY = 300.0
RESYNC_NOT_READY = 30.0


@attrs.frozen
class ProviderResult:
    children: list[KubeObject]  # the ClusterSecretStore (empty when the provider is unusable)
    status: SecretsProviderStatus

    @property
    def resync_after_seconds(self) -> float:
        return RESYNC_READY if self.status.phase is Phase.READY else RESYNC_NOT_READY


def provider_errors(sp: SecretsProvider) -> list[str]:
    """Why this provider cannot become a ClusterSecretStore (empty: it can)."""
    errors: list[str] = []
    if sp.namespace != PROVIDER_NAMESPACE:
        errors.append(f"SecretsProvider must be in namespace {PROVIDER_NAMESPACE} "
                      "(its ClusterSecretStore serves every namespace)")
    if checks.dns_label(sp.name) is not None:
        errors.append(f"name '{sp.name}' must be a DNS label (max 63): it is used as a label value")
    spec = sp.spec
    if spec.credentials_secret_ref is None and spec.auth_method is AuthMethod.TOKEN:
        errors.append("Token auth requires credentialsSecretRef (a Secret with key 'token')")
    if spec.credentials_secret_ref is None and spec.auth_method is AuthMethod.APP_ROLE:
        errors.append("AppRole auth requires credentialsSecretRef (a Secret with keys 'role_id' and 'secret_id')")
    if checks.url(spec.server) is not None:
        errors.append(f"invalid server URL '{spec.server}'")
    if spec.ca_bundle is not None and checks.pem_certificate(spec.ca_bundle) is not None:
        errors.append("caBundle must be PEM text with '-----BEGIN CERTIFICATE-----'")
    return errors


def cluster_secret_store(sp: SecretsProvider) -> KubeObject:
    """The ClusterSecretStore of a (valid) provider: same name, Vault KV v2."""
    spec = sp.spec
    vault: dict[str, Any] = {"server": spec.server, "path": spec.path, "version": "v2"}
    if spec.namespace:
        vault["namespace"] = spec.namespace
    if spec.ca_bundle:
        # ESO's caBundle is []byte: base64 of the PEM text.
        vault["caBundle"] = base64.b64encode(spec.ca_bundle.encode()).decode()
    vault["auth"] = _auth(spec)
    obj = new_object(eso.API_VERSION, eso.CLUSTER_SECRET_STORE, sp.name, None, labels={
        eso.PROVIDER_LABEL: sp.name,
        eso.OWNER_NAMESPACE_LABEL: sp.namespace,
        eso.OWNER_NAME_LABEL: sp.name,
    })
    obj["spec"] = {"provider": {"vault": vault}}
    return obj


def _auth(spec: SecretsProviderSpec) -> dict[str, Any]:
    ref = spec.credentials_secret_ref
    if spec.auth_method is AuthMethod.TOKEN:
        assert ref is not None
        return {"tokenSecretRef": {"name": ref.name, "namespace": ref.namespace, "key": ref.key or TOKEN_KEY}}
    if spec.auth_method is AuthMethod.APP_ROLE:
        assert ref is not None
        return {"appRole": {
            "path": spec.approle_mount_path,
            "roleRef": {"name": ref.name, "namespace": ref.namespace, "key": ROLE_ID_KEY},
            "secretRef": {"name": ref.name, "namespace": ref.namespace, "key": SECRET_ID_KEY},
        }}
    kube: dict[str, Any] = {"mountPath": spec.kubernetes_mount_path, "role": spec.kubernetes_role}
    if ref is not None:
        # A ServiceAccount JWT kept in a Secret; without it ESO presents its own ServiceAccount token.
        kube["secretRef"] = {"name": ref.name, "namespace": ref.namespace, "key": ref.key or TOKEN_KEY}
    return {"kubernetes": kube}


def compile_secrets_provider(
    sp: SecretsProvider,
    *,
    eso_installed: bool = True,
    observed_store: Mapping[str, Any] | None = None,
    now: str | None = None,
) -> ProviderResult:
    """The provider's ClusterSecretStore and status.

    ``eso_installed``: whether the ClusterSecretStore CRD exists (Pending until it does).
    ``observed_store``: the live store, if the caller looked; its Ready condition (set by ESO
    after it contacted Vault) then decides Ready/Failed. ``now``: RFC 3339 time for the status.
    """
    generation = sp.metadata.generation
    errors = provider_errors(sp)
    if errors:
        return ProviderResult([], _status(Phase.FAILED, "; ".join(errors), "InvalidSpec", now, generation))
    store = cluster_secret_store(sp)
    if not eso_installed:
        return ProviderResult([store], _status(Phase.PENDING, "Waiting for ESO to be installed", "EsoMissing",
                                               now, generation))
    phase, reason, message = _observed(sp, observed_store)
    return ProviderResult([store], _status(phase, message, reason, now, generation))


def _observed(sp: SecretsProvider, store: Mapping[str, Any] | None) -> tuple[Phase, str, str]:
    configured = f"ClusterSecretStore '{sp.name}' configured (Vault {sp.spec.server}, auth {sp.spec.auth_method})"
    if store is None:
        return Phase.READY, "StoreConfigured", configured
    labels = (store.get("metadata") or {}).get("labels") or {}
    if labels.get(eso.PROVIDER_LABEL) != sp.name:
        return Phase.FAILED, "StoreNameTaken", (
            f"a ClusterSecretStore named '{sp.name}' already exists and is not managed by Lattice")
    conditions = (store.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None)
    if ready is None:
        return Phase.PENDING, "StoreNotValidated", f"{configured}; waiting for ESO to validate it"
    if ready.get("status") == "True":
        return Phase.READY, "StoreReady", f"{configured}; ESO reports it ready"
    detail = ready.get("message") or ready.get("reason") or "not ready"
    return Phase.FAILED, "StoreNotReady", f"ClusterSecretStore '{sp.name}' is not ready: {detail}"


def _status(phase: Phase, message: str, reason: str, now: str | None, generation: int | None) -> SecretsProviderStatus:
    ready = Condition(
        type="Ready",
        status=ConditionStatus.TRUE if phase is Phase.READY else ConditionStatus.FALSE,
        reason=reason, message=message, last_transition_time=now, observed_generation=generation,
    )
    return SecretsProviderStatus(phase=phase, message=message, last_validated=now, conditions=[ready],
                                 observed_generation=generation)


# ---- reading a status sync request ----------------------------------------------------------

CRD_GROUP = "CustomResourceDefinition.apiextensions.k8s.io/v1"
STORE_GROUP = f"{eso.CLUSTER_SECRET_STORE}.{eso.API_VERSION}"


def provider_related_resources(sp: SecretsProvider, *, watch_store: bool = False) -> list[dict[str, Any]]:
    """Customize-hook rules of the status controller (v2 hooks: cluster-scoped related objects).

    Always the ESO ClusterSecretStore CRD (Pending until it exists). ``watch_store`` also relates
    the provider's own store so its ESO Ready condition reaches the status; only use it when ESO
    is a prerequisite, since Metacontroller cannot watch a kind whose CRD is missing.
    """
    rules: list[dict[str, Any]] = [
        {"apiVersion": "apiextensions.k8s.io/v1", "resource": "customresourcedefinitions", "names": [eso.STORE_CRD]},
    ]
    if watch_store:
        rules.append({"apiVersion": eso.API_VERSION, "resource": eso.CLUSTER_SECRET_STORES, "names": [sp.name]})
    return rules


def eso_installed(related: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(key.split("/")[-1] == eso.STORE_CRD for key in (related.get(CRD_GROUP) or {}))


def observed_store(related: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    found: Mapping[str, Any] | None = (related.get(STORE_GROUP) or {}).get(name)
    return found


# ---- the store decorator (target: Namespace lattice-system) ----------------------------------


def stores_related_resources() -> list[dict[str, Any]]:
    """Customize-hook rules of the store decorator: every SecretsProvider in lattice-system."""
    return [{"apiVersion": "lattice.dev/v1alpha1", "resource": "secretsproviders", "namespace": PROVIDER_NAMESPACE}]


PROVIDER_GROUP = "SecretsProvider.lattice.dev/v1alpha1"


def providers_from_related(related: Mapping[str, Mapping[str, Any]]) -> list[SecretsProvider]:
    """The SecretsProviders of a decorator sync request; objects that cannot be read are skipped."""
    out = []
    for raw in (related.get(PROVIDER_GROUP) or {}).values():
        sp, _ = parse_as(SecretsProvider, raw)  # rule errors are filtered by provider_errors
        if sp is not None:
            out.append(sp)
    return out


def desired_stores(providers: Iterable[SecretsProvider]) -> list[KubeObject]:
    """The decorator's attachments: one ClusterSecretStore per usable, live provider, by name."""
    live = [p for p in providers if p.metadata.deletion_timestamp is None and not provider_errors(p)]
    return [cluster_secret_store(p) for p in sorted(live, key=lambda p: p.name)]


def orphaned_stores(stores: Iterable[Mapping[str, Any]], providers: Iterable[SecretsProvider]) -> list[str]:
    """Names of Lattice-made ClusterSecretStores whose SecretsProvider no longer exists."""
    wanted = {p.name for p in providers if p.namespace == PROVIDER_NAMESPACE}
    out = []
    for store in stores:
        meta = store.get("metadata") or {}
        labels = meta.get("labels") or {}
        owner = labels.get(eso.PROVIDER_LABEL)
        if owner is not None and labels.get(eso.OWNER_NAMESPACE_LABEL) == PROVIDER_NAMESPACE and owner not in wanted:
            out.append(str(meta.get("name")))
    return sorted(out)
