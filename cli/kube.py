"""kubectl against one cluster, for the install commands: they talk to clusters that may have
nothing of Lattice yet, with whatever credentials the kubeconfig holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from cli.errors import LatticeError


@attrs.frozen
class Kubectl:
    kubeconfig: Path
    binary: str = "kubectl"
    context: str | None = None

    @classmethod
    def for_kubeconfig(cls, kubeconfig: Path, kubectl: str | None = None, context: str | None = None) -> Kubectl:
        found = kubectl or shutil.which("kubectl")
        if found is None:
            raise LatticeError("kubectl is not on PATH (lattice install drives the clusters with it)")
        return cls(kubeconfig, found, context)

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        context = [f"--context={self.context}"] if self.context else []
        proc = subprocess.run([self.binary, f"--kubeconfig={self.kubeconfig}", *context, *args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            raise LatticeError(f"kubectl {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def get(self, *args: str) -> Any | None:
        """``kubectl get <args> -o json``; None when it does not exist (or cannot be read right now)."""
        proc = self.run("get", *args, "-o", "json", check=False, timeout=60)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def items(self, *args: str) -> list[dict[str, Any]]:
        found = self.get(*args)
        return list((found or {}).get("items") or [])

    def apply(self, objects: Iterable[Mapping[str, Any]], *, server_side: bool = True) -> None:
        text = yaml.safe_dump_all([dict(o) for o in objects])
        flags: Sequence[str] = ("--server-side", "--force-conflicts", "--field-manager=lattice-install") \
            if server_side else ()
        self.run("apply", *flags, "-f", "-", input=text)

    def reachable(self) -> bool:
        return self.run("get", "--raw", "/readyz", check=False, timeout=20).returncode == 0
