"""The ``up`` commands: start a control plane, say how to reach it, keep it running until Ctrl-C
(or SIGTERM/SIGHUP), or until one of its processes exits.

:func:`up` is ``python -m lattice_dev up``; :func:`dev_up` is ``lattice dev up``,
which adds Lattice's own CRDs (the ``crds`` package data) and its hook server.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Collection
from pathlib import Path

from lattice_dev.binaries import find_binaries
from lattice_dev.controlplane import DEFAULT_START_TIMEOUT, ControlPlane
from lattice_dev.crd_files import lattice_crds
from lattice_dev.errors import DevClusterError
from lattice_dev.launch import start_hook_server
from lattice_dev.processes import ManagedProcess


def _stop_on_signals() -> None:
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Also when started in the background of a non-interactive shell, which ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def _print_ready(cp: ControlPlane, t0: float) -> None:
    print(f"ready in {time.monotonic() - t0:.1f}s {cp.timings}; logs in {cp.workdir / 'logs'}", file=sys.stderr)
    print(f"export KUBECONFIG={cp.kubeconfig}", file=sys.stderr)
    print(f"export PATH={cp.bin_dir}:$PATH   # kubectl", file=sys.stderr)


def _run_until_stopped(processes: Collection[ManagedProcess]) -> int:
    """Wait for Ctrl-C (0) or for one of ``processes`` to exit (1, after printing its log's tail)."""
    try:
        while all(p.alive() for p in processes):
            time.sleep(1)
        dead = [p for p in processes if not p.alive()]
        for p in dead:
            print(f"{p.name} exited ({p.popen.returncode}); last lines:\n{p.tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr)
        return 0


def up(
    workdir: Path | None = None,
    *,
    controller_manager: bool = True,
    metacontroller: bool = False,
    upstream_crds: bool = True,
    apply_strategy: str = "dynamic-apply",
) -> int:
    """Start a control plane and print its kubeconfig path on stdout; the exit code (0 after
    Ctrl-C, 1 when the control plane failed to start or a component exited, 130 when interrupted while starting)."""
    _stop_on_signals()
    t0 = time.monotonic()
    print("locating binaries ...", file=sys.stderr)
    try:
        bin_dir = find_binaries()
    except DevClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("starting control plane ...", file=sys.stderr)
    try:
        cp = ControlPlane.start(
            workdir,
            controller_manager=controller_manager,
            metacontroller=metacontroller,
            upstream_crds=upstream_crds,
            apply_strategy=apply_strategy,
            bin_dir=bin_dir,
        )
    except DevClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    with cp:
        _print_ready(cp, t0)
        print("Ctrl-C stops everything.", file=sys.stderr)
        print(cp.kubeconfig, flush=True)
        return _run_until_stopped(list(cp.processes.values()))


def dev_up(
    workdir: Path | None = None,
    *,
    metacontroller: bool = False,
    upstream_crds: bool = True,
    timeout: float = DEFAULT_START_TIMEOUT,
) -> int:
    """Start a control plane with the upstream CRDs (unless ``upstream_crds`` is false) and
    Lattice's CRDs (the ``crds`` package data), then ``lattice-hooks`` on a free loopback port; print the
    kubeconfig path and the hook server's URL on stdout and keep everything running.

    The Lattice CRDs are installed with the upstream ones, once the apiserver is ready and before
    kube-controller-manager starts, so its garbage collector knows their kinds from the start.
    Raises :class:`DevClusterError` when something cannot start (a temporary workdir is then kept
    for its logs); otherwise returns the exit code (0 after Ctrl-C, 1 when a process exited, 130
    when interrupted while starting).
    """
    _stop_on_signals()
    t0 = time.monotonic()
    try:
        print("locating binaries ...", file=sys.stderr)
        bin_dir = find_binaries()
        print("starting control plane ...", file=sys.stderr)
        cp = ControlPlane.start(
            workdir,
            metacontroller=metacontroller,
            upstream_crds=upstream_crds,
            extra_crds=lattice_crds(),
            timeout=timeout,
            bin_dir=bin_dir,
        )
    except KeyboardInterrupt:
        return 130
    with cp:
        hooks: dict[str, ManagedProcess] = {}
        try:
            print("starting lattice-hooks ...", file=sys.stderr)
            hooks_url = start_hook_server(
                lambda: time.monotonic() + timeout, log_dir=cp.workdir / "logs", processes=hooks
            )
            _print_ready(cp, t0)
            print(f"hook server: {hooks_url}", file=sys.stderr)
            print("Ctrl-C stops everything.", file=sys.stderr)
            print(cp.kubeconfig)
            print(hooks_url, flush=True)
            code = _run_until_stopped([*cp.processes.values(), *hooks.values()])
            if code:
                cp.stop(keep_workdir=True)  # a process exited: keep the logs (the plane does so for its own)
            return code
        except KeyboardInterrupt:
            return 130
        finally:
            for p in hooks.values():
                p.stop()
