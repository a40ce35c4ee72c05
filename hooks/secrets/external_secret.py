"""One secret resource of a LatticeService → one ESO ExternalSecret.

The ExternalSecret and its target Secret are both named ``<service>-<resource>``; the target is
created and owned by ESO (``creationPolicy: Owner``), so removing the ExternalSecret also removes
the Secret — that is what makes a revoked grant take the secret off the cluster.
"""

from typing import Any

import attrs

from crds import KubeObject
from hooks.labels import new_object
from hooks.names import RESERVED_SECRET_RESOURCE, is_dns_label, secret_name
from hooks.secrets import eso


@attrs.frozen
class SecretSource:
    """What one ``type: secret`` resource asks for."""

    resource: str
    path: str  # the resource ``id``: the path in the secret store
    provider: str  # the SecretsProvider (= ClusterSecretStore) name
    keys: tuple[str, ...] | None = None  # None: every key of the path
    refresh_interval: str | None = None


def name_error(service: str, resource: str) -> str | None:
    """Why ``<service>-<resource>`` cannot name the objects (it is also a label value)."""
    if resource == RESERVED_SECRET_RESOURCE:
        return f"the name '{resource}' is reserved (its Secret would clash with the service's files Secret)"
    name = secret_name(service, resource)
    if is_dns_label(name):
        return None
    return f"generated name '{name}' is not a valid DNS label (lowercase letters, digits, '-', max 63)"


def external_secret(namespace: str, service: str, source: SecretSource) -> KubeObject:
    name = secret_name(service, source.resource)
    obj = new_object(eso.API_VERSION, eso.EXTERNAL_SECRET, name, namespace, labels={
        eso.SERVICE_LABEL: service,
        eso.RESOURCE_LABEL: source.resource,
    })
    spec: dict[str, Any] = {
        "secretStoreRef": {"name": source.provider, "kind": eso.CLUSTER_SECRET_STORE},
        "target": {"name": name, "creationPolicy": "Owner"},
    }
    if source.keys is not None:
        spec["data"] = [
            {"secretKey": key, "remoteRef": {"key": source.path, "property": key}} for key in source.keys
        ]
    else:
        spec["dataFrom"] = [{"extract": {"key": source.path}}]
    if source.refresh_interval:
        spec["refreshInterval"] = source.refresh_interval
    obj["spec"] = spec
    return obj
