"""``lattice get clusters | cluster NAME | hierarchy``: the fleet across every kubeconfig context.

Reads every context of the kubeconfig (``--context`` picks some; a fleet kubeconfig from
``lattice kubeconfig`` has one per cluster, through the proxy) concurrently (``cli.fleet_read``),
puts the picture together (``cli.fleet``) and prints it (``cli.fleet_formats``). A context that
cannot be read is reported on stderr and the others are still shown; only when none can be read
does the command fail.
"""

from __future__ import annotations

import enum
import sys
import time
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from cli.errors import LatticeError

if TYPE_CHECKING:
    from cli.fleet import Fleet


class Output(enum.StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


KubeconfigOpt = Annotated[str | None, typer.Option(
    "--kubeconfig", metavar="PATH",
    help="Kubeconfig file(s), ':'-separated (default: $KUBECONFIG, else ~/.kube/config).")]
ContextOpt = Annotated[list[str] | None, typer.Option(
    "--context", metavar="NAME", help="Read only this context; repeatable (default: every context).")]
OutputOpt = Annotated[Output, typer.Option(
    "-o", "--output", metavar="FORMAT", help="table (default), wide (table), json or yaml.")]
TimeoutOpt = Annotated[str, typer.Option(
    "--request-timeout", metavar="DURATION", help="Give up on a context after this long (e.g. 10s, 1m).")]


def timeout_seconds(text: str) -> float:
    from hooks.durations import seconds

    try:
        value = seconds(text)
    except ValueError:
        raise LatticeError(f"--request-timeout: {text!r} is not a duration (e.g. 10s, 1m)", exit_code=2) from None
    if value <= 0:
        raise LatticeError("--request-timeout must be positive", exit_code=2)
    return value


def read_fleet(kubeconfig: str | None, contexts: list[str] | None, timeout: str, err: TextIO) -> Fleet:
    from cli import fleet, fleet_read, kubeconfigs

    config = kubeconfigs.load(kubeconfig)
    selected = config.select(contexts)
    if not selected:
        raise LatticeError(f"no contexts in {', '.join(map(str, config.paths)) or 'the kubeconfig'}")
    views = fleet_read.read(selected, timeout=timeout_seconds(timeout), what={"clusters"})
    for view in views:
        if view.error:
            print(f"warning: context {view.context} ({view.server}): {view.error}; skipped", file=err)
        for note in view.notes:
            print(f"warning: context {view.context}: {note}", file=err)
    if all(v.error for v in views):
        raise LatticeError("no context could be read")
    result = fleet.assemble(views, time.time())
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    return result


def clusters(kubeconfig: str | None, contexts: list[str] | None, output: Output, timeout: str,
             out: TextIO | None = None, err: TextIO | None = None) -> int:
    from cli import fleet_formats as fmt

    out, err = out or sys.stdout, err or sys.stderr
    f = read_fleet(kubeconfig, contexts, timeout, err)
    if output in (Output.json, Output.yaml):
        out.write(fmt.dump(fmt.clusters_data(f), output.value))
    else:
        out.write(fmt.clusters_table(f, time.time(), wide=output is Output.wide))
    return 0


def cluster(name: str, kubeconfig: str | None, contexts: list[str] | None, output: Output, timeout: str,
            out: TextIO | None = None, err: TextIO | None = None) -> int:
    from cli import fleet_formats as fmt

    out, err = out or sys.stdout, err or sys.stderr
    f = read_fleet(kubeconfig, contexts, timeout, err)
    if name not in f.clusters:
        known = ", ".join(sorted(f.clusters)) or "none"
        raise LatticeError(f"cluster {name!r} not found. Available clusters: {known}")
    if output in (Output.json, Output.yaml):
        out.write(fmt.dump(fmt.cluster_data(f.clusters[name]), output.value))
    else:
        out.write(fmt.cluster_detail(f, name, time.time()))
    return 0


def hierarchy(kubeconfig: str | None, contexts: list[str] | None, output: Output, timeout: str,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    from cli import fleet_formats as fmt

    out, err = out or sys.stdout, err or sys.stderr
    f = read_fleet(kubeconfig, contexts, timeout, err)
    if output in (Output.json, Output.yaml):
        out.write(fmt.dump(fmt.hierarchy_data(f), output.value))
    else:
        out.write(fmt.hierarchy_tree(f))
    return 0


def register(get_app: typer.Typer) -> None:
    @get_app.command("clusters", short_help="Every Lattice cluster across the kubeconfig's contexts.")
    def get_clusters(kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
                     output: OutputOpt = Output.table, request_timeout: TimeoutOpt = "10s") -> None:
        """Every Lattice cluster the kubeconfig's contexts can see: phase, provider, Kubernetes version,
        control plane and workers ready/total, role, the agent's connection and last heartbeat (from
        the parent's Leases), age. Contexts that cannot be read are reported on stderr."""
        clusters(kubeconfig, context, output, request_timeout)

    @get_app.command("cluster", short_help="One cluster in detail.")
    def get_cluster(name: Annotated[str, typer.Argument(metavar="NAME")], kubeconfig: KubeconfigOpt = None,
                    context: ContextOpt = None, output: OutputOpt = Output.table,
                    request_timeout: TimeoutOpt = "10s") -> None:
        """One cluster in detail: status, agent connection, worker pools, conditions, parent and children."""
        cluster(name, kubeconfig, context, output, request_timeout)

    @get_app.command("hierarchy", short_help="The parent-child tree of the fleet.")
    def get_hierarchy(kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
                      output: OutputOpt = Output.table, request_timeout: TimeoutOpt = "10s") -> None:
        """The parent-child tree: [Phase], (parent) for clusters that provision children, (disconnected)
        where the agent's stream to its parent is down."""
        hierarchy(kubeconfig, context, output, request_timeout)
