"""lattice_dev.crd_files: Lattice's CRDs from the package, upstream ones from a variable or a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lattice_dev.crd_files import lattice_crds, load_crds, upstream_crd_paths
from lattice_dev.errors import DevClusterError

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "a.x"}}


def test_lattice_crds_come_from_the_crds_package() -> None:
    names = {d["metadata"]["name"] for d in lattice_crds()}
    assert {"latticeservices.lattice.dev", "latticeclusters.lattice.dev"} <= names


def test_upstream_crds_from_a_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(CRD))
    monkeypatch.setenv("LATTICE_UPSTREAM_CRDS", str(tmp_path))
    monkeypatch.setenv("LATTICE_TESTBED_CACHE", str(tmp_path / "cache"))
    paths = upstream_crd_paths()
    assert paths == [tmp_path / "a.yaml"]
    assert load_crds(paths, names={"a.x"}) == [CRD]
    with pytest.raises(DevClusterError, match="not found"):
        load_crds(paths, names={"b.x"})


def test_without_a_variable_or_a_checkout_the_error_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LATTICE_UPSTREAM_CRDS", raising=False)
    monkeypatch.delenv("LATTICE_CHECKOUT", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DevClusterError, match=r"\$LATTICE_UPSTREAM_CRDS is unset and there is no Lattice checkout"):
        upstream_crd_paths()
