"""The whole control loop on one machine: a control plane with Lattice's CRDs, the hook server as a
process, the controllers installed by the caller, then Metacontroller calling the hooks.

The order matters: the CRDs (Lattice's, the upstream ones, Metacontroller's) go in before
kube-controller-manager starts, so its garbage collector knows every owner kind at once; the
controllers and their RBAC go in before Metacontroller starts, so it can act as a restricted
identity from its first request. What is Lattice-specific (which objects, which flags, which
identity) comes from the caller — ``cli.dev`` passes what ``manifests/`` ships.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from lattice_dev.controlplane import DEFAULT_START_TIMEOUT, ControlPlane
from lattice_dev.crd_files import lattice_crds, metacontroller_crd_paths
from lattice_dev.hook_server import HookServerProcess

HOOKS_KUBECONFIG_ENV = "LATTICE_HOOKS_KUBECONFIG"
Install = Callable[[ControlPlane, str], None]
"""``install(cp, hooks_url)``: apply the controllers (and whatever else) pointing at the hooks."""


@attrs.define(eq=False)
class Loop:
    """A running loop: ``cp`` (Metacontroller running in it) and ``hooks`` (the hook server)."""

    cp: ControlPlane
    hooks: HookServerProcess

    def stop(self, *, keep_workdir: bool = False) -> None:
        self.cp.stop_metacontroller()
        self.hooks.stop()
        self.cp.stop(keep_workdir=keep_workdir)

    def __enter__(self) -> Loop:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(keep_workdir=exc_type is not None)


def start_loop(
    workdir: Path | str | None = None,
    *,
    install: Install,
    metacontroller_args: Sequence[str] = (),
    metacontroller_user: str | None = None,
    hooks_env: Mapping[str, str] | None = None,
    hooks_user: str | None = None,
    upstream_crds: bool = True,
    extra_crds: Iterable[Path | str | Mapping[str, Any]] = (),
    timeout: float = DEFAULT_START_TIMEOUT,
    bin_dir: Path | None = None,
) -> Loop:
    """Start the plane (with Lattice's and Metacontroller's CRDs), the hook server, ``install`` it,
    then Metacontroller with ``metacontroller_args`` acting as ``metacontroller_user`` (a client
    certificate; ``system:masters`` when None). With ``hooks_user``, the hook server gets a
    kubeconfig acting as that identity (``LATTICE_HOOKS_KUBECONFIG``: it writes Events with it).
    Everything is stopped again when a step fails."""
    cp = ControlPlane.start(
        workdir, upstream_crds=upstream_crds, timeout=timeout, bin_dir=bin_dir,
        extra_crds=[*lattice_crds(), *metacontroller_crd_paths(), *extra_crds],
    )
    hooks: HookServerProcess | None = None
    try:
        env = dict(hooks_env or {})
        if hooks_user is not None:
            kubeconfig = cp.write_kubeconfig(cp.workdir / "lattice-hooks.kubeconfig", user=hooks_user)
            env[HOOKS_KUBECONFIG_ENV] = str(kubeconfig)
        hooks = HookServerProcess.start(cp.workdir / "logs", env=env, timeout=timeout)
        install(cp, hooks.url)
        cp.start_metacontroller(metacontroller_args, user=metacontroller_user, timeout=timeout)
    except BaseException:
        if hooks is not None:
            hooks.stop()
        cp.stop(keep_workdir=True)
        raise
    return Loop(cp, hooks)
