"""What ``lattice install`` will do, decided before anything runs (pure): the inputs read and
checked from ``-f`` files, the bootstrap cluster chosen, and the plan ``--dry-run`` prints."""

from __future__ import annotations

import enum
import shutil
from collections.abc import Iterable
from pathlib import Path

import attrs
import yaml

import crds
from cli.errors import LatticeError
from crds import CloudProvider, KubeObject, LatticeCluster
from hooks.cluster import AgentBootstrap, ClusterInputs, compile_cluster, installs_agent

DOCKER_PROVIDER: KubeObject = {
    "apiVersion": crds.API_VERSION, "kind": "CloudProvider",
    "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"},
}
PHASES = ("bootstrap", "install", "apply", "provision", "pivot", "detach", "cleanup")


class BootstrapKind(enum.StrEnum):
    LOCAL = "local"
    KIND = "kind"
    KUBECONFIG = "kubeconfig"


@attrs.frozen
class BootstrapChoice:
    kind: BootstrapKind
    kubeconfig: Path | None = None

    def describe(self) -> str:
        if self.kind is BootstrapKind.KIND:
            return "a kind cluster (Docker)"
        if self.kind is BootstrapKind.KUBECONFIG:
            return f"the existing cluster of {self.kubeconfig}"
        return "a local control plane on this machine (as `lattice dev up` runs it)"


def docker_available() -> bool:
    return shutil.which("docker") is not None and shutil.which("kind") is not None


def parse_bootstrap(value: str | None, *, docker: bool | None = None) -> BootstrapChoice:
    """``--bootstrap``: ``local``, ``kind``, ``kubeconfig=PATH``; default kind when Docker and kind
    are on PATH, else local."""
    if value is None:
        docker = docker_available() if docker is None else docker
        return BootstrapChoice(BootstrapKind.KIND if docker else BootstrapKind.LOCAL)
    key, _, rest = value.partition("=")
    if key == "kubeconfig" and rest:
        path = Path(rest).expanduser()
        if not path.is_file():
            raise LatticeError(f"--bootstrap kubeconfig={rest}: no such file")
        return BootstrapChoice(BootstrapKind.KUBECONFIG, path)
    if value in ("local", "kind"):
        return BootstrapChoice(BootstrapKind(value))
    raise LatticeError(f"--bootstrap {value!r}: expected local, kind or kubeconfig=PATH")


@attrs.frozen
class Inputs:
    cluster: LatticeCluster
    cluster_doc: KubeObject
    providers: tuple[KubeObject, ...]  # CloudProviders from the files
    secrets: tuple[KubeObject, ...]  # their credentials Secrets from the files

    @property
    def name(self) -> str:
        return self.cluster.name

    def provider(self) -> CloudProvider | None:
        for doc in self.providers:
            parsed = crds.parse(dict(doc)).obj
            if isinstance(parsed, CloudProvider) and parsed.name == self.cluster.spec.provider_ref:
                return parsed
        if self.cluster.spec.provider_ref == "docker":
            parsed = crds.parse(dict(DOCKER_PROVIDER)).obj
            return parsed if isinstance(parsed, CloudProvider) else None
        return None

    def machines(self) -> int:
        nodes = self.cluster.spec.nodes
        return nodes.control_plane + sum((p.replicas if p.replicas is not None else (p.min or 0))
                                         for p in nodes.worker_pools.values())


def _docs(paths: Iterable[Path]) -> list[tuple[str, KubeObject]]:
    out = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
        for file in files:
            try:
                docs = [d for d in yaml.safe_load_all(file.read_text()) if d]
            except (OSError, yaml.YAMLError) as exc:
                raise LatticeError(f"{file}: {exc}") from exc
            out += [(str(file), d) for d in docs if isinstance(d, dict)]
    return out


