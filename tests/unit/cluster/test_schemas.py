"""Every generated object against the real upstream CRD schemas (Cluster API v1.13 core and kubeadm,
CAPD, CAPA, CAPO, CAPMOX, CAPRKE2; from testbed/crds.sh): types, required fields, enums, patterns,
bounds, defaults, and nothing the apiserver would prune. CEL rules are checked by the integration
test that creates the objects on a real apiserver."""

from __future__ import annotations

import copy

import pytest

from tests.unit import upstream_crds

from .support import compile_doc, example_docs

# Kubernetes' own kinds: no CRD schema here, the real apiserver checks them (integration tests).
BUILT_IN = ("v1", "rbac.authorization.k8s.io/v1")

DOCS = example_docs()


@pytest.mark.parametrize("example", sorted(DOCS))
def test_objects_match_upstream_schemas(example: str) -> None:
    plan = compile_doc(DOCS[example])
    assert plan.ok
    index = upstream_crds.cluster_api()
    for obj in plan.objects:
        if obj["apiVersion"] not in BUILT_IN:  # RoleBindings: checked by the real apiserver (integration)
            index.assert_valid(obj)


def test_the_check_catches_mistakes() -> None:
    """A negative control: wrong types, unknown (pruned) fields and enum values are reported."""
    index = upstream_crds.cluster_api()
    md = next(o for o in compile_doc(DOCS["docker"]).objects if o["kind"] == "MachineDeployment")
    bad = copy.deepcopy(md)
    bad["spec"]["replicas"] = "two"
    bad["spec"]["template"]["spec"]["infrastructureRef"]["apiVersion"] = "x/v1"
    bad["spec"]["rollout"] = {"strategy": {"type": "Recreate"}}
    found = index.errors(bad)
    assert any("replicas" in e and "integer" in e for e in found)
    assert any("infrastructureRef.apiVersion: unknown field (pruned)" in e for e in found)
    assert any("'Recreate' is not one of" in e for e in found)
