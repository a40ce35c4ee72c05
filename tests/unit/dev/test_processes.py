"""lattice_dev.processes: ports never handed out twice, components in their own process group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from lattice_dev.errors import DevClusterError
from lattice_dev.processes import ManagedProcess, free_port, wait_until


def test_free_ports_are_never_the_same_twice() -> None:
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20


def test_a_process_is_stopped_with_its_group_and_its_log_kept(tmp_path: Path) -> None:
    proc = ManagedProcess.spawn("sleeper", [sys.executable, "-c", "print('up', flush=True); import time; "
                                            "time.sleep(60)"], tmp_path / "logs" / "sleeper.log")
    wait_until(proc, lambda: "up" in proc.tail(), time.monotonic() + 10, "printed up")
    proc.stop(timeout=5)
    assert not proc.alive() and "up" in proc.tail()


def test_waiting_on_a_process_that_died_says_so(tmp_path: Path) -> None:
    proc = ManagedProcess.spawn("dies", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                                tmp_path / "dies.log")
    with pytest.raises(DevClusterError, match="exited with code 3"):
        wait_until(proc, lambda: False, time.monotonic() + 10, "never")
