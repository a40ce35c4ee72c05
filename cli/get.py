"""``lattice get``: the group that ``get`` commands register on (``lattice get mesh``, ...)."""

from __future__ import annotations

import typer

get_app = typer.Typer(name="get", help="Show Lattice state.", no_args_is_help=True,
                      rich_markup_mode=None)
