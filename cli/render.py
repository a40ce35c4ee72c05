"""``lattice render``: read Lattice YAML from files and folders, print what the controllers generate.

Reading and printing only; the simulation is ``hooks.simulator``. Folders are read recursively
(``*.yaml``, ``*.yml``, ``*.json``, sorted by path). A Score workload (``score.dev/v1b1``) is
converted to the LatticeService it implies (``cli.score``), which is printed before the objects;
``files.*.source`` is read next to the file that names it (Score workloads and LatticeServices
alike). A document that is not a Lattice object (another apiVersion group) is skipped with a
warning; every Lattice object that fails is reported on stderr as ``<Kind> <namespace>/<name>:
<message>`` and makes the exit code 1. Output is all or nothing: when any file or object fails,
stdout stays empty, so ``lattice render ... | kubectl apply -f -`` never applies half a result;
``--partial`` prints what did compile anyway, with a warning. Kinds that yield no objects of their
own get one note each on stderr saying why
(``NO_OBJECTS``): stdout is only ever the objects, ready for ``kubectl apply -f -``.
"""

from __future__ import annotations

import enum
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs
import orjson
import yaml

import crds
from cli import score
from cli.errors import LatticeError
from hooks.context import ClusterIdentity
from hooks.controllers import CONTROLLERS, Composite
from hooks.controllers.definition import HookConfig
from hooks.simulator import simulate

SUFFIXES = (".yaml", ".yml", ".json")
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Lattice kinds that yield no Kubernetes objects of their own in this version, and why. Each one read
# gets a note on stderr, so nobody looks for its output; a note stops by itself once the kind's
# controller declares children (and a test then asks to drop the entry).
NO_OBJECTS = {
    "CloudProvider": "by design: its controller reports in status whether the account's credentials are usable; "
                     "the LatticeClusters naming it are rendered with it",
    "OIDCProvider": "validated only; it is for the authenticating API proxy, which is not built yet",
    "CedarPolicy": "by design: policies decide which secrets a LatticeService may read "
                   "(its ExternalSecrets, or a denial reported here)",
    "Provisioner": "by design: it provisions the resources of the LatticeServices that use its type and class "
                   "(their children)",
}


