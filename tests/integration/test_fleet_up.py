"""``lattice dev up --clusters 1`` as a person runs it: the command starts a root cluster and a child
(each a LocalCluster running its own Lattice, the child's machine played by the local cloud), the
child is provisioned, tunnelled and pivoted into itself; the kubeconfig it prints has a context per
cluster; SIGTERM (as Ctrl-C) stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
LATTICE = str(Path(sys.executable).parent / "lattice")


def _processes_under(workdir: Path) -> list[str]:
    """Command lines of live processes that mention ``workdir`` (the planes, KWOK, the operators)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(workdir) in cmdline:
            found.append(cmdline[:200])
    return found


def test_dev_up_clusters_starts_a_pivoted_fleet_and_stops_it(testbed_bin: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "fleet"
    proc = subprocess.Popen([LATTICE, "dev", "up", "--clusters", "1", "--workdir", str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LATTICE_DEV_BIN_DIR": str(testbed_bin)}, start_new_session=True)
    err: list[str] = []
    threading.Thread(target=lambda: err.extend(proc.stderr or []), daemon=True).start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the one stdout line, once the fleet is up
        assert line.startswith("export KUBECONFIG="), f"{line!r}\n{''.join(err)[-3000:]}"
        kubeconfig = line.strip().removeprefix("export KUBECONFIG=")
        kubectl = [str(testbed_bin / "kubectl"), "--kubeconfig", kubeconfig]

        def get(context: str, *args: str) -> Any:
            out = subprocess.run([*kubectl, "--context", context, "get", *args, "-o", "json"], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
            return json.loads(out)

        assert get("root", "latticecluster", "child-1")["status"]["phase"] == "Pivoted"
        deadline = time.monotonic() + 120
        while (get("child-1", "latticecluster", "child-1").get("status") or {}).get("phase") != "Ready":
            assert time.monotonic() < deadline, "child-1 never Ready on itself"
            time.sleep(1)
        assert len(get("child-1", "machines", "-n", "capi-child-1")["items"]) == 2  # its Cluster API objects
        nodes = get("child-1", "nodes")["items"]  # one per machine, kept Ready by KWOK
        assert len(nodes) == 2 and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) for n in nodes)
        assert "fleet of 2 clusters up" in "".join(err)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, "".join(err)[-3000:]
    deadline = time.monotonic() + 30
    while _processes_under(workdir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_under(workdir) == []
