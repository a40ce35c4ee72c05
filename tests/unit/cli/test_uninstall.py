"""cli.uninstall: which LatticeCluster is the cluster's own, and what blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli.errors import LatticeError
from cli.uninstall import own_cluster
from lattice_move import names


class Listing:
    """Stands in for cli.kube.Kubectl's reads (no API server in a unit test)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.kubeconfig = Path("k")
        self._items = items

    def items(self, *_args: str) -> list[dict[str, Any]]:
        return self._items


def lc(name: str, imported: bool = False) -> dict[str, Any]:
    annotations = {names.IMPORTED_FROM: "root"} if imported else {}
    return {"metadata": {"name": name, "annotations": annotations}}


def test_the_imported_one_is_the_clusters_own_and_the_others_its_children() -> None:
    me, children = own_cluster(Listing([lc("leaf"), lc("mid", imported=True), lc("other")]), None)  # type: ignore[arg-type]
    assert me["metadata"]["name"] == "mid" and children == ["leaf", "other"]
    me, children = own_cluster(Listing([lc("solo")]), None)  # type: ignore[arg-type]
    assert me["metadata"]["name"] == "solo" and children == []


def test_ambiguity_and_absence_are_errors() -> None:
    with pytest.raises(LatticeError, match=r"several LatticeClusters here \(a, b\): name the cluster with -n"):
        own_cluster(Listing([lc("a"), lc("b")]), None)  # type: ignore[arg-type]
    with pytest.raises(LatticeError, match="no LatticeCluster 'c' here"):
        own_cluster(Listing([lc("a")]), "c")  # type: ignore[arg-type]
    with pytest.raises(LatticeError, match="not a Lattice cluster"):
        own_cluster(Listing([]), None)  # type: ignore[arg-type]
