"""Kubeconfig files as kubectl reads them, and one kr8s client per context.

Which files: ``--kubeconfig`` (one path or a ``:``-separated list), else ``$KUBECONFIG``, else
``~/.kube/config``; merged as kubectl merges them (the first file to name a cluster, user or
context wins; relative paths are relative to the file that holds them).

Each context becomes a self-contained kubeconfig for kr8s with file paths made absolute and the
``*-data`` fields written to files in one private temporary directory that is removed afterwards
(kr8s would write them to ``/tmp`` itself and never delete them: private keys left behind on every
run). An ``exec`` credential plugin is run once per distinct user entry, with
``KUBERNETES_EXEC_INFO`` as kubectl sets it, and its token handed to every context using it, so a
fleet kubeconfig of fifty contexts runs ``lattice token`` once, not fifty times.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from cli.errors import LatticeError

Entry = dict[str, Any]


def kubeconfig_paths(kubeconfig: str | None) -> list[Path]:
    """The files kubectl would read, in merge order (missing ones in ``$KUBECONFIG`` are skipped)."""
    if kubeconfig:
        return [Path(p).expanduser() for p in kubeconfig.split(os.pathsep) if p]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p and Path(p).expanduser().exists()]
    return [Path("~/.kube/config").expanduser()]


@attrs.frozen
class Context:
    name: str
    cluster: Entry  # the kubeconfig's ``cluster:`` mapping
    user: Entry
    namespace: str | None
    base: Path  # the folder relative paths are resolved against

    @property
    def server(self) -> str:
        return str(self.cluster.get("server") or "")


@attrs.frozen
class KubeConfig:
    contexts: tuple[Context, ...]
    current: str | None
    paths: tuple[Path, ...]

    def context(self, name: str) -> Context:
        for ctx in self.contexts:
            if ctx.name == name:
                return ctx
        known = ", ".join(c.name for c in self.contexts) or "none"
        raise LatticeError(f"context {name!r} not found in {_names(self.paths)} (contexts: {known})")

    def select(self, names: list[str] | None) -> list[Context]:
        """The contexts asked for by name, or every context."""
        return [self.context(n) for n in names] if names else list(self.contexts)


def _names(paths: tuple[Path, ...] | list[Path]) -> str:
    return ", ".join(str(p) for p in paths)


def load(kubeconfig: str | None) -> KubeConfig:
    paths = kubeconfig_paths(kubeconfig)
    clusters: dict[str, tuple[Entry, Path]] = {}
    users: dict[str, Entry] = {}
    contexts: dict[str, tuple[Entry, Path]] = {}
    current: str | None = None
    read: list[Path] = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError as exc:
            raise LatticeError(f"kubeconfig {path} does not exist") from exc
        except (OSError, yaml.YAMLError) as exc:
            raise LatticeError(f"cannot read kubeconfig {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise LatticeError(f"kubeconfig {path} is not a mapping")
        read.append(path)
        base = path.resolve().parent
        for item in doc.get("clusters") or []:
            if isinstance(item, dict) and item.get("name") and item["name"] not in clusters:
                clusters[item["name"]] = (_absolute(dict(item.get("cluster") or {}), base), base)
        for item in doc.get("users") or []:
            if isinstance(item, dict) and item.get("name") and item["name"] not in users:
                users[item["name"]] = _absolute(dict(item.get("user") or {}), base)
        for item in doc.get("contexts") or []:
            if isinstance(item, dict) and item.get("name") and item["name"] not in contexts:
                contexts[item["name"]] = (dict(item.get("context") or {}), base)
        current = current or doc.get("current-context") or None
    out = []
    for name, (ctx, base) in contexts.items():
        cluster = clusters.get(str(ctx.get("cluster") or ""), ({}, base))[0]
        out.append(Context(name=name, cluster=cluster, user=users.get(str(ctx.get("user") or ""), {}),
                           namespace=ctx.get("namespace"), base=base))
    return KubeConfig(contexts=tuple(out), current=current, paths=tuple(read))


_PATH_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def _absolute(entry: Entry, base: Path) -> Entry:
    for key in _PATH_KEYS:
        if isinstance(entry.get(key), str) and entry[key] and not Path(entry[key]).expanduser().is_absolute():
            entry[key] = str(base / entry[key])
    return entry


class Materializer:
    """Self-contained kubeconfigs for kr8s; owns the private folder their credentials go to."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._exec_tokens: dict[str, str | LatticeError] = {}
        self._count = 0

    def _file(self, data: str) -> str:
        raw = data.encode() if "-----" in data else base64.b64decode(data)
        self._count += 1
        path = self.folder / f"f{self._count}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        return str(path)

    def exec_token(self, exec_config: Entry, server: str) -> str:
        """Run an ``exec`` credential plugin once per distinct configuration; its token."""
        key = json.dumps(exec_config, sort_keys=True)
        if key not in self._exec_tokens:
            try:
                self._exec_tokens[key] = run_exec_plugin(exec_config, server)
            except LatticeError as exc:
                self._exec_tokens[key] = exc  # fails the same way for every context using it
        found = self._exec_tokens[key]
        if isinstance(found, LatticeError):
            raise found
        return found

    def config(self, ctx: Context) -> dict[str, Any]:
        cluster = {k: v for k, v in ctx.cluster.items() if k != "certificate-authority-data"}
        if ctx.cluster.get("certificate-authority-data"):
            cluster["certificate-authority"] = self._file(str(ctx.cluster["certificate-authority-data"]))
        user = {k: v for k, v in ctx.user.items() if k not in ("client-certificate-data", "client-key-data", "exec")}
        for key in ("client-certificate", "client-key"):
            if ctx.user.get(f"{key}-data"):
                user[key] = self._file(str(ctx.user[f"{key}-data"]))
        if isinstance(ctx.user.get("exec"), dict):
            user["token"] = self.exec_token(ctx.user["exec"], ctx.server)
        if ctx.user.get("tokenFile") and not user.get("token"):
            try:
                user["token"] = Path(str(ctx.user["tokenFile"])).read_text().strip()
            except OSError as exc:
                raise LatticeError(f"context {ctx.name}: cannot read tokenFile: {exc}") from exc
        context: Entry = {"cluster": "c", "user": "u"}
        if ctx.namespace:
            context["namespace"] = ctx.namespace
        return {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}], "contexts": [{"name": ctx.name, "context": context}],
                "current-context": ctx.name}


