"""``lattice render``: read Lattice YAML from files and folders, print what the controllers generate.

Reading and printing only; the simulation is ``hooks.simulator``. Folders are read recursively
(``*.yaml``, ``*.yml``, ``*.json``, sorted by path). A document that is not a Lattice object
(another apiVersion group) is skipped with a warning; every Lattice object that fails is reported
on stderr as ``<Kind> <namespace>/<name>: <message>`` and makes the exit code 1. Output is all or
nothing: when any file or object fails, stdout stays empty, so ``lattice render ... | kubectl
apply -f -`` never applies half a result; ``--partial`` prints what did compile anyway, with a
warning. Kinds that yield no objects of their own get one note each on stderr saying why
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

import orjson
import yaml

import crds
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
    "LatticeCluster": "validated only; cluster provisioning (Cluster API objects, pivot) is not built yet",
    "CloudProvider": "validated only; it is for cluster provisioning, which is not built yet",
    "OIDCProvider": "validated only; it is for the authenticating API proxy, which is not built yet",
    "CedarPolicy": "by design: policies decide which secrets a LatticeService may read "
                   "(its ExternalSecrets, or a denial reported here)",
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


def read_documents(files: Iterable[Path], err: TextIO) -> tuple[list[dict[str, Any]], int]:
    """Every Lattice document of the files, and how many files could not be read."""
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
            if str(doc.get("apiVersion", "")).split("/")[0] != crds.GROUP:
                name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
                print(f"warning: {f}: skipping {doc.get('kind')} {name} (not a {crds.GROUP} object)", file=err)
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


def run(paths: Sequence[Path], output: Output = Output.yaml, cluster_name: str | None = None,
        out: TextIO | None = None, err: TextIO | None = None, partial: bool = False) -> int:
    """Render and print; the exit code (1 when any file or object failed). With a failure nothing
    is printed on ``out`` unless ``partial``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        raise LatticeError("give at least one file or folder with -f")
    docs, broken = read_documents(files_of(paths), err)
    result = simulate(docs, HookConfig(cluster=cluster_identity(cluster_name, docs)))
    failed = broken + len(result.failures)
    for note in notes(docs):
        print(note, file=err)
    for failure in result.failures:
        print(str(failure), file=err)
    if not failed:
        out.write(dump(result.objects, output))
        return 0
    what = f"{failed} input{'s' if failed != 1 else ''} failed"
    if partial:
        print(f"warning: {what}; --partial: printing the {len(result.objects)} objects that compiled, "
              "which are not the whole result", file=err)
        out.write(dump(result.objects, output))
    else:
        print(f"error: {what}; nothing printed (--partial prints the objects that compiled)", file=err)
    return 1
