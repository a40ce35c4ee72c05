"""``python -m lattice_dev``: ``up`` (start a control plane until Ctrl-C), ``binaries`` (print
the directory they are taken from; ``--build`` first runs a checkout's ``testbed/build.sh``),
``crds`` (print the upstream CRD files)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lattice_dev.binaries import build_in_checkout, find_binaries
from lattice_dev.crd_files import upstream_crd_paths
from lattice_dev.errors import DevClusterError
from lattice_dev.up import up as run_up


def _cmd_up(ns: argparse.Namespace) -> int:
    return run_up(
        ns.workdir,
        controller_manager=not ns.no_controller_manager,
        metacontroller=ns.metacontroller,
        upstream_crds=not ns.no_crds,
        metacontroller_args=ns.metacontroller_arg,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lattice_dev")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a control plane and wait until Ctrl-C")
    up.add_argument("--metacontroller", action="store_true", help="also run Metacontroller")
    up.add_argument("--no-crds", action="store_true", help="do not install the upstream CRDs")
    up.add_argument("--no-controller-manager", action="store_true")
    up.add_argument("--metacontroller-arg", action="append", default=[], metavar="ARG",
                    help="a flag for Metacontroller (repeat it; e.g. --metacontroller-arg=--workers=8)")
    up.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    binaries = sub.add_parser("binaries", help="print the directory the binaries are taken from")
    binaries.add_argument("--build", action="store_true", help="first run the checkout's testbed/build.sh")
    sub.add_parser("crds", help="print the upstream CRD file paths")
    ns = parser.parse_args(argv)
    if ns.cmd == "up":
        return _cmd_up(ns)
    if ns.cmd == "binaries":
        try:
            print(build_in_checkout() if ns.build else find_binaries())
        except DevClusterError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    for p in upstream_crd_paths():
        print(p)
    return 0
