"""The Lattice Cedar schema: entity types, actions, and the schema every statement is checked against.

Entity types live in the ``Lattice`` namespace:

* ``Lattice::User`` — a human or ServiceAccount identity, member (``in``) of its ``Lattice::Group``s.
* ``Lattice::Group`` — an identity group.
* ``Lattice::Cluster`` — a cluster; ``name``, ``region``, ``tier`` and optional ``environment``
  attributes come from the cluster's labels, and every label is also an entity tag.
* ``Lattice::Service`` — a LatticeService, id ``"<namespace>/<name>"``.
* ``Lattice::SecretPath`` — a secret, id ``"<provider>:<path>"``.

Actions: ``Lattice::Action::"AccessCluster"`` (User → Cluster) and
``Lattice::Action::"AccessSecret"`` (Service → SecretPath).

The entities themselves are built by ``lattice_cedar.entities``.
"""

from __future__ import annotations

import functools

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


@functools.cache
def parsed_schema() -> cedarpy.Schema:
    """The parsed schema handle (parsed once per process)."""
    return cedarpy.Schema.from_str(SCHEMA_TEXT)
