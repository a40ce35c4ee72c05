"""``lattice dev up``: the whole loop on this machine — a control plane with the upstream, Lattice's
and Metacontroller's CRDs, the hook server, what ``manifests/`` ships (the controllers and
Metacontroller's RBAC, hooks pointed at the local server through the external-hooks component),
and Metacontroller with the flags ``manifests/`` ships, acting as its ServiceAccount; the hook server
writes its Events as the in-cluster hook server's ServiceAccount.

:func:`start_lattice_loop` is that loop for other callers: the integration tests' session fixture
and ``bench/reconcile.py`` run exactly what a person gets from ``lattice dev up``. ``lattice_dev`` is
imported only when a ``dev`` command runs (it adds ~60 ms to every start of ``lattice`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import LatticeError

if TYPE_CHECKING:
    from lattice_dev import ControlPlane
    from lattice_dev.loop import Loop

NO_METACONTROLLER_HELP = (
    "Do not run Metacontroller (nor install the controllers): applied objects are checked against the "
    "CRD schemas and stored, and nothing compiles them (lattice render shows what they would yield)."
)
METACONTROLLER_HELP = (
    "By default Metacontroller runs the Lattice controllers, so what you apply gets its children and "
    "status. It uses $LATTICE_METACONTROLLER_BIN, else the binary testbed/build.sh built."
)
METACONTROLLER_UNAVAILABLE = " No Metacontroller binary was found: set LATTICE_METACONTROLLER_BIN to one."
# The cluster identity the local hook server compiles for (the in-cluster Deployment's defaults).
HOOKS_ENV = {"LATTICE_CLUSTER_NAME": "default", "LATTICE_PROVIDER": "docker"}


def hooks_user() -> str:
    """The identity the local hook server writes Events as: the in-cluster one's ServiceAccount."""
    from hooks.controllers_manifest import NAMESPACE, SERVICE_NAME

    return f"system:serviceaccount:{NAMESPACE}:{SERVICE_NAME}"


def metacontroller_help() -> str:
    """The ``--no-metacontroller`` help, saying so when no binary is available (builds nothing)."""
    from lattice_dev.binaries import metacontroller_available

    return NO_METACONTROLLER_HELP + " " + METACONTROLLER_HELP + (
        "" if metacontroller_available() else METACONTROLLER_UNAVAILABLE)


def install_manifests(cp: ControlPlane, hooks_url: str) -> None:
    """``kubectl apply -k`` of an overlay of ``manifests/`` with every hook at ``hooks_url`` and
    without Lattice's in-cluster Metacontroller and hook server (the two components), written to
    ``<workdir>/lattice-overlay``."""
    from hooks.controllers_manifest import MANIFESTS, write_overlay

    if not (MANIFESTS / "kustomization.yaml").is_file():
        raise LatticeError(f"{MANIFESTS} not found: lattice dev up installs the controllers from a Lattice checkout")
    overlay = write_overlay(cp.workdir / "lattice-overlay", hooks_url)
    cp.kubectl("apply", "-k", str(overlay))


def start_lattice_loop(workdir: Path | str | None = None, *, metacontroller_args: Sequence[str] | None = None,
                       extra_crds: Iterable[Path | str | Mapping[str, Any]] = (),
                       hooks_env: Mapping[str, str] | None = None, **kwargs: Any) -> Loop:
    """:func:`lattice_dev.loop.start_loop` with what ``manifests/`` ships: the controllers (hooks at
    the local server), Metacontroller's flags (``metacontroller_args`` replaces them: for
    comparisons only) and its ServiceAccount as its identity. ``hooks_env`` adds to (or overrides)
    the hook server's environment, e.g. the cluster it believes it runs in."""
    from hooks.controllers_manifest import METACONTROLLER_FLAGS, metacontroller_user
    from lattice_dev.loop import start_loop

    args = METACONTROLLER_FLAGS if metacontroller_args is None else tuple(metacontroller_args)
    cluster_crds = cluster_controller_crds() if kwargs.get("upstream_crds", True) else []
    return start_loop(workdir, install=install_manifests, metacontroller_args=args,
                      metacontroller_user=metacontroller_user(), hooks_env={**HOOKS_ENV, **(hooks_env or {})},
                      hooks_user=hooks_user(), extra_crds=[*cluster_crds, *extra_crds], **kwargs)


def start_cluster_loop(workdir: Path, cluster: str, timeout: float, bin_dir: Path | None) -> Loop:
    """The loop of one cluster of a fleet on this machine (``lattice_dev.LocalCluster``: ``lattice
    install``'s local bootstrap, ``lattice dev up --clusters N``, the clusters the local cloud boots):
    :func:`start_lattice_loop`, its hook server believing it runs in ``cluster``."""
    return start_lattice_loop(workdir, hooks_env={"LATTICE_CLUSTER_NAME": cluster}, timeout=timeout, bin_dir=bin_dir)


def cell_service_account() -> str:
    """What a root cluster's lattice-operator runs as (``manifests/cell-rbac.yaml``): ``namespace/name``."""
    from lattice_cell import rbac

    return f"{rbac.NAMESPACE}/{rbac.OPERATOR_SERVICE_ACCOUNT}"


def cluster_controller_crds() -> list[dict[str, Any]]:
    """The CRDs of every child kind of the LatticeCluster controller (Cluster API core, kubeadm, RKE2
    and each provider Lattice compiles for): Metacontroller starts that controller only once all of
    them are served."""
    from hooks.controllers import latticecluster
    from lattice_dev.capi import capi_crds

    return capi_crds(f"{k.resource}.{k.api_version.rpartition('/')[0]}" for k in latticecluster.CRD_CHILDREN)


def up(*, workdir: Path | None, metacontroller: bool, upstream_crds: bool) -> int:
    """Run :func:`~lattice_dev.up.dev_up` until Ctrl-C; its exit code."""
    from hooks.controllers_manifest import METACONTROLLER_FLAGS, metacontroller_user
    from lattice_dev import up as devcluster_up
    from lattice_dev.errors import DevClusterError

    try:
        if not metacontroller:
            return devcluster_up.dev_up(workdir, hooks_env=HOOKS_ENV, upstream_crds=upstream_crds)
        return devcluster_up.dev_up(workdir, install=install_manifests, metacontroller_args=METACONTROLLER_FLAGS,
                                    metacontroller_user=metacontroller_user(), hooks_env=HOOKS_ENV,
                                    hooks_user=hooks_user(), upstream_crds=upstream_crds,
                                    extra_crds=cluster_controller_crds() if upstream_crds else ())
    except DevClusterError as e:
        raise LatticeError(str(e)) from e



