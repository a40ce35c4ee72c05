"""Idle cost of N connected agents on one cell, and what the agent Leases add to it.

    python bench/cell_agents.py [--quick] [--steps 100,500,1000,2000] [--window 30] [--leases both|on|off]

A real `lattice-cell` process (CA in a Secret of a real kube-apiserver) accepts N real `Agent`
clients (lattice_agent.agent, production heartbeat 30 s and HTTP/2 keepalive 30 s), each with
its own certificate and its own mTLS connection, spread over a few worker processes. Agents are
added step by step; at each step, once all are connected, the cell has written every agent Lease
and settled, the RSS of the cell is read from /proc and the CPU of the cell, the kube-apiserver
and etcd is measured over an idle window of whole heartbeat intervals.

`--leases both` (the default) runs the series twice on fresh control planes: first with the agent
Leases off (`--lease-writes-per-second 0`: the baseline), then on (the default rate), and prints
the ratios of the same step. `--quick`: steps 100,500, heartbeat 10 s, a 10 s window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

PER_WORKER = 500


def worker(spec_file: str) -> None:
    """Run the agents listed in `spec_file` until killed."""
    from lattice_agent.agent import Agent, AgentConfig

    spec = json.loads(Path(spec_file).read_text())

    async def run() -> None:
        agents = [
            Agent(AgentConfig(cluster=a["cluster"], grpc_endpoint=spec["endpoint"], ca_pem=spec["ca"].encode(),
                              cert_pem=a["cert"].encode(), key_pem=a["key"].encode(), server_name="localhost",
                              heartbeat_interval=spec["heartbeat"], backoff_initial=1.0, backoff_max=10.0))
            for a in spec["agents"]
        ]
        tasks = []
        for agent in agents:  # pace new connections (~250/s per worker), as jittered restarts would
            tasks.append(asyncio.create_task(agent.run()))
            await asyncio.sleep(0.004)
        await asyncio.gather(*tasks)

    asyncio.run(run())


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MiB, CPU seconds user+system) of a process."""
    rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def cpu_seconds(pids: list[int]) -> float:
    return sum(proc_stats(pid)[1] for pid in pids)


