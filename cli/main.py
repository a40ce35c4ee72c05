"""The ``lattice`` command (typer). Commands only declare their options and call one function in
a non-CLI module; ``run`` is the one place a ``LatticeError`` becomes a message and an exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import render as render_mod
from cli.errors import LatticeError

app = typer.Typer(
    name="lattice",
    help="Self-managing Kubernetes cluster hierarchies with zero-trust networking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Self-managing Kubernetes cluster hierarchies with zero-trust networking."""


@app.command("render")
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
) -> None:
    """Compile Lattice objects into the Kubernetes objects the controllers would create, offline."""
    code = render_mod.run(filename, output, cluster_name)
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
