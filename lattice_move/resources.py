"""Which kinds a move carries, read from the CustomResourceDefinitions (pure).

clusterctl moves the kinds whose CRD it installed itself (label ``clusterctl.cluster.x-k8s.io``),
plus Secrets and ConfigMaps. Lattice installs Cluster API and its providers without clusterctl, so
the CRDs of every ``*.cluster.x-k8s.io`` group count too. ``.../move`` moves every object of a kind;
``.../move-hierarchy`` also moves everything such an object owns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from crds import KubeObject
from lattice_move import names


@attrs.frozen
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    force_move: bool = False
    move_hierarchy: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """(group, kind): the identity of a kind, whatever the version."""
        return (self.group, self.kind)

    def describe(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


SECRET = ResourceType("", "v1", "Secret", "secrets")
CONFIG_MAP = ResourceType("", "v1", "ConfigMap", "configmaps")
NAMESPACE = ResourceType("", "v1", "Namespace", "namespaces", namespaced=False)
CORE_TYPES = (SECRET, CONFIG_MAP)


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _storage_version(spec: dict[str, Any]) -> str | None:
    for version in spec.get("versions") or []:
        if version.get("storage") and version.get("served", True):
            return str(version.get("name"))
    return None


def labelled_for_move(crd: KubeObject) -> bool:
    labels = (crd.get("metadata") or {}).get("labels") or {}
    group = str((crd.get("spec") or {}).get("group") or "")
    return (names.CLUSTERCTL_LABEL in labels or names.MOVE_LABEL in labels or names.MOVE_HIERARCHY_LABEL in labels
            or group == names.CAPI_GROUP_SUFFIX or group.endswith("." + names.CAPI_GROUP_SUFFIX))


def move_types(crds: Iterable[KubeObject]) -> list[ResourceType]:
    """Secret, ConfigMap and the storage version of every CRD labelled for move, sorted."""
    found = []
    for crd in crds:
        if not labelled_for_move(crd):
            continue
        spec = crd.get("spec") or {}
        version = _storage_version(spec)
        crd_names = spec.get("names") or {}
        if version is None or not crd_names.get("plural") or not crd_names.get("kind"):
            continue
        labels = (crd.get("metadata") or {}).get("labels") or {}
        found.append(ResourceType(
            group=str(spec["group"]), version=version, kind=str(crd_names["kind"]), plural=str(crd_names["plural"]),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            force_move=names.MOVE_LABEL in labels, move_hierarchy=names.MOVE_HIERARCHY_LABEL in labels,
        ))
    return [*CORE_TYPES, *sorted(found, key=lambda t: (t.group, t.kind))]
