"""``lattice get services``: LatticeServices with their declared inbound and outbound dependencies.

One context: the kubeconfig's current one, or ``--context``. Every namespace unless ``-n``
(``-A`` says so explicitly). Read with kr8s (``cli.fleet_read``); printed by ``cli.fleet_formats``.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, TextIO

import typer

from cli.errors import LatticeError
from cli.get_clusters import KubeconfigOpt, Output, TimeoutOpt, timeout_seconds


def services(kubeconfig: str | None, context: str | None, namespace: str | None, all_namespaces: bool,
             output: Output, timeout: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from cli import fleet_formats as fmt
    from cli import fleet_read, kubeconfigs

    out, err = out or sys.stdout, err or sys.stderr
    if namespace and all_namespaces:
        raise LatticeError("-n and -A cannot be used together", exit_code=2)
    config = kubeconfigs.load(kubeconfig)
    name = context or config.current or (config.contexts[0].name if config.contexts else None)
    if name is None:
        raise LatticeError(f"no contexts in {', '.join(map(str, config.paths)) or 'the kubeconfig'}")
    view = fleet_read.read([config.context(name)], timeout=timeout_seconds(timeout), what={"services"},
                           namespace=namespace)[0]
    if view.error:
        raise LatticeError(f"context {view.context} ({view.server}): {view.error}")
    for note in view.notes:
        print(f"warning: context {view.context}: {note}", file=err)
    if output in (Output.json, Output.yaml):
        items = [{"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", **s} for s in view.services]
        out.write(fmt.dump(items, output.value))
    elif not view.services:
        out.write(f"No services found{' in ' + namespace if namespace else ''}.\n")
    else:
        out.write(fmt.table(fmt.service_rows(view.services, time.time()),
                            ("NAMESPACE", "NAME", "PHASE", "INBOUND", "OUTBOUND", "AGE")))
    return 0


def register(get_app: typer.Typer) -> None:
    @get_app.command("services", short_help="LatticeServices with their inbound and outbound dependencies.")
    def get_services(
        kubeconfig: KubeconfigOpt = None,
        context: Annotated[str | None, typer.Option(
            "--context", metavar="NAME", help="The context to read (default: the current one).")] = None,
        namespace: Annotated[str | None, typer.Option(
            "-n", "--namespace", metavar="NS", help="Only this namespace (default: every namespace).")] = None,
        all_namespaces: Annotated[bool, typer.Option(
            "-A", "--all-namespaces", help="Every namespace (the default).")] = False,
        output: Annotated[Output, typer.Option(
            "-o", "--output", metavar="FORMAT", help="table (default), json or yaml.")] = Output.table,
        request_timeout: TimeoutOpt = "10s",
    ) -> None:
        """LatticeServices with their phase and how many services they accept calls from (INBOUND) and
        call (OUTBOUND), as declared in spec.resources."""
        services(kubeconfig, context, namespace, all_namespaces, output, request_timeout)
