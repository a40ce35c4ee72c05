"""The entities a Cedar request is judged against, as the JSON-able dicts cedarpy takes.

Pure: builds dicts from names and labels (the types are ``lattice_cedar.schema``'s).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lattice_cedar.schema import (
    ACTION,
    CLUSTER,
    CLUSTER_DEFAULTS,
    CLUSTER_OPTIONAL,
    GROUP,
    LABEL_PREFIX,
    SECRET_PATH,
    SERVICE,
    USER,
)

Entity = dict[str, Any]
Uid = dict[str, str]


def uid(type_: str, id_: str) -> Uid:
    return {"type": type_, "id": id_}


def action(name: str) -> Uid:
    return uid(ACTION, name)


def service_id(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def secret_path_id(provider: str, path: str) -> str:
    return f"{provider}:{path}"


def service_entity(namespace: str, name: str) -> Entity:
    return {
        "uid": uid(SERVICE, service_id(namespace, name)),
        "attrs": {"namespace": namespace, "name": name},
        "parents": [],
    }


def secret_path_entity(provider: str, path: str) -> Entity:
    return {
        "uid": uid(SECRET_PATH, secret_path_id(provider, path)),
        "attrs": {"path": path, "provider": provider},
        "parents": [],
    }


def user_entities(user: str, groups: Iterable[str]) -> list[Entity]:
    """The user (member of every group) and the group entities."""
    gs = sorted(set(groups))
    parents = [uid(GROUP, g) for g in gs]
    out: list[Entity] = [{"uid": uid(USER, user), "attrs": {}, "parents": parents}]
    out.extend({"uid": uid(GROUP, g), "attrs": {}, "parents": []} for g in gs)
    return out


def cluster_attributes(name: str, labels: Mapping[str, str] | None) -> dict[str, str]:
    """Cedar attributes of a cluster from its labels (defaults for region and tier)."""
    labels = labels or {}
    attrs: dict[str, str] = {"name": name}
    for key in (*CLUSTER_DEFAULTS, *CLUSTER_OPTIONAL):
        value = labels.get(LABEL_PREFIX + key, labels.get(key))
        if value is None:
            value = CLUSTER_DEFAULTS.get(key)
        if value is not None:
            attrs[key] = value
    return attrs


def cluster_entity(name: str, labels: Mapping[str, str] | None = None) -> Entity:
    return {
        "uid": uid(CLUSTER, name),
        "attrs": cluster_attributes(name, labels),
        "parents": [],
        "tags": dict(labels or {}),
    }
