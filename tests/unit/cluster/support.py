"""Shared inputs for the cluster compiler tests: the examples and their CloudProviders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

import crds
from crds import CloudProvider, LatticeCluster
from hooks.cluster import AgentBootstrap, ClusterInputs, ClusterPlan, compile_cluster

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples" / "clusters").glob("*.yaml"))
Obj = dict[str, Any]


def load(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def example_docs() -> dict[str, Obj]:
    """Example file stem -> its LatticeCluster document."""
    docs = {p.stem: load(p)[0] for p in EXAMPLES}
    return {stem: d for stem, d in docs.items() if d.get("kind") == "LatticeCluster"}


def providers() -> dict[str, CloudProvider]:
    out: dict[str, CloudProvider] = {}
    for doc in load(ROOT / "examples" / "clusters" / "cloud-providers.yaml"):
        obj = crds.parse(doc).obj
        assert isinstance(obj, CloudProvider)
        out[obj.name] = obj
    return out


def cluster(doc: Obj) -> LatticeCluster:
    result = crds.parse(copy.deepcopy(doc))
    assert result.ok, [str(e) for e in result.errors]
    assert isinstance(result.obj, LatticeCluster)
    return result.obj


def inputs(doc: Obj, *, agent: bool = True, provider: Any = "auto") -> ClusterInputs:
    c = cluster(doc)
    p = providers().get(c.spec.provider_ref) if provider == "auto" else provider
    return ClusterInputs(c, p, AgentBootstrap() if agent else None)


def compile_doc(doc: Obj, **kwargs: Any) -> ClusterPlan:
    return compile_cluster(inputs(doc, **kwargs))


def by_kind(plan: ClusterPlan) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for o in plan.objects:
        out.setdefault(o["kind"], []).append(o)
    return out


def one(plan: ClusterPlan, kind: str) -> Obj:
    found = by_kind(plan)[kind]
    assert len(found) == 1, [o["metadata"]["name"] for o in found]
    return found[0]


def base_doc(config: Obj, *, bootstrap: str = "kubeadm", provider_ref: str = "docker", **spec: Any) -> Obj:
    doc: Obj = {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "metadata": {"name": "c1"},
        "spec": {"providerRef": provider_ref,
                 "provider": {"kubernetes": {"version": "1.32.0", "bootstrap": bootstrap}, "config": config},
                 "nodes": {"controlPlane": 1, "workerPools": {"default": {"replicas": 1}}}},
    }
    doc["spec"].update(spec)
    return doc
