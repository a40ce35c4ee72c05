"""The errors of the dev control plane."""

from __future__ import annotations

from collections.abc import Sequence


class DevClusterError(RuntimeError):
    """A component could not be built, started or driven."""


class KubectlError(DevClusterError):
    """kubectl exited non-zero; carries its exit code, stdout and stderr."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"kubectl {' '.join(args)} exited {returncode}: {stderr.strip() or stdout.strip()}")
