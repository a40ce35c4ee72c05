"""Labels and names every generated object shares."""

from typing import Any

from crds import KubeObject

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "lattice"
NAME = "app.kubernetes.io/name"
# The label the Cilium and Istio policies select workloads by.
SELECTOR = NAME



def base_labels(name: str) -> dict[str, str]:
    return {NAME: name, MANAGED_BY: MANAGED_BY_VALUE}


def new_object(api_version: str, kind: str, name: str, namespace: str | None, *,
               labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> KubeObject:
    """A Kubernetes object skeleton with the labels every Lattice child carries."""
    meta: dict[str, Any] = {"name": name, "labels": {**base_labels(name), **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}
