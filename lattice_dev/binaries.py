"""Where the control plane's binaries come from: etcd, kube-apiserver, kube-controller-manager,
kubectl (every plane) and Metacontroller (the whole loop: ``lattice dev up``, the integration suite
and the benchmarks require it; a bare plane does not).

:func:`find_binaries` looks, in this order, and takes the first directory holding all four:

1. ``$LATTICE_DEV_BIN_DIR`` (an explicit choice);
2. ``$KUBEBUILDER_ASSETS`` (what controller-runtime's envtest uses);
3. the testbed cache of a Lattice checkout (``testbed/build.sh --print-bin-dir``), the checkout
   being ``$LATTICE_CHECKOUT`` or the first directory at or above the current one holding
   ``testbed/build.sh``;
4. ``PATH`` (the directory of ``kube-apiserver``).

When none has them, the error names every place tried and why it did not do. Nothing here builds:
``bash testbed/build.sh`` in a checkout does (:func:`build_in_checkout` runs it for the test
suite and the benchmarks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from lattice_dev.errors import DevClusterError

REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
BIN_DIR_ENV = "LATTICE_DEV_BIN_DIR"
CHECKOUT_ENV = "LATTICE_CHECKOUT"
METACONTROLLER_ENV = "LATTICE_METACONTROLLER_BIN"
BUILD_SCRIPT = Path("testbed") / "build.sh"

_found_lock = threading.Lock()
# Directories found, by what decided the lookup (the variables, the current directory, PATH): the
# checkout step runs a script, so a process that starts many planes looks once.
_found: dict[tuple[str | None, ...], Path] = {}


def missing_binaries(d: Path) -> list[str]:
    """The required binaries that ``d`` lacks (or cannot execute)."""
    return [b for b in REQUIRED_BINARIES if not os.access(d / b, os.X_OK)]


def find_checkout(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The Lattice checkout: ``$LATTICE_CHECKOUT``, else the first directory at or above ``cwd``
    (default: the current directory) that holds ``testbed/build.sh``; None when there is none."""
    env = os.environ if env is None else env
    if env.get(CHECKOUT_ENV):
        named = Path(env[CHECKOUT_ENV])
        return named if (named / BUILD_SCRIPT).is_file() else None
    here = (cwd or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / BUILD_SCRIPT).is_file()), None)


def _testbed_bin_dir(checkout: Path) -> Path | None:
    proc = subprocess.run(["bash", str(checkout / BUILD_SCRIPT), "--print-bin-dir"],
                          capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    return Path(lines[-1]) if proc.returncode == 0 and lines else None


def _candidates(env: Mapping[str, str], cwd: Path | None) -> list[tuple[str, Path | None, str]]:
    """(where, directory or None, why it is None) in lookup order."""
    out: list[tuple[str, Path | None, str]] = []
    for var in (BIN_DIR_ENV, "KUBEBUILDER_ASSETS"):
        out.append((f"${var}", Path(env[var]) if env.get(var) else None, "not set"))
    checkout = find_checkout(env, cwd)
    if checkout is None and env.get(CHECKOUT_ENV):
        out.append(("the testbed cache", None, f"${CHECKOUT_ENV} ({env[CHECKOUT_ENV]}) holds no {BUILD_SCRIPT}"))
    elif checkout is None:
        out.append(("the testbed cache", None,
                    f"no Lattice checkout (${CHECKOUT_ENV} unset, no {BUILD_SCRIPT} at or above {cwd or Path.cwd()})"))
    else:
        d = _testbed_bin_dir(checkout)
        out.append((f"the testbed cache of {checkout}", d, f"{checkout / BUILD_SCRIPT} --print-bin-dir failed"))
    apiserver = shutil.which("kube-apiserver", path=env.get("PATH"))
    out.append(("PATH", Path(apiserver).parent if apiserver else None, "no kube-apiserver on PATH"))
    return out


def find_binaries(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The first directory holding every required binary (see the module's docstring for the
    order); :class:`DevClusterError` naming every place tried when none does."""
    env = os.environ if env is None else env
    key = (*(env.get(v) for v in (BIN_DIR_ENV, "KUBEBUILDER_ASSETS", CHECKOUT_ENV, "PATH")), str(cwd or Path.cwd()))
    with _found_lock:
        hit = _found.get(key)
    if hit is not None and not missing_binaries(hit):
        return hit
    tried: list[str] = []
    for where, d, why in _candidates(env, cwd):
        if d is None:
            tried.append(f"{where}: {why}")
            continue
        lacking = missing_binaries(d)
        if not lacking:
            with _found_lock:
                _found[key] = d
            return d
        tried.append(f"{where} ({d}): lacks {', '.join(lacking)}")
    raise DevClusterError(
        f"no directory holds {', '.join(REQUIRED_BINARIES)}; tried, in order:\n  "
        + "\n  ".join(tried)
        + f"\nBuild them with `bash {BUILD_SCRIPT}` in a Lattice checkout (minutes the first time), "
        f"or set ${BIN_DIR_ENV} to a directory holding them."
    )


def build_in_checkout(checkout: Path | None = None) -> Path:
    """Run the checkout's ``testbed/build.sh`` (a no-op when its cache is warm; its progress goes
    to stderr) and return the bin directory it printed. For the test suite and the benchmarks,
    which live in the checkout; ``KUBEBUILDER_ASSETS`` holding every binary skips the build."""
    root = checkout or find_checkout()
    if root is None:
        raise DevClusterError(f"no Lattice checkout at or above {Path.cwd()} (set ${CHECKOUT_ENV})")
    proc = subprocess.run(["bash", str(root / BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None,
                          text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise DevClusterError(f"{BUILD_SCRIPT} failed (exit {proc.returncode}); see its output above")
    d = Path(lines[-1])
    lacking = missing_binaries(d)
    if lacking:
        raise DevClusterError(f"{BUILD_SCRIPT} printed {d}, which lacks {', '.join(lacking)}")
    return d


def find_metacontroller(bin_dir: Path | None = None) -> Path | None:
    """The Metacontroller binary: ``$LATTICE_METACONTROLLER_BIN``, else ``<bin_dir>/metacontroller``
    (``bin_dir`` default: :func:`find_binaries`), else ``metacontroller`` on PATH."""
    env = os.environ.get(METACONTROLLER_ENV)
    if env:
        return Path(env) if os.access(env, os.X_OK) else None
    d = bin_dir if bin_dir is not None else find_binaries()
    p = d / "metacontroller"
    if os.access(p, os.X_OK):
        return p
    on_path = shutil.which("metacontroller")
    return Path(on_path) if on_path else None


def metacontroller_available() -> bool:
    """Whether :func:`find_metacontroller` would find a binary (quick: builds nothing)."""
    try:
        return find_metacontroller() is not None
    except DevClusterError:
        return False
