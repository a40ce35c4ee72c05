"""Lattice's hook server (``lattice-hooks``) as a local process on a loopback port that stays the
same across restarts, so a Metacontroller pointed at it can lose it and find it again: ``lattice
dev up``, the integration tests and the benchmarks run it this way."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from lattice_dev.launch import start_hook_server
from lattice_dev.processes import ManagedProcess, free_port


@attrs.define(eq=False)
class HookServerProcess:
    """``lattice-hooks`` on ``127.0.0.1:<port>``, its log in ``<log_dir>/lattice-hooks.log``."""

    log_dir: Path
    port: int
    env: dict[str, str]
    timeout: float = 60.0
    process: ManagedProcess | None = None

    @classmethod
    def start(cls, log_dir: Path, *, env: Mapping[str, str] | None = None, port: int | None = None,
              timeout: float = 60.0) -> HookServerProcess:
        """Start it on ``port`` (default: a free one) with ``env`` added to this environment
        (e.g. ``LATTICE_CLUSTER_NAME``); return once ``/readyz`` answers."""
        server = cls(log_dir=log_dir, port=port or free_port(), env={**os.environ, **(env or {})}, timeout=timeout)
        server.restart()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def restart(self) -> None:
        """(Re)start on the same port; return once ``/readyz`` answers."""
        self.stop()
        processes: dict[str, ManagedProcess] = {}
        try:
            start_hook_server(lambda: time.monotonic() + self.timeout, log_dir=self.log_dir, processes=processes,
                              port=self.port, env=self.env)
        finally:
            self.process = processes.get("lattice-hooks")

    def stop(self) -> None:
        """SIGTERM (uvicorn finishes the requests in flight), SIGKILL after 10 s."""
        if self.process is not None:
            self.resume()
            self.process.stop()
            self.process = None

    def kill(self) -> None:
        """SIGKILL at once: connections in flight are reset, new ones refused."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.popen.wait()
            self.process.stop()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: a hung server. The kernel still accepts connections, nothing answers them, so
        a client waits for its own timeout."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGCONT)

    def log(self, lines: int = 40) -> str:
        return self.process.tail(lines) if self.process is not None else ""
