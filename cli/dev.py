"""``lattice dev up``: a local control plane with the Lattice CRDs and the hook server.

The work is :func:`lattice_dev.up.dev_up`; this module turns its failures into a
``LatticeError`` and words the ``--metacontroller`` help. ``lattice_dev`` is imported
only when a ``dev`` command runs (it adds ~60 ms to every start of ``lattice`` otherwise).
"""

from __future__ import annotations

from pathlib import Path

from cli.errors import LatticeError

METACONTROLLER_HELP = (
    "Also run Metacontroller, so the Lattice controllers act on what you apply: children and status. "
    "Without it, applied objects are checked against the CRD schemas and stored, and nothing compiles "
    "them (lattice render shows what they would yield). Uses $LATTICE_METACONTROLLER_BIN, else the "
    "binary testbed/build.sh built."
)
METACONTROLLER_UNAVAILABLE = " No Metacontroller binary was found: set LATTICE_METACONTROLLER_BIN to one."


def metacontroller_help() -> str:
    """The ``--metacontroller`` help, saying so when no binary is available (builds nothing)."""
    from lattice_dev.binaries import metacontroller_available

    return METACONTROLLER_HELP + ("" if metacontroller_available() else METACONTROLLER_UNAVAILABLE)


def up(*, workdir: Path | None, metacontroller: bool, upstream_crds: bool) -> int:
    """Run :func:`~lattice_dev.up.dev_up` until Ctrl-C; its exit code."""
    from lattice_dev import up as devcluster_up
    from lattice_dev.errors import DevClusterError

    try:
        return devcluster_up.dev_up(workdir, metacontroller=metacontroller, upstream_crds=upstream_crds)
    except DevClusterError as e:
        raise LatticeError(str(e)) from e