def metric(cell: object, name: str) -> float:
    """Sum of a metric's samples on the cell's /metrics."""
    text = cell.get("/metrics").text  # type: ignore[attr-defined]
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def series(steps: list[int], window: float, heartbeat: float, leases: bool) -> dict[int, dict[str, float]]:
    """One run on a fresh control plane; per step: the figures measured."""
    from tunnel_procs import start_cell

    import lattice_dev
    from lattice_tunnel import pki

    label = "leases=on" if leases else "leases=off"
    work = Path(tempfile.mkdtemp(prefix="bench-cell-agents-"))
    cp = lattice_dev.ControlPlane.start(work / "cp", controller_manager=False, upstream_crds=False,
                                        bin_dir=lattice_dev.build_in_checkout(ROOT))
    workers: list[subprocess.Popen[bytes]] = []
    cell = None
    out: dict[int, dict[str, float]] = {}
    try:
        extra = ["--heartbeat-interval", str(heartbeat)] + ([] if leases else ["--lease-writes-per-second", "0"])
        cell = start_cell("root", cp, work, extra=extra)
        assert cell.popen is not None
        pid = cell.popen.pid
        control = [cp.processes["kube-apiserver"].popen.pid, cp.processes["etcd"].popen.pid]
        time.sleep(2)
        base_rss, _ = proc_stats(pid)
        print(f"{label} cell baseline: rss={base_rss:.1f}MiB", flush=True)
        bundle = cell.ca_bundle()
        have = 0
        for target in steps:
            started = time.monotonic()
            new = target - have
            creds = []
            for i in range(have, target):
                name = f"agent-{i:05d}"
                csr, key = pki.generate_agent_csr(name)
                creds.append({"cluster": name, "cert": pki.sign_agent_csr(bundle, csr, name).decode(),
                              "key": key.decode()})
            for chunk_start in range(0, new, PER_WORKER):
                spec = {"endpoint": f"127.0.0.1:{cell.grpc_port}", "ca": bundle.trust_pem().decode(),
                        "heartbeat": heartbeat, "agents": creds[chunk_start:chunk_start + PER_WORKER]}
                spec_file = work / f"spec-{have + chunk_start}.json"
                spec_file.write_text(json.dumps(spec))
                workers.append(subprocess.Popen([sys.executable, __file__, "--worker", str(spec_file)],
                                                stdout=subprocess.DEVNULL, stderr=(work / "workers.log").open("ab")))
            deadline = time.monotonic() + 120
            while True:
                connected = sum(a["connectivity"] == "connected" for a in cell.status()["agents"])
                if connected >= target or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            connect_s = time.monotonic() - started
            created = 0.0
            if leases:  # every agent's Lease created (creates go first, at the configured rate; once
                # renewals outrun the rate the queue never empties: that is the steady state measured)
                while time.monotonic() < deadline:
                    created = metric(cell, 'lattice_cell_lease_writes_total{kind="create"')
                    if created >= target:
                        break
                    time.sleep(0.5)
            leases_s = time.monotonic() - started
            time.sleep(3)  # settle: subtree fan-in, first heartbeats
            rss, cpu0 = proc_stats(pid)
            ctl0 = cpu_seconds(control)
            writes0 = metric(cell, "lattice_cell_lease_writes_total")
            t0 = time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - t0
            _, cpu1 = proc_stats(pid)
            ctl1 = cpu_seconds(control)
            writes = (metric(cell, "lattice_cell_lease_writes_total") - writes0) / elapsed
            cpu_pct = (cpu1 - cpu0) / elapsed * 100
            ctl_pct = (ctl1 - ctl0) / elapsed * 100
            per_agent_kb = (rss - base_rss) * 1024 / max(target, 1)
            out[target] = {"cell_cpu": cpu_pct, "control_cpu": ctl_pct, "rss": rss, "writes": writes}
            print(f"{label} agents={target} connected={connected} connect_time={connect_s:.1f}s "
                  f"leases_written_time={leases_s:.1f}s lease_creates={created:.0f} rss={rss:.1f}MiB "
                  f"rss_per_agent={per_agent_kb:.0f}KiB cpu={cpu_pct:.2f}%_of_one_core "
                  f"cpu_per_1000_agents={cpu_pct / target * 1000:.2f}% apiserver_etcd_cpu={ctl_pct:.2f}% "
                  f"lease_writes_per_s={writes:.1f} (window {window:g}s, heartbeat {heartbeat:g}s)", flush=True)
            have = target
    finally:
        for w in workers:
            w.kill()
        if cell is not None:
            cell.kill()
        cp.stop()
    return out


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="steps 100,500, heartbeat 10 s and a 10 s window")
    ap.add_argument("--steps", help="comma-separated agent counts (default 100,500,1000,2000)")
    ap.add_argument("--window", type=float, help="idle measurement window in seconds (default: the heartbeat)")
    ap.add_argument("--heartbeat", type=float, help="heartbeat interval of the cell and agents (default 30 s)")
    ap.add_argument("--leases", choices=("both", "on", "off"), default="both")
    args = ap.parse_args()
    steps = [int(s) for s in (args.steps or ("100,500" if args.quick else "100,500,1000,2000")).split(",")]
    heartbeat = args.heartbeat or (10.0 if args.quick else 30.0)
    window = args.window or heartbeat
    runs = {"off": [False], "on": [True], "both": [False, True]}[args.leases]
    results = [series(steps, window, heartbeat, leases) for leases in runs]
    if len(results) == 2:
        off, on = results
        for n in steps:
            extra = on[n]["cell_cpu"] + on[n]["control_cpu"] - off[n]["cell_cpu"] - off[n]["control_cpu"]
            print(f"agents={n} leases_cell_cpu_ratio={on[n]['cell_cpu'] / max(off[n]['cell_cpu'], 1e-9):.2f} "
                  f"leases_apiserver_etcd_cpu_ratio={on[n]['control_cpu'] / max(off[n]['control_cpu'], 1e-9):.2f} "
                  f"leases_extra_cpu_pct={extra:.2f} leases_rss_ratio={on[n]['rss'] / off[n]['rss']:.2f} "
                  f"lease_writes_per_s={on[n]['writes']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
