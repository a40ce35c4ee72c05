"""Idle cost of N connected agents on one cell: the cell's RSS and CPU.

    python bench/cell_agents.py [--quick] [--steps 100,500,1000,2000] [--window 30]

A real `lattice-cell` process (CA in a Secret of a real kube-apiserver) accepts N real `Agent`
clients (lattice_agent.agent, production heartbeat 30 s and HTTP/2 keepalive 30 s), each with
its own certificate and its own mTLS connection, spread over a few worker processes. Agents are
added step by step; at each step, once all are connected and the cell has settled, the cell's
RSS is read from /proc and its CPU is measured over an idle window. Only the cell is measured.
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


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="steps 100,500 and a 10 s window (under a minute)")
    ap.add_argument("--steps", help="comma-separated agent counts (default 100,500,1000,2000)")
    ap.add_argument("--window", type=float, help="idle measurement window in seconds (default 30)")
    ap.add_argument("--heartbeat", type=float, default=30.0)
    args = ap.parse_args()
    steps = [int(s) for s in (args.steps or ("100,500" if args.quick else "100,500,1000,2000")).split(",")]
    window = args.window or (10.0 if args.quick else 30.0)

    from tunnel_procs import Proc, start_cell

    import lattice_dev
    from lattice_tunnel import pki

    work = Path(tempfile.mkdtemp(prefix="bench-cell-agents-"))
    cp = lattice_dev.ControlPlane.start(work / "cp", controller_manager=False, upstream_crds=False,
                                        bin_dir=lattice_dev.build_in_checkout(ROOT))
    procs: list[Proc] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        cell = start_cell("root", cp, work, extra=["--heartbeat-interval", str(args.heartbeat)])
        procs.append(cell)
        assert cell.popen is not None
        pid = cell.popen.pid
        time.sleep(2)
        base_rss, _ = proc_stats(pid)
        print(f"cell baseline: rss={base_rss:.1f}MiB", flush=True)
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
                        "heartbeat": args.heartbeat, "agents": creds[chunk_start:chunk_start + PER_WORKER]}
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
            time.sleep(3)  # settle: subtree fan-in, first heartbeats
            rss, cpu0 = proc_stats(pid)
            t0 = time.monotonic()
            time.sleep(window)
            _, cpu1 = proc_stats(pid)
            cpu_pct = (cpu1 - cpu0) / (time.monotonic() - t0) * 100
            per_agent_kb = (rss - base_rss) * 1024 / max(target, 1)
            print(f"agents={target} connected={connected} connect_time={connect_s:.1f}s rss={rss:.1f}MiB "
                  f"rss_per_agent={per_agent_kb:.0f}KiB cpu={cpu_pct:.2f}%_of_one_core "
                  f"cpu_per_1000_agents={cpu_pct / target * 1000:.2f}% (window {window:g}s, "
                  f"heartbeat {args.heartbeat:g}s)", flush=True)
            have = target
    finally:
        for w in workers:
            w.kill()
        for p in procs:
            p.kill()
        cp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
