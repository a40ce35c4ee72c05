"""lattice-agent: the child side of the tunnel, on its own (a leaf cluster; a cluster with children
runs lattice-operator, which runs its cell and this agent in one process)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from lattice_agent.agent import Agent
from lattice_agent.runner import AgentTuning, add_agent_flags, build_agent
from lattice_tunnel.embedded_uvicorn import HttpServer
from lattice_tunnel.entrypoints import add_kube_flags, run_main, setup_logging, wait_for_signal
from lattice_tunnel.health import health_app
from lattice_tunnel.impersonator import add_impersonator_flag, last_hop_executor
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_target import resolve

log = logging.getLogger("lattice_agent")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lattice-agent", description=__doc__)
    add_kube_flags(p)
    p.add_argument("--cluster", help="this cluster's name (checked against the parent config)")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--health-port", type=int, default=8080)
    add_agent_flags(p)
    add_impersonator_flag(p)
    return p


def agent_status(agent: Agent) -> dict[str, object]:
    return {"cluster": agent.config.cluster, "parent": agent.parent_cluster,
            "connected": agent.connected.is_set(), "connections": agent.connections}


async def run(args: argparse.Namespace) -> int:
    target = resolve(args.kubeconfig, args.context)
    kube = await KubeApi.connect(target)
    local, token = await last_hop_executor(target, kube, args.impersonator)
    tuning = AgentTuning.from_args(args)
    built = await build_agent(kube, local, api_server=target.server, cluster=args.cluster,
                              parent_dir=args.parent_config_dir, credentials_dir=args.credentials_dir, tuning=tuning)
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
        if token is not None:
            token.stop()
        await local.aclose()
        await kube.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_main(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
