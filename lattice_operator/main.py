"""lattice-operator: a cluster's cell and, when Secret lattice-system/lattice-parent-config (or
--parent-config-dir) names a parent, its agent towards that parent, in one process.

A root cluster runs only its cell; a mid-tier cluster runs both, the agent reaching everything
below through the cell's router. The parent config is looked for every few seconds: an agent starts
when it appears and stops when it goes (``parent_watch``). Flags: every ``lattice-cell serve`` flag plus the agent's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from lattice_agent.agent import Agent
from lattice_agent.credentials import load_parent_config
from lattice_agent.runner import AgentTuning, add_agent_flags, build_agent
from lattice_cell.main import add_cell_flags, build_cell
from lattice_operator.parent_watch import ParentWatch
from lattice_tunnel.entrypoints import run_main, setup_logging, wait_for_signal
from lattice_tunnel.impersonator import last_hop_executor
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_target import resolve
from lattice_tunnel.parent_config import ParentConfig

log = logging.getLogger("lattice_operator")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lattice-operator", description=__doc__)
    add_cell_flags(p)
    add_agent_flags(p, heartbeat=False)  # --heartbeat-interval is the cell's, and the agent uses it too
    p.add_argument("--parent-interval", type=float, default=5.0,
                   help="how often to look for a parent config appearing, going or changing (s)")
    return p


async def run(args: argparse.Namespace) -> int:
    target = resolve(args.kubeconfig, args.context)
    kube = await KubeApi.connect(target)
    local, token = await last_hop_executor(target, kube, args.impersonator)
    cell = build_cell(args, kube, local)
    await cell.start()

    async def build() -> tuple[Agent, ParentConfig] | None:
        return await build_agent(kube, local, api_server=target.server, cluster=args.cluster,
                                 parent_dir=args.parent_config_dir, credentials_dir=args.credentials_dir,
                                 downstream=cell.router, subtree=cell.subtree, tuning=AgentTuning.from_args(args))

    watch = ParentWatch(build, lambda: load_parent_config(kube, args.parent_config_dir), args.parent_interval)
    watching = asyncio.create_task(watch.run())
    try:
        await wait_for_signal()
    finally:
        watching.cancel()
        await watch.stop_agent()
        await cell.stop()
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
