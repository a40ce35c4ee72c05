"""The ``lattice install`` and ``lattice uninstall`` commands: options in, a plan or a run out.

``--bootstrap`` takes two kinds of value (repeat it for both): the README's Kubernetes bootstrap
provider of the new cluster (``kubeadm`` or ``rke2``, overriding the file's
``spec.provider.kubernetes.bootstrap``), and the bootstrap cluster (``local``, ``kind``,
``kubeconfig=PATH``; default kind when Docker and kind are on PATH, else local).
"""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cli import bootstrap as bootstraps
from cli.errors import LatticeError
from cli.install import TITLES, Installer, InstallFailed
from cli.install_plan import PHASES, BootstrapChoice, Inputs, parse_bootstrap, plan, read_inputs
from cli.progress import Progress

DEFAULT_IMAGE = "ghcr.io/lattice-python/lattice:0.1.0"
PROVIDERS = ("kubeadm", "rke2")


def split_bootstrap(values: list[str] | None) -> tuple[str | None, str | None]:
    """(Kubernetes bootstrap provider, bootstrap cluster) from the ``--bootstrap`` values."""
    provider = cluster = None
    for value in values or []:
        if value.lower() in PROVIDERS:
            provider = value.lower()
        elif value in ("local", "kind") or value.startswith("kubeconfig="):
            cluster = value
        else:
            raise LatticeError(f"invalid --bootstrap {value!r}: expected kubeadm or rke2 (the new cluster's "
                               "bootstrap provider), or local, kind or kubeconfig=PATH (the bootstrap cluster)")
    return provider, cluster


def with_provider(inputs: Inputs, provider: str | None) -> Inputs:
    if provider is None:
        return inputs
    doc = copy.deepcopy(dict(inputs.cluster_doc))
    doc.setdefault("spec", {}).setdefault("provider", {}).setdefault("kubernetes", {})["bootstrap"] = provider
    tmp = Path(tempfile.mkdtemp(prefix="lattice-install-input-"))
    (tmp / "cluster.yaml").write_text(yaml.safe_dump_all([doc, *inputs.providers, *inputs.secrets]))
    try:
        return read_inputs([tmp])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_ctrl_c(what: str) -> None:
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print(f"{what}; Ctrl-C stops it.", file=sys.stderr)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr)


def install(files: list[Path], *, bootstrap: list[str] | None, image: str, registry_credentials: Path | None,
            kubeconfig_out: Path | None, dry_run: bool, keep_on_failure: bool, keep_bootstrap: bool,
            run_id: str | None, workdir: Path | None, timeout: float, wait: bool = True) -> int:
    provider, cluster_value = split_bootstrap(bootstrap)
    inputs = with_provider(read_inputs(files), provider)
    choice: BootstrapChoice = parse_bootstrap(cluster_value)
    if dry_run:
        print(f"lattice install would create {inputs.name}:")
        for line in plan(inputs, choice, keep_bootstrap=keep_bootstrap, kubeconfig_out=kubeconfig_out):
            print(f"  {line}")
        return 0
    if registry_credentials is not None and not registry_credentials.is_file():
        raise LatticeError(f"--registry-credentials-file {registry_credentials}: no such file")
    run_id = run_id or os.environ.get("LATTICE_RUN_ID") or secrets.token_hex(3)
    workdir = workdir or Path(tempfile.gettempdir()) / f"lattice-install-{run_id}"
    workdir.mkdir(parents=True, exist_ok=True)
    checkout = _checkout()
    titles = dict(TITLES, provision=f"Provisioning {inputs.name}", pivot=f"Moving {inputs.name}'s Cluster API "
                  "objects into it (pivot)", detach=f"Detaching {inputs.name} from the bootstrap cluster")
    with Progress(PHASES, titles) as progress:
        boot = bootstraps.make(choice, workdir, progress.note, image=image, checkout=checkout, run_id=run_id)
        installer = Installer(inputs, boot, progress, workdir, timeout=timeout, keep_bootstrap=keep_bootstrap)
        try:
            done = installer.run()
        except InstallFailed as exc:
            if keep_on_failure:
                print(f"error: {exc}\n{boot.keep_note()}", file=sys.stderr)
                if isinstance(boot, bootstraps.LocalBootstrap) and wait:
                    _wait_for_ctrl_c("the bootstrap cluster is kept for inspection")
            boot_remove(boot)
            raise
    if kubeconfig_out is not None:
        kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(done.kubeconfig, kubeconfig_out)
        kubeconfig_out.chmod(0o600)
    print(f"{inputs.name} manages itself ({done.seconds:.0f}s)", file=sys.stderr)
    print(f"export KUBECONFIG={kubeconfig_out or done.kubeconfig}")
    if done.local is not None and wait:
        _wait_for_ctrl_c(f"{inputs.name} runs on this machine as local control planes (in this process)")
        for cluster in list(boot.clusters.values()) if isinstance(boot, bootstraps.LocalBootstrap) else []:
            cluster.stop()
    return 0


def boot_remove(boot: bootstraps.Bootstrap) -> None:
    try:
        boot.remove()
    except Exception as exc:  # the failure being reported matters more
        print(f"warning: removing the bootstrap cluster: {exc}", file=sys.stderr)


def _checkout() -> Path | None:
    from lattice_dev.binaries import find_checkout

    return find_checkout()
