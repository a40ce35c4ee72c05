"""lattice-agent: the child side of the tunnel (a leaf cluster; intermediates run lattice-cell)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from lattice_agent.agent import Agent
from lattice_agent.runner import AgentTuning, build_agent
from lattice_common.asgi_server import HttpServer
from lattice_common.cli import add_kube_flags, run_main, setup_logging, wait_for_signal
from lattice_common.health import health_app
from lattice_common.kube_exec import KubeExecutor
from lattice_common.kubehttp import KubeClient, resolve

log = logging.getLogger("lattice_agent")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lattice-agent", description=__doc__)
    add_kube_flags(p)
    p.add_argument("--cluster", help="this cluster's name (checked against the parent config)")
    p.add_argument("--parent-config-dir", type=Path,
                   help="read the parent config from files instead of Secret lattice-system/lattice-parent-config")
    p.add_argument("--credentials-dir", type=Path,
                   help="keep tls.crt/tls.key/ca.crt here instead of Secret lattice-agent-credentials")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--health-port", type=int, default=8080)
    p.add_argument("--heartbeat-interval", type=float, default=30.0)
    p.add_argument("--keepalive-time", type=float, default=30.0)
    p.add_argument("--keepalive-timeout", type=float, default=20.0)
    p.add_argument("--backoff-max", type=float, default=30.0)
    return p


def agent_status(agent: Agent) -> dict[str, object]:
    return {"cluster": agent.config.cluster, "parent": agent.parent_cluster,
            "connected": agent.connected.is_set(), "connections": agent.connections}


async def run(args: argparse.Namespace) -> int:
    target = resolve(args.kubeconfig, args.context)
    kube = KubeClient(target)
    local = KubeExecutor(target)
    tuning = AgentTuning(args.heartbeat_interval, args.keepalive_time, args.keepalive_timeout, args.backoff_max)
    built = await build_agent(kube, local, cluster=args.cluster, parent_dir=args.parent_config_dir,
                              credentials_dir=args.credentials_dir, tuning=tuning)
    if built is None:
        log.error("no parent config (Secret lattice-system/lattice-parent-config or --parent-config-dir): "
                  "nothing to connect to")
        return 2
    agent, _ = built

    def ready() -> tuple[bool, str]:
        return (True, "") if agent.connected.is_set() else (False, "not connected to the parent cell")

    health = HttpServer(health_app(ready, lambda: agent_status(agent)), args.bind, args.health_port, None, "health")
    await health.start()
    task = asyncio.create_task(agent.run())
    try:
        await wait_for_signal()
    finally:
        agent.stop()
        task.cancel()
        await health.stop()
        await local.aclose()
        await kube.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_main(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
