"""The ``lattice`` command (typer). Commands only declare their options and call one function in
a non-CLI module; ``run`` is the one place a ``LatticeError`` becomes a message and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperOption

from cli import dev as dev_mod
from cli import get_clusters, get_mesh, get_services, import_score, install_cmd, policy
from cli import kubeconfig as kubeconfig_mod
from cli import render as render_mod
from cli import token as token_mod
from cli.errors import LatticeError
from cli.get import get_app

app = typer.Typer(
    name="lattice",
    help="Self-managing Kubernetes cluster hierarchies with zero-trust networking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click-style) help, as kubectl prints it. Typer's rich help panel gives every option a type
    # column, flags and --help included ("--help <bool>"); the plain formatter leaves flags bare.
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Self-managing Kubernetes cluster hierarchies with zero-trust networking."""


@app.command("render", short_help="Compile Lattice YAML into Kubernetes objects, offline.")
def render(
    filename: Annotated[list[Path], typer.Option(
        "-f", "--filename", metavar="PATH",
        help="File or folder (read recursively) of Lattice YAML; repeatable.")],
    output: Annotated[render_mod.Output, typer.Option(
        "-o", "--output", metavar="FORMAT",
        help="yaml (multi-document) or json (a v1 List).")] = render_mod.Output.yaml,
    cluster_name: Annotated[str | None, typer.Option(
        "--cluster-name", metavar="NAME",
        help="Cluster the objects are compiled for (trust domain lattice.<name>.local).")] = None,
    image: Annotated[str | None, typer.Option(
        "--image", metavar="REF",
        help="Image for Score containers whose image is '.' (chosen at deploy time).")] = None,
    namespace: Annotated[str | None, typer.Option(
        "-n", "--namespace", metavar="NS", help="Namespace of the LatticeServices implied by Score workloads.")] = None,
    provisioners: Annotated[list[Path] | None, typer.Option(
        "--provisioners", metavar="PATH",
        help="File or folder of Provisioner objects (as on the cluster); repeatable. Same as adding them with -f.")
    ] = None,
    partial: Annotated[bool, typer.Option(
        "--partial", help="When an input fails, still print the objects that compiled (a partial result).")] = False,
) -> None:
    """Compile Lattice objects, and Score workloads (score.dev/v1b1), into the Kubernetes objects the controllers
    would create, offline. A Score workload is printed first as the LatticeService it implies. When any input
    fails, nothing is printed on stdout (unless --partial) and the exit code is 1."""
    options = render_mod.ScoreOptions(image=image, namespace=namespace, environ=dict(os.environ))
    code = render_mod.run([*filename, *(provisioners or [])], output, cluster_name, options=options,
                          partial=partial)
    if code:
        raise typer.Exit(code)


