"""The Lattice Cedar entity model: the schema, and the entities a request is judged against.

Entity types live in the ``Lattice`` namespace:

* ``Lattice::User`` — a human or ServiceAccount identity, member (``in``) of its ``Lattice::Group``s.
* ``Lattice::Group`` — an identity group.
* ``Lattice::Cluster`` — a cluster; ``name``, ``region``, ``tier`` and optional ``environment``
  attributes come from the cluster's labels, and every label is also an entity tag.
* ``Lattice::Service`` — a LatticeService, id ``"<namespace>/<name>"``.
* ``Lattice::SecretPath`` — a secret, id ``"<provider>:<path>"``.

Actions: ``Lattice::Action::"AccessCluster"`` (User → Cluster) and
``Lattice::Action::"AccessSecret"`` (Service → SecretPath).

Pure: builds JSON-able dicts; nothing here calls Cedar except the cached schema handle.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import cedarpy

NAMESPACE = "Lattice"
USER = f"{NAMESPACE}::User"
GROUP = f"{NAMESPACE}::Group"
CLUSTER = f"{NAMESPACE}::Cluster"
SERVICE = f"{NAMESPACE}::Service"
SECRET_PATH = f"{NAMESPACE}::SecretPath"
ACTION = f"{NAMESPACE}::Action"

ACCESS_CLUSTER = "AccessCluster"
ACCESS_SECRET = "AccessSecret"
ACTIONS = (ACCESS_CLUSTER, ACCESS_SECRET)

# Cluster attributes read from labels: `lattice.dev/<attr>` wins over a bare `<attr>` label.
LABEL_PREFIX = "lattice.dev/"
CLUSTER_DEFAULTS = {"region": "unknown", "tier": "standard"}
CLUSTER_OPTIONAL = ("environment",)

SCHEMA_TEXT = """\
// The Lattice authorization model. Every CedarPolicy statement is validated against it.
namespace Lattice {
  // An identity group (TokenReview or OIDC groups).
  entity Group;

  // A human or ServiceAccount identity; a member of its groups.
  entity User in [Group];

  // A cluster reachable through the proxy. Attributes come from the cluster's labels
  // (lattice.dev/region, lattice.dev/tier, lattice.dev/environment); every label is also a tag,
  // so `resource.hasTag("team") && resource.getTag("team") == "payments"` works.
  entity Cluster = {
    name: String,
    region: String,
    tier: String,
    environment?: String,
  } tags String;

  // A LatticeService, id "<namespace>/<name>".
  entity Service = {
    namespace: String,
    name: String,
  };

  // A secret in a SecretsProvider, id "<provider>:<path>".
  entity SecretPath = {
    path: String,
    provider: String,
  };

  action AccessCluster appliesTo {
    principal: [User],
    resource: [Cluster],
  };

  action AccessSecret appliesTo {
    principal: [Service],
    resource: [SecretPath],
  };
}
"""

Entity = dict[str, Any]
Uid = dict[str, str]


@functools.cache
def schema() -> cedarpy.Schema:
    """The parsed schema handle (parsed once per process)."""
    return cedarpy.Schema.from_str(SCHEMA_TEXT)


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
