"""The first-boot installer the cluster compiler puts on control-plane nodes, run for real: a
lattice-cell serving the bootstrap endpoint for a parent apiserver, a child apiserver standing in
for the new cluster's, the files written exactly as cloud-init writes them from the bootstrap Secret
(``contentFrom``), the real kubectl and curl. Only cloud-init itself and the node are simulated (the
script runs in a temporary directory instead of /etc/lattice/bootstrap)."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tunnel_procs import CellProc, start_cell

from crds.cluster import Bootstrap
from hooks.cluster import BootstrapData, bootstrap_secret
from hooks.cluster.agent import KEYS, script
from lattice_dev import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def parent_and_child(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CellProc,
                                                                                                       ControlPlane]]:
    planes: list[ControlPlane] = []
    cell: CellProc | None = None
    try:
        for name in ("parent", "child"):
            planes.append(ControlPlane.start(tmp_path_factory.mktemp(f"cp-{name}"), controller_manager=False,
                                             upstream_crds=False, bin_dir=testbed_bin))
        cell = start_cell("parent", planes[0], tmp_path_factory.mktemp("cell-logs"))
        yield cell, planes[1]
    finally:
        if cell is not None:
            cell.kill()
        for cp in planes:
            cp.stop()


def _write_files(directory: Path, secret: dict) -> None:  # type: ignore[type-arg]
    """What cloud-init does with the control plane's files[].contentFrom.secret entries."""
    directory.mkdir(mode=0o700, parents=True)
    for key in KEYS:
        f = directory / key
        f.write_bytes(base64.b64decode(secret["data"][key]))
        f.chmod(0o600)


def _run(cp: ControlPlane, directory: Path, child: str) -> subprocess.CompletedProcess[str]:
    text = script(child, Bootstrap.KUBEADM, directory=str(directory), kubectl=str(cp.bin_dir / "kubectl"),
                  kubeconfig=str(cp.kubeconfig))
    return subprocess.run(["sh", "-s"], input=text, capture_output=True, text=True, timeout=180, check=False)


def test_installer_fetches_and_applies_the_manifests_once(parent_and_child: tuple[CellProc, ControlPlane],
                                                         tmp_path: Path) -> None:
    cell, child_cp = parent_and_child
    token = cell.issue_token("kid")
    secret = bootstrap_secret("kid", BootstrapData(url=f"https://127.0.0.1:{cell.bootstrap_port}",
                                                   ca_bundle_pem=cell.ca_bundle().trust_pem().decode(), token=token))
    first, second = tmp_path / "node-1", tmp_path / "node-2"
    _write_files(first, secret)
    _write_files(second, secret)  # a second control-plane node got the same files

    done = _run(child_cp, first, "kid")
    assert done.returncode == 0, done.stderr
    assert "agent installed" in done.stderr
    config = child_cp.get_json("-n", "lattice-system", "secret", "lattice-parent-config")
    assert base64.b64decode(config["data"]["cluster"]).decode() == "kid"
    assert (first / "token").read_text() == ""  # spent, nothing left readable on the node
    assert not list(first.glob("work.*")), "the working directory with the manifests is removed"

    replay = _run(child_cp, second, "kid")
    assert replay.returncode == 0, replay.stderr
    assert "token already used" in replay.stderr

    again = _run(child_cp, first, "kid")
    assert again.returncode == 0 and "nothing to do" in again.stderr
