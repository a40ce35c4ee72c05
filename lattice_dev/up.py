"""The ``up`` commands: start a control plane, say how to reach it, keep it running until Ctrl-C
(or SIGTERM/SIGHUP), or until one of its processes exits.

:func:`up` is ``python -m lattice_dev up`` (a plane, optionally Metacontroller); :func:`dev_up` is
``lattice dev up``: the whole loop (:mod:`lattice_dev.loop`), Lattice's CRDs, the hook server, the
controllers the caller installs and Metacontroller.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lattice_dev.binaries import find_binaries
from lattice_dev.controlplane import DEFAULT_START_TIMEOUT, ControlPlane
from lattice_dev.crd_files import lattice_crds
from lattice_dev.errors import DevClusterError
from lattice_dev.hook_server import HookServerProcess
from lattice_dev.loop import Install, Loop, start_loop
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
    metacontroller_args: Sequence[str] = (),
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
            metacontroller_args=metacontroller_args,
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
    install: Install | None = None,
    metacontroller_args: Sequence[str] = (),
    metacontroller_user: str | None = None,
    hooks_env: Mapping[str, str] | None = None,
    hooks_user: str | None = None,
    upstream_crds: bool = True,
    extra_crds: Iterable[Path | str | Mapping[str, Any]] = (),
    timeout: float = DEFAULT_START_TIMEOUT,
) -> int:
    """The whole loop (:func:`lattice_dev.loop.start_loop`): a control plane with the upstream,
    Lattice's and Metacontroller's CRDs, ``lattice-hooks`` on a free loopback port, ``install``
    (the controllers pointing at it), then Metacontroller with ``metacontroller_args``. Without
    ``install``, no Metacontroller: the plane and the hook server only. Prints the kubeconfig path
    and the hook server's URL on stdout and keeps everything running.

    Raises :class:`DevClusterError` when something cannot start (a temporary workdir is then kept
    for its logs); otherwise returns the exit code (0 after Ctrl-C, 1 when a process exited, 130
    when interrupted while starting).
    """
    _stop_on_signals()
    t0 = time.monotonic()
    try:
        print("locating binaries ...", file=sys.stderr)
        bin_dir = find_binaries()
        if install is not None:
            print("starting control plane, lattice-hooks, the controllers and Metacontroller ...", file=sys.stderr)
            loop = start_loop(workdir, install=install, metacontroller_args=metacontroller_args,
                              metacontroller_user=metacontroller_user, hooks_env=hooks_env, hooks_user=hooks_user,
                              upstream_crds=upstream_crds, extra_crds=extra_crds, timeout=timeout, bin_dir=bin_dir)
        else:
            print("starting control plane and lattice-hooks ...", file=sys.stderr)
            cp = ControlPlane.start(workdir, upstream_crds=upstream_crds, extra_crds=[*lattice_crds(), *extra_crds],
                                    timeout=timeout, bin_dir=bin_dir)
            try:
                loop = Loop(cp, HookServerProcess.start(cp.workdir / "logs", env=hooks_env, timeout=timeout))
            except BaseException:
                cp.stop(keep_workdir=True)
                raise
    except KeyboardInterrupt:
        return 130
    with loop:
        _print_ready(loop.cp, t0)
        print(f"hook server: {loop.hooks.url}", file=sys.stderr)
        print("Ctrl-C stops everything.", file=sys.stderr)
        print(loop.cp.kubeconfig)
        print(loop.hooks.url, flush=True)
        processes = [*loop.cp.processes.values(), *([loop.hooks.process] if loop.hooks.process else [])]
        code = _run_until_stopped(processes)
        if code:
            loop.stop(keep_workdir=True)  # a process exited: keep the logs
        return code
