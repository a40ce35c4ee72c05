"""``lattice uninstall -k KUBECONFIG``: the reverse of ``install``. A cluster that manages itself
hands its Cluster API objects to a cluster that can delete it — the unpivot — and that cluster
tears the infrastructure down.

* The cluster has a parent (its ``lattice-parent-config``) and no ``--bootstrap`` is given: its own
  LatticeCluster is deleted; its agent sends the objects to the parent's cell, which imports them
  and deletes the cluster there.
* A root (or ``--bootstrap`` given, e.g. because the parent is gone): a bootstrap cluster (as for
  install) gets a copy of the LatticeCluster marked pivoted, the cluster gets the bootstrap's
  parent config (its operator starts an agent towards it), and then as above.

Refused while the cluster has child clusters (named). Asks for confirmation unless ``-y``.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from cli.bootstrap import Bootstrap, LocalBootstrap
from cli.errors import LatticeError
from cli.install_plan import BootstrapChoice, BootstrapKind
from cli.kube import Kubectl
from cli.progress import Progress
from lattice_move import names
from lattice_move.manifest import without_server_fields

PHASES = ("inspect", "bootstrap", "attach", "unpivot", "teardown", "cleanup")
TITLES = {"inspect": "Reading the cluster", "bootstrap": "Creating the bootstrap cluster",
          "attach": "Making the bootstrap cluster its parent", "unpivot": "Handing its Cluster API objects back",
          "teardown": "Deleting its infrastructure", "cleanup": "Removing the bootstrap cluster"}


class UninstallFailed(LatticeError):
    def __init__(self, phase: str, message: str) -> None:
        super().__init__(f"uninstall failed in phase {phase!r}: {message}")


def own_cluster(k: Kubectl, name: str | None) -> tuple[dict[str, Any], list[str]]:
    """(the cluster's own LatticeCluster, the names of the others: its children)."""
    items = k.items("latticeclusters")
    if not items:
        raise LatticeError(f"no LatticeCluster in the cluster of {k.kubeconfig}: not a Lattice cluster")
    names_all = sorted(i["metadata"]["name"] for i in items)
    if name is None:
        # Its own LatticeCluster came in with the pivot (lattice.dev/imported-from); the others are children.
        own = [i for i in items if names.IMPORTED_FROM in (i["metadata"].get("annotations") or {})] or \
            (items if len(items) == 1 else [])
        if not own:
            raise LatticeError(f"several LatticeClusters here ({', '.join(names_all)}): name the cluster with -n")
    else:
        own = [i for i in items if i["metadata"]["name"] == name]
        if not own:
            raise LatticeError(f"no LatticeCluster {name!r} here (there are: {', '.join(names_all)})")
    me = own[0]
    return me, [n for n in names_all if n != me["metadata"]["name"]]


class Uninstaller:
    def __init__(self, target: Kubectl, name: str | None, progress: Progress, *, bootstrap: Bootstrap | None,
                 workdir: Path, timeout: float = 1800.0, poll: float = 1.0) -> None:
        self.target = target
        self.name = name
        self.progress = progress
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.timeout = timeout
        self.poll = poll
        self.phase = "inspect"

    def inspect(self) -> tuple[str, bool]:
        """(the cluster's name, whether it has a parent); refuses when it has children."""
        me, children = own_cluster(self.target, self.name)
        name = me["metadata"]["name"]
        if children:
            raise LatticeError(f"cluster {name} has child clusters: {', '.join(children)}; uninstall them first")
        parent = self.target.get("secret", "lattice-parent-config", "-n", "lattice-system") is not None
        return name, parent

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.progress.phase(phase)

    def run(self, name: str) -> None:
        try:
            if self.bootstrap is not None:
                self._enter("bootstrap")
                self.bootstrap.create()
                self.bootstrap.install()
                self._enter("attach")
                self._attach(name, self.bootstrap.kubectl())
            self._enter("unpivot")
            self.target.run("delete", "latticecluster", name, "--wait=false")
            self._wait_gone(name)
            self._enter("teardown")
            if self.bootstrap is not None:
                self._wait(lambda: self.bootstrap is not None and self.bootstrap.kubectl().get(
                    "latticecluster", name) is None, f"{name}'s Cluster API objects deleted by the bootstrap cluster")
            self._enter("cleanup")
            if self.bootstrap is not None:
                self.bootstrap.remove()
        except LatticeError as exc:
            self.progress.fail(self.phase)
            raise UninstallFailed(self.phase, str(exc)) from exc
        except Exception as exc:
            self.progress.fail(self.phase)
            raise UninstallFailed(self.phase, f"{type(exc).__name__}: {exc}") from exc
        self.progress.finish()

    def _attach(self, name: str, boot: Kubectl) -> None:
        own = self.target.get("latticecluster", name)
        assert own is not None
        copy = without_server_fields(own)
        copy["metadata"].pop("finalizers", None)
        copy["metadata"]["annotations"] = {names.PIVOT_PHASE: "Complete"}  # lives in the cluster: nothing to make
        boot.apply([copy])
        token = subprocess.run([sys.executable, "-m", "lattice_cell.main", "issue-token", "--kubeconfig",
                                str(boot.kubeconfig), "--child", name], capture_output=True, text=True,
                               check=True, timeout=120).stdout.strip()
        manifests = self._manifests(boot, name, token)
        config = [d for d in manifests if d.get("kind") == "Secret"
                  and d["metadata"]["name"] == "lattice-parent-config"]
        if not config:
            raise LatticeError("the bootstrap cell handed out no parent config")
        self.target.run("delete", "secret", "lattice-agent-credentials", "-n", "lattice-system",
                        "--ignore-not-found", check=False)  # issued by another parent's CA
        self.target.apply(config)
        self._wait(lambda: any(a.get("cluster") == name and a.get("connectivity") == "connected"
                               for a in self._cell_status().get("agents", [])),
                   f"{name}'s agent connected to the bootstrap cell")

    def _cell_status(self) -> dict[str, Any]:
        assert isinstance(self.bootstrap, LocalBootstrap)
        status: dict[str, Any] = self.bootstrap.cluster.cell_status()
        return status

    def _manifests(self, boot: Kubectl, name: str, token: str) -> list[dict[str, Any]]:
        if not isinstance(self.bootstrap, LocalBootstrap):
            raise LatticeError("uninstalling a root cluster needs the local bootstrap (--bootstrap local): the cell "
                               "of a kind or existing bootstrap cluster is not reachable from the cluster yet")
        cell = self.bootstrap.cluster
        secret = boot.get("secret", "lattice-ca", "-n", "lattice-system") or {}
        ca = base64.b64decode(secret["data"]["ca-trust.crt"] if "ca-trust.crt" in secret.get("data", {})
                              else secret["data"]["ca.crt"])
        ca_file = self.workdir / "bootstrap-ca.crt"
        ca_file.write_bytes(ca)
        url = f"https://127.0.0.1:{cell.ports.bootstrap}/api/clusters/{name}/manifests"
        resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                         verify=ssl.create_default_context(cafile=str(ca_file)))
        if resp.status_code != 200:
            raise LatticeError(f"the bootstrap webhook answered {resp.status_code}: {resp.text[:300]}")
        return [d for d in yaml.safe_load_all(resp.text) if isinstance(d, dict)]

    def _wait_gone(self, name: str) -> None:
        """Until the cluster's own LatticeCluster is gone (its objects handed back) or the cluster
        itself stops answering (its infrastructure went first)."""
        def gone() -> bool:
            if not self.target.reachable():
                return True
            lc = self.target.get("latticecluster", name)
            if lc is None:
                return True
            self.progress.status((lc.get("status") or {}).get("phase"), (lc.get("status") or {}).get("message"))
            return False
        self._wait(gone, f"{name} handed back")

    def _wait(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if time.monotonic() > deadline:
                raise LatticeError(f"timed out after {self.timeout:.0f}s waiting for {what}")
            time.sleep(self.poll)


def uninstall(kubeconfig: Path, *, context: str | None = None, name: str | None, yes: bool,
              bootstrap_choice: BootstrapChoice | None, keep_on_failure: bool, run_id: str, workdir: Path,
              timeout: float, confirm: Any = None) -> int:
    from cli import bootstrap as bootstraps

    target = Kubectl.for_kubeconfig(kubeconfig, _kubectl(), context)
    titles = dict(TITLES)
    with Progress(PHASES, titles) as progress:
        progress.phase("inspect")
        probe = Uninstaller(target, name, progress, bootstrap=None, workdir=workdir, timeout=timeout)
        try:
            cluster, has_parent = probe.inspect()
        except LatticeError as exc:
            progress.fail("inspect")
            raise UninstallFailed("inspect", str(exc)) from exc
    own = target.get("latticecluster", cluster) or {}
    provider = ((own.get("spec") or {}).get("providerRef")) or "?"
    if not yes:
        ask = confirm or _ask
        if not ask(f"This will permanently delete cluster '{cluster}' and all its resources.\nProvider: {provider}\n"
                   "Are you sure? [y/N] "):
            print("Aborted", file=sys.stderr)
            return 1
    use_bootstrap = bootstrap_choice is not None or not has_parent
    workdir.mkdir(parents=True, exist_ok=True)
    with Progress(PHASES, titles) as progress:
        boot = None
        if use_bootstrap:
            choice = bootstrap_choice or BootstrapChoice(BootstrapKind.LOCAL)
            boot = bootstraps.make(choice, workdir, progress.note, image="", checkout=None, run_id=run_id)
        runner = Uninstaller(target, cluster, progress, bootstrap=boot, workdir=workdir, timeout=timeout)
        try:
            runner.run(cluster)
        except UninstallFailed:
            if boot is not None and not keep_on_failure:
                boot.remove()
            elif boot is not None:
                print(boot.keep_note(), file=sys.stderr)
            raise
    print(f"cluster {cluster} is gone", file=sys.stderr)
    return 0


def _ask(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _kubectl() -> str | None:
    from lattice_dev.binaries import find_binaries
    from lattice_dev.errors import DevClusterError

    try:
        return str(find_binaries() / "kubectl")
    except DevClusterError:
        return None
