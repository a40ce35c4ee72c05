"""Render Score corpus files the way ``lattice render`` does, in process, and look at the result."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import yaml

from cli.render import ScoreOptions, link_notes, read_documents
from hooks.controllers.definition import HookConfig
from hooks.simulator import simulate

CORPUS = Path(__file__).resolve().parent / "corpus"
IMAGE = "registry.example.com/app:1.0"
# For `environment` resources: what `lattice import score` would read from the shell.
ENVIRON = {"NAME": "World", "TEST": "from-the-environment"}


def corpus_files() -> list[str]:
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.yaml"))


@attrs.frozen
class Rendered:
    services: list[dict[str, Any]]  # the LatticeServices the Score files imply
    objects: list[dict[str, Any]]  # what the controllers generate
    errors: list[str]  # conversion errors and failed objects
    notes: list[str]
    waiting: list[str] = attrs.field(factory=list)  # Compiling services and why

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name}: {len(found)} found"
        return found[0]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def env(self, service: str, container: str) -> dict[str, Any]:
        c = self.container(service, container)
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}

    def container(self, service: str, container: str) -> dict[str, Any]:
        pod = self.one("Deployment", service)["spec"]["template"]["spec"]
        return next(c for c in pod["containers"] + pod.get("initContainers", []) if c["name"] == container)


def render(names: Iterable[str | Path], *, image: str | None = IMAGE, environ: dict[str, str] | None = None,
           extra: Iterable[dict[str, Any]] = ()) -> Rendered:
    err = io.StringIO()
    implied: list[dict[str, Any]] = []
    paths = [n if isinstance(n, Path) else CORPUS / n for n in names]
    options = ScoreOptions(image=image, environ=dict(ENVIRON if environ is None else environ))
    docs, _ = read_documents(paths, err, options, implied)
    notes = link_notes(implied, docs)
    sim = simulate([*docs, *extra], HookConfig())
    errors = [line for line in err.getvalue().splitlines() if not line.startswith("warning:")]
    return Rendered(implied, sim.objects, errors + [str(f) for f in sim.failures], notes,
                    [str(w) for w in sim.waiting])


def score_doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CORPUS / name).read_text())
    return doc
