"""``lattice import score``: print the LatticeServices that Score workload files imply, ready to apply.

Reading and printing only; the conversion is ``cli.score``. The inbound declarations the mesh needs
between the given workloads are added and reported on stderr, as is what a callee that is not among
them must declare. Exit code 1 when a file cannot be read or converted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from cli.errors import LatticeError
from cli.render import Output, ScoreOptions, dump, files_of, link_notes, read_documents


def run(paths: Sequence[Path], options: ScoreOptions, output: Output = Output.yaml, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        raise LatticeError("give at least one Score file or folder with -f")
    implied: list[dict[str, Any]] = []
    docs, broken = read_documents(files_of(paths), err, options, implied)
    skipped = [d for d in docs if not any(d is i for i in implied)]
    for d in skipped:
        print(f"warning: skipping {d.get('kind')} {(d.get('metadata') or {}).get('name')} (not a Score workload)",
              file=err)
    linked = link_notes(implied, docs)
    out.write(dump(implied, output))
    for note in linked:
        print(note, file=err)
    return 1 if broken else 0
