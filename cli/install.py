"""``lattice install -f cluster.yaml``: a bootstrap cluster runs Lattice long enough to create the
management cluster, moves that cluster's Cluster API objects into it (the pivot), and goes.

Phases (each failure names its phase): ``bootstrap`` (create it: ``cli.bootstrap``), ``install``
(Lattice there), ``apply`` (the credentials Secrets, CloudProviders and the LatticeCluster),
``provision`` (Cluster API makes the machines; the first control-plane machine installs the agent
with a one-time token), ``pivot`` (the bootstrap cell moves the objects in; the new cluster's own
LatticeCluster is Ready), ``detach`` (the new cluster forgets its temporary parent: its agent stops,
it is a root), ``cleanup`` (the bootstrap cluster goes, unless asked to stay).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from cli.bootstrap import Bootstrap, LocalBootstrap
from cli.errors import LatticeError
from cli.install_plan import DOCKER_PROVIDER, PHASES, Inputs
from cli.kube import Kubectl
from cli.progress import Progress

TITLES = {
    "bootstrap": "Creating the bootstrap cluster",
    "install": "Installing Lattice on it (CRDs, Metacontroller, hook server, operator)",
    "apply": "Applying the CloudProvider and the LatticeCluster",
    "provision": "Provisioning the cluster",
    "pivot": "Moving its Cluster API objects into it (pivot)",
    "detach": "Detaching it from the bootstrap cluster",
    "cleanup": "Removing the bootstrap cluster",
}


class InstallFailed(LatticeError):
    def __init__(self, phase: str, message: str) -> None:
        super().__init__(f"install failed in phase {phase!r}: {message}")
        self.phase = phase


@attrs.define
class Installed:
    name: str
    kubeconfig: Path
    bootstrap: Bootstrap
    seconds: float
    local: Any = None  # the LocalCluster when the cluster runs on this machine


def _status(k: Kubectl, name: str) -> dict[str, Any]:
    found = k.get("latticecluster", name) or {}
    return dict(found.get("status") or {})


def ready_machines(status: dict[str, Any]) -> int:
    return int(status.get("readyControlPlane") or 0) + int(status.get("readyWorkers") or 0)


class Installer:
    def __init__(self, inputs: Inputs, bootstrap: Bootstrap, progress: Progress, workdir: Path, *,
                 timeout: float = 1800.0, keep_bootstrap: bool = False, poll: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.inputs = inputs
        self.bootstrap = bootstrap
        self.progress = progress
        self.workdir = workdir
        self.timeout = timeout
        self.keep_bootstrap = keep_bootstrap
        self.poll = poll
        self.sleep = sleep
        self.phase = PHASES[0]
        self.child_kubeconfig = workdir / f"{inputs.name}.kubeconfig"

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.progress.phase(phase)

    def run(self) -> Installed:
        started = time.monotonic()
        try:
            self._enter("bootstrap")
            self.bootstrap.create()
            self._enter("install")
            self.bootstrap.install()
            k = self.bootstrap.kubectl()
            self._enter("apply")
            self._apply(k)
            self._enter("provision")
            self._wait(k, lambda s: s.get("phase") in ("Pivoting", "Pivoted"), "provisioned",
                       each=lambda: self.remember_kubeconfig(k))
            self._enter("pivot")
            self._wait(k, lambda s: s.get("phase") == "Pivoted", "pivoted", each=lambda: self.remember_kubeconfig(k))
            child = self._child_kubectl(k)
            self._wait(child, lambda s: s.get("phase") == "Ready", "Ready on itself")
            self._enter("detach")
            self._detach(k, child)
            self._enter("cleanup")
            if not self.keep_bootstrap:
                self.bootstrap.remove()
            else:
                self.progress.note(self.bootstrap.keep_note())
        except LatticeError as exc:
            self.progress.fail(self.phase)
            if isinstance(exc, InstallFailed):
                raise
            raise InstallFailed(self.phase, str(exc)) from exc
        except Exception as exc:
            self.progress.fail(self.phase)
            raise InstallFailed(self.phase, f"{type(exc).__name__}: {exc}") from exc
        self.progress.finish()
        local = None
        if isinstance(self.bootstrap, LocalBootstrap):
            local = self.bootstrap.clusters.get(self.inputs.name)
        return Installed(self.inputs.name, self.child_kubeconfig, self.bootstrap, time.monotonic() - started, local)

    def _apply(self, k: Kubectl) -> None:
        k.run("create", "namespace", "lattice-system", check=False)
        objects = [*self.inputs.secrets, *self.inputs.providers]
        if not self.inputs.providers and self.inputs.cluster.spec.provider_ref == "docker":
            objects.append(DOCKER_PROVIDER)
        if objects:
            k.apply(objects)
        k.apply([self.inputs.cluster_doc])
        self.progress.note(f"LatticeCluster {self.inputs.name} applied to the bootstrap cluster")

    def _wait(self, k: Kubectl, done: Callable[[dict[str, Any]], bool], what: str,
              each: Callable[[], None] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        name, desired = self.inputs.name, self.inputs.machines()
        while True:
            if each is not None:
                each()
            status = _status(k, name)
            counted = status.get("phase") not in ("Pivoted", None)  # a pivoted parent counts no machines
            self.progress.status(status.get("phase"), status.get("message"),
                                 ready_machines(status) if counted else None, desired)
            if status.get("phase") == "Failed":
                raise LatticeError(f"LatticeCluster {name} is Failed: {status.get('message')}")
            if done(status):
                return status
            if time.monotonic() > deadline:
                raise LatticeError(f"{name} not {what} after {self.timeout:.0f}s (last: {status.get('phase')}: "
                                   f"{status.get('message')})")
            self.sleep(self.poll)

    def _child_kubectl(self, k: Kubectl) -> Kubectl:
        """The new cluster's own kubeconfig: Cluster API's ``<name>-kubeconfig`` Secret. (After the
        pivot it lives in the new cluster, so it is read as soon as it appears, and kept.)"""
        if not self.child_kubeconfig.exists():
            name = self.inputs.name
            secret = k.get("secret", f"{name}-kubeconfig", "-n", f"capi-{name}")
            value = ((secret or {}).get("data") or {}).get("value")
            if not value:
                raise LatticeError(f"no kubeconfig for {name}: Secret capi-{name}/{name}-kubeconfig is missing")
            self.child_kubeconfig.write_bytes(base64.b64decode(value))
            self.child_kubeconfig.chmod(0o600)
        return Kubectl(self.child_kubeconfig, k.binary)

    def remember_kubeconfig(self, k: Kubectl) -> None:
        """Save the kubeconfig while the bootstrap still holds it (before the pivot completes)."""
        with contextlib.suppress(LatticeError):
            self._child_kubectl(k)

    def _detach(self, k: Kubectl, child: Kubectl) -> None:
        for secret in ("lattice-parent-config", "lattice-agent-credentials"):
            child.run("delete", "secret", secret, "-n", "lattice-system", "--ignore-not-found", check=False)
        # Complete on the bootstrap: its LatticeCluster goes without touching the cluster.
        k.run("delete", "latticecluster", self.inputs.name, "--wait=false", "--ignore-not-found", check=False)
        self.progress.note(f"{self.inputs.name} manages itself and has no parent")