@contextlib.contextmanager
def materializer() -> Iterator[Materializer]:
    folder = Path(tempfile.mkdtemp(prefix="lattice-kube-"))  # mode 0700
    try:
        yield Materializer(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_exec_plugin(exec_config: Entry, server: str) -> str:
    """The token an exec credential plugin prints (client certificates from plugins are not supported)."""
    command = exec_config.get("command")
    if not command:
        raise LatticeError("an exec credential plugin without a command")
    api_version = str(exec_config.get("apiVersion") or "client.authentication.k8s.io/v1")
    env = {**os.environ, **{str(e["name"]): str(e["value"]) for e in exec_config.get("env") or []
                           if isinstance(e, dict) and "name" in e}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({
        "apiVersion": api_version, "kind": "ExecCredential",
        "spec": {"interactive": sys.stdin.isatty(), "cluster": {"server": server}}})
    try:
        proc = subprocess.run([str(command), *[str(a) for a in exec_config.get("args") or []]], env=env,
                              stdout=subprocess.PIPE, stderr=None, timeout=300,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LatticeError(f"credential plugin {command}: {exc}") from exc
    if proc.returncode != 0:
        raise LatticeError(f"credential plugin {command} exited with {proc.returncode}")
    try:
        status = json.loads(proc.stdout)["status"]
        return str(status["token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LatticeError(f"credential plugin {command} printed no ExecCredential token") from exc
