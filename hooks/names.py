"""Names of the objects the service compiler generates, shared with the other compilers.

One place decides every generated name, so the secrets compiler (ExternalSecret per secret
resource), the mesh compiler (waypoint) and the workload builders agree. All functions are pure.
"""

import re

# Labels and annotations the workload carries beyond hooks.labels.base_labels.
USE_WAYPOINT_LABEL = "istio.io/use-waypoint"
CONFIG_HASH_ANNOTATION = "lattice.dev/config-hash"
VOLUME_OWNER_PREFIX = "lattice.dev/volume-owner-"

# Pod volume names: resource volumes are prefixed, so they can never clash with these two.
FILES_VOLUME = "files"
SECRET_FILES_VOLUME = "secret-files"

# Environment variables the compiler adds to carry secret keys into mixed values.
SECRET_ENV_PREFIX = "LATTICE_SECRET_"

# A secret resource with this name would collide with the generated files ExternalSecret.
RESERVED_SECRET_RESOURCE = "files"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def service_account_name(service: str) -> str:
    return service


def secret_name(service: str, resource: str) -> str:
    """The ExternalSecret of a secret resource and the Kubernetes Secret it fills."""
    return f"{service}-{resource}"


def pvc_name(service: str, resource: str, volume_id: str | None) -> str:
    """The claim of a volume resource: shared by id (``vol-<id>``) or private to the service."""
    return f"vol-{volume_id}" if volume_id else f"{service}-{resource}"


def files_configmap_name(service: str) -> str:
    """The ConfigMap holding the files that reference no secret."""
    return f"{service}-files"


def files_secret_name(service: str) -> str:
    """The ExternalSecret (and its target Secret) rendering the files that reference secrets."""
    return f"{service}-files"


def waypoint_name(namespace: str) -> str:
    """The per-namespace Istio waypoint Gateway."""
    return f"{namespace}-waypoint"


def volume_owner_label(volume_id: str) -> str:
    """Pod label marking the owner of a shared volume (RWO references co-locate with it)."""
    return f"{VOLUME_OWNER_PREFIX}{volume_id}"


def pod_volume_name(resource: str) -> str:
    return f"vol-{resource}"


def secret_env_name(index: int) -> str:
    return f"{SECRET_ENV_PREFIX}{index}"


def is_dns_label(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and bool(_DNS_SUBDOMAIN.match(name))
