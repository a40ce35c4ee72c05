"""Four levels: root cell <- agent+cell <- agent+cell <- agent, each cluster with its own
kube-apiserver. The root serves a GET for the deepest cluster (the original stopped at two)."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tunnel_procs import Proc, bootstrap, start_agent, start_cell, start_operator

from lattice_dev import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NAMES = ("root", "mid1", "mid2", "leaf")


@pytest.fixture(scope="module")
def chain(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    planes: list[ControlPlane] = []
    procs: list[Proc] = []
    logs = tmp_path_factory.mktemp("chain-logs")
    try:
        for name in NAMES:
            planes.append(
                ControlPlane.start(
                    tmp_path_factory.mktemp(f"cp-{name}"),
                    controller_manager=False,
                    upstream_crds=False,
                    bin_dir=testbed_bin,
                )
            )
        cells = [start_cell("root", planes[0], logs)]
        procs.append(cells[0])
        for depth, name in enumerate(NAMES[1:3], start=1):
            bootstrap(cells[-1], name, planes[depth])
            cells.append(start_operator(name, planes[depth], logs))  # finds its parent config: runs its agent too
            procs.append(cells[-1])
        bootstrap(cells[-1], "leaf", planes[3])
        procs.append(start_agent(planes[3], logs, "leaf"))
        cells[0].wait(lambda c: c.reachable("leaf"), 60, "routing to leaf")  # type: ignore[attr-defined]
        yield {"planes": planes, "cells": cells}
    finally:
        for p in procs:
            p.kill()
        for cp in planes:
            cp.stop()


def test_root_routes_to_every_depth(chain: dict) -> None:
    root = chain["cells"][0]
    subtree = {c["name"]: c for c in root.status()["subtree"]}
    assert {n: (subtree[n]["via"], subtree[n]["parent"]) for n in NAMES[1:]} == {
        "mid1": ("mid1", "root"),
        "mid2": ("mid1", "mid1"),
        "leaf": ("mid1", "mid2"),
    }


def test_get_for_the_deepest_cluster_from_the_root(chain: dict) -> None:
    root = chain["cells"][0]
    leaf_cp: ControlPlane = chain["planes"][3]
    name = f"deep-{uuid.uuid4().hex[:6]}"
    leaf_cp.kubectl("create", "configmap", name, "-n", "default", "--from-literal=where=leaf")
    path = f"/api/v1/namespaces/default/configmaps/{name}"
    with root.proxy_client() as proxy:
        tunnelled = proxy.get(f"/clusters/leaf{path}")
        assert tunnelled.status_code == 200, tunnelled.text
        # Not present on the intermediate clusters: the request really reached the leaf.
        assert proxy.get(f"/clusters/mid2{path}").status_code == 404
    ctx = ssl.create_default_context(cafile=str(leaf_cp.ca_file))
    with httpx.Client(
        base_url=leaf_cp.server, verify=ctx, headers={"Authorization": f"Bearer {leaf_cp.token}"}, timeout=15
    ) as d:
        assert tunnelled.json() == d.get(path).json()