class Output(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def files_of(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the YAML/JSON files under the folders named (recursively, sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise LatticeError(f'the path "{p}" does not exist')
    return out


@attrs.frozen
class ScoreOptions:
    image: str | None = None  # for containers whose image is "."
    namespace: str | None = None  # of the LatticeServices implied by Score workloads
    environ: dict[str, str] = attrs.field(factory=dict)  # for environment resources


def _reader(base: Path) -> score.ReadFile:
    return lambda rel: (base / rel).read_bytes()


def read_documents(files: Iterable[Path], err: TextIO, options: ScoreOptions | None = None,
                   implied: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every Lattice document of the files (Score workloads converted; each also appended to
    ``implied``), and how many files could not be read or converted."""
    options = options or ScoreOptions()
    implied = implied if implied is not None else []
    docs: list[dict[str, Any]] = []
    broken = 0
    for f in files:
        try:
            loaded = list(yaml.load_all(f.read_text(), Loader=_Loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            print(f"{f}: cannot read: {' '.join(str(e).split())}", file=err)
            broken += 1
            continue
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                print(f"{f}: not a Kubernetes object (a {type(doc).__name__})", file=err)
                broken += 1
                continue
            if score.is_score(doc):
                converted = score.convert(doc, read_file=_reader(f.parent), image=options.image,
                                          namespace=options.namespace, environ=options.environ)
                for w in converted.warnings:
                    print(f"warning: {f}: {w}", file=err)
                for problem in converted.errors:
                    print(f"{f}: {problem}", file=err)
                if converted.errors or converted.service is None:
                    broken += 1
                    continue
                docs.append(converted.service)
                implied.append(converted.service)
                continue
            if str(doc.get("apiVersion", "")).split("/")[0] != crds.GROUP:
                name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
                print(f"warning: {f}: skipping {doc.get('kind')} {name} (not a {crds.GROUP} object)", file=err)
                continue
            if doc.get("kind") == "LatticeService":
                problems = score.inline_sources(doc, _reader(f.parent))
                for problem in problems:
                    print(f"{f}: {problem}", file=err)
                if problems:
                    broken += 1
                    continue
            docs.append(doc)
    return docs, broken


def cluster_identity(cluster_name: str | None, docs: Sequence[dict[str, Any]]) -> ClusterIdentity:
    """``--cluster-name`` (else $LATTICE_CLUSTER_NAME, else ``default``); the provider of the
    LatticeCluster of that name among the inputs, else $LATTICE_PROVIDER, else ``docker``."""
    name = cluster_name or os.environ.get("LATTICE_CLUSTER_NAME") or "default"
    provider = os.environ.get("LATTICE_PROVIDER") or "docker"
    for doc in docs:
        if doc.get("kind") == "LatticeCluster" and (doc.get("metadata") or {}).get("name") == name:
            config = ((doc.get("spec") or {}).get("provider") or {}).get("config") or {}
            known = [k for k in ("aws", "docker", "openstack", "proxmox") if k in config]
            provider = known[0] if known else provider
    return ClusterIdentity(name=name, provider=provider)


def yields_children(kind: str) -> bool:
    """Whether the controller of ``kind`` declares child kinds."""
    return any(isinstance(c, Composite) and c.parent.kind == kind and c.children for c in CONTROLLERS)


def notes(docs: Sequence[dict[str, Any]]) -> list[str]:
    """One line per kind read that yields no objects of its own, saying why."""
    read = Counter(str(d.get("kind")) for d in docs)
    return [f"note: {kind} yields no objects of its own ({read[kind]} read): {why}"
            for kind, why in sorted(NO_OBJECTS.items()) if read[kind] and not yields_children(kind)]


def dump(objects: list[dict[str, Any]], output: Output) -> str:
    if output is Output.json:
        body = {"apiVersion": "v1", "kind": "List", "items": objects}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
    return "".join("---\n" + yaml.dump(o, Dumper=_Dumper, sort_keys=False) for o in objects)


def link_notes(implied: list[dict[str, Any]], docs: Sequence[dict[str, Any]]) -> list[str]:
    given = [d for d in docs if d.get("kind") == "LatticeService" and not any(d is i for i in implied)]
    return [f"note: {n}" for n in score.link(implied, given)]


def run(paths: Sequence[Path], output: Output = Output.yaml, cluster_name: str | None = None,
        out: TextIO | None = None, err: TextIO | None = None, options: ScoreOptions | None = None,
        partial: bool = False) -> int:
    """Render and print; the exit code (1 when any file or object failed). With a failure nothing
    is printed on ``out`` unless ``partial``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        raise LatticeError("give at least one file or folder with -f")
    implied: list[dict[str, Any]] = []
    docs, broken = read_documents(files_of(paths), err, options, implied)
    linked = link_notes(implied, docs)
    result = simulate(docs, HookConfig(cluster=cluster_identity(cluster_name, docs)))
    failed = broken + len(result.failures)
    objects = [*implied, *result.objects]
    for note in [*notes(docs), *linked, *(f"note: {w}" for w in result.waiting)]:
        print(note, file=err)
    for failure in result.failures:
        print(str(failure), file=err)
    if not failed:
        out.write(dump(objects, output))
        return 0
    what = f"{failed} input{'s' if failed != 1 else ''} failed"
    if partial:
        print(f"warning: {what}; --partial: printing the {len(objects)} objects that compiled, "
              "which are not the whole result", file=err)
        out.write(dump(objects, output))
    else:
        print(f"error: {what}; nothing printed (--partial prints the objects that compiled)", file=err)
    return 1
