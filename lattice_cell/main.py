"""lattice-cell: the parent side of the tunnel. If this cluster has a parent itself
(Secret lattice-system/lattice-parent-config), the same process also runs its agent, which
forwards requests down through this cell and advertises this cell's whole subtree upward."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from lattice_agent.runner import AgentTuning, build_agent
from lattice_cell.bootstrap_tokens import SecretTokenStore, issue_token
from lattice_cell.cell import Cell, CellConfig
from lattice_cell.manifests import DEFAULT_IMAGE
from lattice_common.cli import add_kube_flags, run_main, setup_logging, wait_for_signal
from lattice_common.kube_exec import KubeExecutor
from lattice_common.kubehttp import KubeClient, SecretCaStorage, resolve

log = logging.getLogger("lattice_cell")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lattice-cell", description=__doc__)
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the cell (default)")
    add_kube_flags(serve)
    serve.add_argument("--cluster", required=True, help="this cluster's name")
    serve.add_argument("--namespace", default="lattice-system")
    serve.add_argument("--bind", default="0.0.0.0")
    serve.add_argument("--advertise-host", default="127.0.0.1", help="host children dial (and a cert SAN)")
    serve.add_argument("--extra-san", action="append", default=[])
    serve.add_argument("--grpc-port", type=int, default=50051)
    serve.add_argument("--bootstrap-port", type=int, default=8443)
    serve.add_argument("--proxy-port", type=int, default=8081)
    serve.add_argument("--health-port", type=int, default=8080)
    serve.add_argument("--agent-image", default=DEFAULT_IMAGE)
    serve.add_argument("--heartbeat-interval", type=float, default=30.0)
    serve.add_argument("--keepalive-time", type=float, default=30.0, help="embedded agent's HTTP/2 keepalive")
    serve.add_argument("--keepalive-timeout", type=float, default=20.0)
    serve.add_argument("--backoff-max", type=float, default=30.0)
    serve.add_argument("--parent-config-dir", type=Path)
    serve.add_argument("--credentials-dir", type=Path)
    token = sub.add_parser("issue-token", help="register a child cluster and print its one-time bootstrap token")
    add_kube_flags(token)
    token.add_argument("--child", required=True, help="name of the child cluster")
    token.add_argument("--namespace", default="lattice-system")
    token.add_argument("--ttl", type=float, default=3600.0)
    return p


async def serve(args: argparse.Namespace) -> int:
    target = resolve(args.kubeconfig, args.context)
    kube = KubeClient(target)
    local = KubeExecutor(target)
    config = CellConfig(
        cluster=args.cluster, bind=args.bind, advertise_host=args.advertise_host, grpc_port=args.grpc_port,
        bootstrap_port=args.bootstrap_port, proxy_port=args.proxy_port, health_port=args.health_port,
        namespace=args.namespace, agent_image=args.agent_image, heartbeat_interval=args.heartbeat_interval,
        extra_sans=args.extra_san,
    )
    cell = Cell(config, SecretCaStorage(kube, args.namespace), SecretTokenStore(kube, args.namespace), kube, local)
    await cell.start()
    tuning = AgentTuning(args.heartbeat_interval, args.keepalive_time, args.keepalive_timeout, args.backoff_max)
    built = await build_agent(kube, local, cluster=args.cluster, parent_dir=args.parent_config_dir,
                              credentials_dir=args.credentials_dir, downstream=cell.router,
                              subtree=cell.subtree, tuning=tuning)  # type: ignore[arg-type]
    agent_task = None
    if built is not None:
        agent, parent = built
        log.info("cluster %s has a parent; running its agent towards %s", args.cluster, parent.grpc_endpoint)
        agent_task = asyncio.create_task(agent.run())
    try:
        await wait_for_signal()
    finally:
        if agent_task is not None:
            agent_task.cancel()
        await cell.stop()
        await local.aclose()
        await kube.aclose()
    return 0


async def issue(args: argparse.Namespace) -> int:
    kube = KubeClient(resolve(args.kubeconfig, args.context))
    try:
        print(await issue_token(SecretTokenStore(kube, args.namespace), args.child, args.ttl))
    finally:
        await kube.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "issue-token", "-h", "--help"):
        argv.insert(0, "serve")
    args = parser().parse_args(argv)
    setup_logging(args.log_level)
    return run_main(serve(args) if args.command == "serve" else issue(args))


if __name__ == "__main__":
    raise SystemExit(main())