def read_inputs(paths: Iterable[Path]) -> Inputs:
    """Exactly one LatticeCluster, plus any CloudProviders and Secrets, from the files."""
    clusters: list[tuple[LatticeCluster, KubeObject]] = []
    providers: list[KubeObject] = []
    secrets: list[KubeObject] = []
    errors: list[str] = []
    for where, doc in _docs(paths):
        kind = doc.get("kind")
        if kind == "Secret":
            secrets.append(doc)
            continue
        if kind not in ("LatticeCluster", "CloudProvider"):
            errors.append(f"{where}: {kind} is not something lattice install applies (LatticeCluster, "
                          "CloudProvider, Secret)")
            continue
        result = crds.parse(dict(doc))
        if result.errors:
            name = (doc.get("metadata") or {}).get("name", "?")
            errors += [f"{where}: {kind} {name}: {e}" for e in result.errors]
        elif isinstance(result.obj, LatticeCluster):
            clusters.append((result.obj, doc))
        else:
            providers.append(doc)
    if not clusters and not errors:
        errors.append("no LatticeCluster in the files given with -f")
    if len(clusters) > 1:
        errors.append("more than one LatticeCluster: " + ", ".join(c.name for c, _ in clusters)
                      + " (lattice install creates one management cluster; apply the others to it afterwards)")
    if errors:
        raise LatticeError("\n  ".join(["the input has problems:", *errors]))
    cluster, doc = clusters[0]
    inputs = Inputs(cluster, doc, tuple(providers), tuple(secrets))
    if inputs.provider() is None:
        raise LatticeError(f"LatticeCluster {cluster.name} names CloudProvider {cluster.spec.provider_ref!r}, "
                           "which is not in the files (add it, and its credentials Secret, with -f)")
    if not installs_agent(cluster):
        raise LatticeError(f"LatticeCluster {cluster.name} uses Cluster API's in-memory backend, whose machines "
                           "run nothing: it cannot run Lattice, so it cannot be installed (use backend: docker)")
    return inputs


def plan(inputs: Inputs, bootstrap: BootstrapChoice, *, keep_bootstrap: bool,
         kubeconfig_out: Path | None) -> list[str]:
    """The steps, as ``--dry-run`` prints them."""
    compiled = compile_cluster(ClusterInputs(inputs.cluster, inputs.provider(), AgentBootstrap()))
    kinds: dict[str, int] = {}
    for obj in compiled.objects:
        kinds[str(obj["kind"])] = kinds.get(str(obj["kind"]), 0) + 1
    objects = ", ".join(f"{n} {k}" for k, n in kinds.items())
    name, provider = inputs.name, inputs.cluster.spec.provider_ref
    extra = [f"CloudProvider {p['metadata']['name']}" for p in inputs.providers]
    extra += [f"Secret {s['metadata'].get('namespace', 'lattice-system')}/{s['metadata']['name']}"
              for s in inputs.secrets]
    lines = [
        f"1. bootstrap: create {bootstrap.describe()}",
        "2. install: Lattice there: CRDs, Metacontroller, the hook server and its controllers, lattice-operator "
        "(the cell), the CloudProvider 'docker' when the cluster uses it",
        f"3. apply: {', '.join([*extra, f'LatticeCluster {name}'])}",
        f"4. provision: Cluster API creates {name} ({provider}, {inputs.machines()} machines) from {objects}; "
        "its first control-plane machine installs the Lattice agent with a one-time token",
        f"5. pivot: the bootstrap cell moves {name}'s Cluster API objects into {name} through the agent's tunnel; "
        f"{name} manages itself",
        f"6. detach: {name} forgets its bootstrap parent and runs as a root",
        "7. cleanup: " + ("keep the bootstrap cluster (--keep-bootstrap)" if keep_bootstrap
                          else "remove the bootstrap cluster"),
    ]
    if kubeconfig_out is not None:
        lines.append(f"   then write {name}'s kubeconfig to {kubeconfig_out}")
    return lines


