"""Distributable resources, as the parent's cell and the child's agent agree on them (pure): the
CloudProviders, SecretsProviders, propagating CedarPolicies and OIDCProviders of the parent's
``lattice-system``, and the Secrets they reference, handed to every child (in ``MoveComplete`` and
in ``SyncResources``) and kept in sync, deletions included.

Every copy is labelled ``lattice.dev/inherited=true``, ``lattice.dev/origin-cluster=<parent>`` and
``lattice.dev/original-name``; policies and OIDC providers are renamed ``<parent>--<name>`` (the
child's own may share a name), providers and Secrets keep theirs (clusters and providers refer to
them by name). A set is always complete: what carries this origin's label and is not in it goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from crds import KubeObject
from lattice_proto import agent_pb2 as pb

NAMESPACE = "lattice-system"
INHERITED = "lattice.dev/inherited"
ORIGIN = "lattice.dev/origin-cluster"
ORIGINAL_NAME = "lattice.dev/original-name"
API_VERSION = "lattice.dev/v1alpha1"


@attrs.frozen
class Kind:
    field: str  # the DistributableResources field
    api_version: str
    kind: str
    plural: str
    renamed: bool


KINDS = (
    Kind("secrets", "v1", "Secret", "secrets", False),  # first: what the others reference
    Kind("cloud_providers", API_VERSION, "CloudProvider", "cloudproviders", False),
    Kind("secrets_providers", API_VERSION, "SecretsProvider", "secretsproviders", False),
    Kind("cedar_policies", API_VERSION, "CedarPolicy", "cedarpolicies", True),
    Kind("oidc_providers", API_VERSION, "OIDCProvider", "oidcproviders", True),
)
BY_KIND = {k.kind: k for k in KINDS}


def _meta(obj: KubeObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def original_name(obj: KubeObject) -> str:
    meta = _meta(obj)
    return str((meta.get("labels") or {}).get(ORIGINAL_NAME) or meta.get("name") or "")


def copy_for_child(obj: KubeObject, kind: Kind, origin: str) -> KubeObject:
    """The object as a child gets it: spec (or data), labels, the name rules above."""
    name = original_name(obj)
    labels = {k: v for k, v in (_meta(obj).get("labels") or {}).items() if not k.startswith("lattice.dev/")}
    labels.update({INHERITED: "true", ORIGIN: origin, ORIGINAL_NAME: name})
    out: KubeObject = {"apiVersion": kind.api_version, "kind": kind.kind,
                       "metadata": {"name": f"{origin}--{name}" if kind.renamed else _meta(obj).get("name"),
                                    "namespace": NAMESPACE, "labels": labels}}
    for key in ("spec", "data", "type"):
        if key in obj:
            out[key] = obj[key]
    return out


def propagates(obj: KubeObject, kind: Kind) -> bool:
    spec = obj.get("spec") or {}
    if kind.kind == "CedarPolicy":
        return bool(spec.get("propagate", True)) and spec.get("enabled", True) is not False
    if kind.kind == "OIDCProvider":
        return bool(spec.get("propagate", True))
    return True


def referenced_secrets(objects: Iterable[KubeObject]) -> set[str]:
    """Names of the lattice-system Secrets the providers' credentials and OIDC client secrets name."""
    found = set()
    for obj in objects:
        spec = obj.get("spec") or {}
        for ref in (spec.get("credentialsSecretRef"), spec.get("clientSecret")):
            if isinstance(ref, dict) and ref.get("name") and ref.get("namespace", NAMESPACE) == NAMESPACE:
                found.add(str(ref["name"]))
    return found


def encode(objects: Iterable[KubeObject]) -> pb.DistributableResources:
    out = pb.DistributableResources()
    for obj in sorted(objects, key=lambda o: (str(o.get("kind")), str(_meta(o).get("name")))):
        getattr(out, BY_KIND[str(obj["kind"])].field).append(json.dumps(obj, sort_keys=True).encode())
    return out


def decode(resources: pb.DistributableResources) -> list[tuple[Kind, KubeObject]]:
    """In apply order: Secrets first."""
    return [(kind, json.loads(raw)) for kind in KINDS for raw in getattr(resources, kind.field)]