import_app = typer.Typer(name="import", help="Convert other formats into Lattice objects.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(import_app)


@import_app.command("score", short_help="Print the LatticeServices that Score workload files imply.")
def import_score_cmd(
    filename: Annotated[list[Path], typer.Option(
        "-f", "--filename", metavar="PATH", help="Score workload file or folder (read recursively); repeatable.")],
    image: Annotated[str | None, typer.Option(
        "--image", metavar="REF", help="Image for containers whose image is '.' (chosen at deploy time).")] = None,
    namespace: Annotated[str | None, typer.Option(
        "-n", "--namespace", metavar="NS", help="Namespace to put the LatticeServices in.")] = None,
    output: Annotated[render_mod.Output, typer.Option(
        "-o", "--output", metavar="FORMAT", help="yaml (multi-document) or json (a v1 List).")
    ] = render_mod.Output.yaml,
) -> None:
    """Convert Score workloads (score.dev/v1b1) into LatticeServices: files.source read next to each file, list
    forms normalised, environment resources filled from this shell's environment, and the inbound declarations
    the mesh needs between the given workloads added (each reported on stderr)."""
    options = render_mod.ScoreOptions(image=image, namespace=namespace, environ=dict(os.environ))
    code = import_score.run(filename, options, output)
    if code:
        raise typer.Exit(code)


app.add_typer(get_app)  # lattice get ...
get_clusters.register(get_app)  # lattice get clusters | cluster NAME | hierarchy
get_services.register(get_app)  # lattice get services
get_mesh.register(get_app)  # lattice get mesh
app.add_typer(policy.policy_app)  # lattice policy check
token_mod.register(app)  # lattice token

app.command("kubeconfig", short_help="A kubeconfig for every cluster you may reach through a Lattice API proxy.")(
    kubeconfig_mod.command)


dev_app = typer.Typer(name="dev", help="A local control plane for trying Lattice out.", no_args_is_help=True,
                      rich_markup_mode=None)
app.add_typer(dev_app)


class _DevUpCommand(TyperCommand):
    """Words the --no-metacontroller help when help is shown (it looks for a binary), not at every start."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            if isinstance(param, TyperOption) and param.name == "no_metacontroller":
                param.help = dev_mod.metacontroller_help()
        super().format_help(ctx, formatter)


@dev_app.command(
    "up",
    cls=_DevUpCommand,
    short_help="Start a local control plane running the Lattice controllers.",
    help="Start a local control plane (etcd, kube-apiserver, kube-controller-manager) with the upstream, "
    "Lattice and Metacontroller CRDs, the hook server (lattice-hooks) on a free loopback port, the "
    "controllers manifests/ ships (pointed at that server) and Metacontroller with the flags manifests/ "
    "ships: apply a LatticeService and watch its children and status appear.\n\n"
    "Prints the kubeconfig path and the hook server URL on stdout, and keeps everything running until "
    "Ctrl-C. Then, in another shell: export KUBECONFIG=<the printed path>, and kubectl apply, get and "
    "describe as on any cluster. The binaries come from testbed/build.sh (several minutes the first time).",
)
def dev_up(
    no_metacontroller: Annotated[bool, typer.Option(
        "--no-metacontroller", help=dev_mod.NO_METACONTROLLER_HELP)] = False,
    no_crds: Annotated[bool, typer.Option(
        "--no-crds",
        help="Skip the upstream CRDs (Cilium, Istio, Gateway API, External Secrets, cert-manager, "
             "Cluster API); the Lattice CRDs are always installed. Metacontroller then starts no "
             "controller whose child kinds are missing.")] = False,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", metavar="DIR",
        help="Certificates, kubeconfigs, etcd data and logs/ go here (default: a new temporary "
             "directory, removed on a clean stop).")] = None,
    clusters: Annotated[int, typer.Option(
        "--clusters", metavar="N",
        help="A fleet instead: a root cluster and N children, each a local control plane running its own "
             "Lattice (Metacontroller, hooks, lattice-operator) with KWOK nodes, provisioned by the root, connected "
             "through real tunnels and pivoted into themselves; prints one kubeconfig with a context per cluster.")
    ] = 0,
) -> None:
    if clusters:
        from cli import fleet_up

        fleet_up.up(clusters, workdir=workdir)
        return
    code = dev_mod.up(workdir=workdir, metacontroller=not no_metacontroller, upstream_crds=not no_crds)
    if code:
        raise typer.Exit(code)


@app.command("install", short_help="Provision a self-managing cluster from a LatticeCluster file.")
def install(
    filename: Annotated[list[Path], typer.Option(
        "-f", "--file", "--filename", metavar="PATH",
        help="The LatticeCluster YAML (with its CloudProvider and credentials Secret unless it uses docker); "
             "repeatable.")],
    bootstrap: Annotated[list[str] | None, typer.Option(
        "--bootstrap", metavar="VALUE",
        help="kubeadm or rke2: the new cluster's Kubernetes bootstrap provider (default: the file's). "
             "local, kind or kubeconfig=PATH: the bootstrap cluster (default: kind when Docker and kind are "
             "on PATH, else a local control plane). Repeat to give both.")] = None,
    image: Annotated[str, typer.Option(
        "--image", envvar="LATTICE_IMAGE", metavar="IMAGE",
        help="Lattice image for the operator on a kind or existing bootstrap cluster.")] = install_cmd.DEFAULT_IMAGE,
    registry_credentials_file: Annotated[Path | None, typer.Option(
        "--registry-credentials-file", envvar="REGISTRY_CREDENTIALS_FILE", metavar="PATH",
        help="Docker config JSON for private registries.")] = None,
    kubeconfig_out: Annotated[Path | None, typer.Option(
        "--kubeconfig-out", metavar="PATH", help="Write the new cluster's kubeconfig here.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
    keep_bootstrap_on_failure: Annotated[bool, typer.Option(
        "--keep-bootstrap-on-failure", help="Keep the bootstrap cluster when a phase fails, for inspection.")
    ] = False,
    keep_bootstrap: Annotated[bool, typer.Option(
        "--keep-bootstrap", help="Keep the bootstrap cluster after success too.")] = False,
    run_id: Annotated[str | None, typer.Option(
        "--run-id", envvar="LATTICE_RUN_ID", metavar="ID", help="Names this run's bootstrap and work directory.")
    ] = None,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", metavar="DIR", help="Kubeconfigs, logs and local control planes go here.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", help="Longest wait for each of provisioning and the pivot.")] = 1800.0,
) -> None:
    """Create a temporary bootstrap cluster running Lattice, provision the LatticeCluster through Cluster API,
    move its Cluster API objects into it (the pivot), and remove the bootstrap cluster: the new cluster manages
    itself. Progress shows each phase, the cluster's phase, machines ready and the time so far; a failure names
    its phase. With the local bootstrap, the cluster's machines are local control planes in this process, which
    keeps running until Ctrl-C."""
    code = install_cmd.install(filename, bootstrap=bootstrap, image=image,
                               registry_credentials=registry_credentials_file, kubeconfig_out=kubeconfig_out,
                               dry_run=dry_run, keep_on_failure=keep_bootstrap_on_failure,
                               keep_bootstrap=keep_bootstrap, run_id=run_id, workdir=workdir, timeout=timeout)
    if code:
        raise typer.Exit(code)


@app.command("uninstall", short_help="Tear a self-managing cluster down (the reverse of install).")
def uninstall(
    kubeconfig: Annotated[Path, typer.Option(
        "-k", "--kubeconfig", metavar="PATH", help="Kubeconfig of the cluster to destroy.")],
    context: Annotated[str | None, typer.Option(
        "--context", metavar="NAME", help="The kubeconfig context to use (default: its current one).")] = None,
    name: Annotated[str | None, typer.Option(
        "-n", "--name", metavar="NAME", help="The cluster's name, when its API holds several LatticeClusters.")
    ] = None,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Skip the confirmation prompt.")] = False,
    bootstrap: Annotated[str | None, typer.Option(
        "--bootstrap", metavar="VALUE",
        help="local, kind or kubeconfig=PATH: hand the cluster to a bootstrap cluster even if it has a parent "
             "(default: its parent when it has one, else a local bootstrap cluster).")] = None,
    keep_bootstrap_on_failure: Annotated[bool, typer.Option(
        "--keep-bootstrap-on-failure", help="Keep the bootstrap cluster when a phase fails.")] = False,
    run_id: Annotated[str | None, typer.Option(
        "--run-id", envvar="LATTICE_RUN_ID", metavar="ID", help="Names this run's work directory.")] = None,
    workdir: Annotated[Path | None, typer.Option("--workdir", metavar="DIR", help="Logs and kubeconfigs.")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", help="Longest wait for each step.")] = 1800.0,
) -> None:
    """Move the cluster's Cluster API objects out of it (the unpivot) to a cluster that can delete it -- its parent,
    or a temporary bootstrap cluster -- which then tears its infrastructure down. Refused while the cluster has
    child clusters."""
    import secrets
    import tempfile

    from cli import uninstall as uninstall_mod
    from cli.install_plan import parse_bootstrap

    run = run_id or secrets.token_hex(3)
    code = uninstall_mod.uninstall(
        kubeconfig, context=context, name=name, yes=yes,
        bootstrap_choice=parse_bootstrap(bootstrap) if bootstrap else None,
        keep_on_failure=keep_bootstrap_on_failure, run_id=run,
        workdir=workdir or Path(tempfile.gettempdir()) / f"lattice-uninstall-{run}", timeout=timeout)
    if code:
        raise typer.Exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code. Usage errors are typer's (exit 2)."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="lattice", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except LatticeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
