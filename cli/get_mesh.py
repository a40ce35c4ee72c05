"""``lattice get mesh``: the service mesh as a graph, live from a cluster or offline from files.

Reads the objects (``cli.inventory``), builds the graph (``hooks.mesh.view``) and prints it
(``cli.mesh_formats``). Namespaces as kubectl picks them: ``-n NS``, ``-A`` for all, else the
context's namespace live and every namespace of the files offline. An edge is shown when either
end is in scope; peers are looked up everywhere, so a one-sided cross-namespace call is seen.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from cli import mesh_formats
from cli.errors import LatticeError
from cli.inventory import Source, read
from hooks.mesh.view import build_graph


class Output(enum.StrEnum):
    table = "table"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


RENDER = {Output.table: mesh_formats.table, Output.dot: mesh_formats.dot, Output.mermaid: mesh_formats.mermaid,
          Output.json: mesh_formats.as_json}


def run(source: Source, namespace: str | None, all_namespaces: bool, output: Output,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if namespace and all_namespaces:
        raise LatticeError("-n and -A cannot be used together", exit_code=2)
    inventory = read(source, err, namespace)
    graph = build_graph(inventory.services, inventory.externals)
    everything = all_namespaces or (source.offline and not namespace)
    scope = None if everything else [namespace or inventory.default_namespace]
    out.write(RENDER[output](graph.in_namespaces(scope)))
    return 0


def register(get_app: typer.Typer) -> None:
    @get_app.command("mesh", short_help="The service mesh as a graph: agreed, one-sided and external edges.")
    def mesh(
        filename: Annotated[list[Path] | None, typer.Option(
            "-f", "--filename", metavar="PATH",
            help="Read Lattice YAML from these files or folders (recursively) instead of a cluster; repeatable.")
        ] = None,
        namespace: Annotated[str | None, typer.Option(
            "-n", "--namespace", metavar="NS", help="Only edges with an end in this namespace.")] = None,
        all_namespaces: Annotated[bool, typer.Option(
            "-A", "--all-namespaces", help="Every namespace (the default with -f).")] = False,
        output: Annotated[Output, typer.Option(
            "-o", "--output", metavar="FORMAT", help="table (default), dot (Graphviz), mermaid or json.")
        ] = Output.table,
        kubeconfig: Annotated[str | None, typer.Option(
            "--kubeconfig", metavar="PATH", help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
        ] = None,
        context: Annotated[str | None, typer.Option(
            "--context", metavar="NAME", help="Kubeconfig context (default: the current one).")] = None,
    ) -> None:
        """Show every service declaration as an edge: agreed (both sides declared it), one-sided
        (with the side that is missing and the YAML it must add), missing (no such peer), blocked,
        or to an external service. Wildcard acceptances and cross-namespace calls are marked."""
        source = Source(tuple(filename or ()), kubeconfig, context)
        code = run(source, namespace, all_namespaces, output)
        if code:
            raise typer.Exit(code)
