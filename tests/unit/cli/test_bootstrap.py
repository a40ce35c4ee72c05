"""cli.bootstrap: the kind/existing-cluster bootstrap runs its operator with the cell's rights."""

from __future__ import annotations

from pathlib import Path

import yaml

from cli.bootstrap import operator_objects
from lattice_cell import rbac

ROOT = Path(__file__).resolve().parents[3]


def test_the_bootstrap_operator_runs_as_the_shipped_cell_identity_not_cluster_admin() -> None:
    docs = operator_objects("registry.example/lattice:1")
    assert not [d for d in docs if d["kind"] in ("ClusterRoleBinding", "RoleBinding", "ServiceAccount")]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == rbac.OPERATOR_SERVICE_ACCOUNT
    shipped = list(yaml.safe_load_all((ROOT / "manifests" / "cell-rbac.yaml").read_text()))
    assert {"kind": "ServiceAccount", "name": account} in [{"kind": d["kind"], "name": d["metadata"]["name"]}
                                                            for d in shipped]
    assert "cell-rbac.yaml" in yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())["resources"]
