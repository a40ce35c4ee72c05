"""lattice-cell: the parent side of the tunnel, on its own (a root cluster needs nothing more).

``lattice-cell serve`` runs the cell; ``lattice-cell issue-token`` registers a child and prints its
one-time bootstrap token. A cluster that also has a parent runs ``lattice-operator`` instead: the
cell plus the agent towards that parent, in one process.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys

from lattice_cell.bootstrap_tokens import SecretTokenStore, issue_token
from lattice_cell.cell import Cell, CellConfig
from lattice_cell.manifests import DEFAULT_IMAGE
from lattice_cell.proxy import ApiProxyConfig
from lattice_cell.proxy.auth_throttle import DEFAULT_FAILURES, DEFAULT_WINDOW
from lattice_cell.proxy.service import DEFAULT_PORT, DEFAULT_SA_AUDIENCE
from lattice_tunnel.entrypoints import add_kube_flags, run_main, setup_logging, wait_for_signal
from lattice_tunnel.impersonator import add_impersonator_flag, last_hop_executor
from lattice_tunnel.kube_api import KubeApi, SecretCaStorage
from lattice_tunnel.kube_exec import KubeExecutor
from lattice_tunnel.kube_target import resolve

log = logging.getLogger("lattice_cell")


def add_cell_flags(p: argparse.ArgumentParser) -> None:
    """The flags of a cell (also ``lattice-operator``'s)."""
    add_kube_flags(p)
    p.add_argument("--cluster", required=True, help="this cluster's name")
    p.add_argument("--namespace", default="lattice-system")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--advertise-host", default="127.0.0.1", help="host children dial (and a cert SAN)")
    p.add_argument("--extra-san", action="append", default=[])
    p.add_argument("--grpc-port", type=int, default=50051)
    p.add_argument("--bootstrap-port", type=int, default=8443)
    p.add_argument("--proxy-port", type=int, default=8081)
    p.add_argument("--health-port", type=int, default=8080)
    p.add_argument("--agent-image", default=DEFAULT_IMAGE)
    p.add_argument("--heartbeat-interval", type=float, default=30.0)
    p.add_argument("--lease-writes-per-second", type=float, default=25.0,
                   help="at most this many agent Lease writes per second (connects and disconnects first, "
                        "then heartbeat renewals, coalesced); 0 writes no Leases")
    add_impersonator_flag(p)
    add_api_proxy_flags(p)


def add_api_proxy_flags(p: argparse.ArgumentParser) -> None:
    """The authenticated API proxy's flags (docs/proxy.md)."""
    g = p.add_argument_group("API proxy (docs/proxy.md)")
    g.add_argument("--api-proxy-port", type=int, default=DEFAULT_PORT, help="HTTPS port (0: any free one; -1: off)")
    g.add_argument("--api-proxy-url", help="public base URL for discovery and kubeconfigs (default: the Host used)")
    g.add_argument("--api-proxy-tls-cert", help="serving certificate chain (PEM) instead of one from the cell CA")
    g.add_argument("--api-proxy-tls-key", help="its private key (PEM)")
    g.add_argument("--api-proxy-ca-bundle", help="CA bundle handed out in kubeconfigs (default: the cell CA's)")
    g.add_argument("--sa-audience", action="append", default=None,
                   help=f"audience accepted for ServiceAccount tokens (repeatable; default {DEFAULT_SA_AUDIENCE})")
    g.add_argument("--no-sa-tokens", action="store_true", help="accept OIDC tokens only")
    g.add_argument("--oidc-clock-skew", type=float, default=30.0, help="seconds of leeway for exp/nbf/iat (max 300)")
    g.add_argument("--api-proxy-auth-failures", type=int, default=DEFAULT_FAILURES,
                   help="failed authentications a client address may cause per window before its unverified "
                        "tokens are refused with 429 (0: no limit)")
    g.add_argument("--api-proxy-auth-failure-window", type=float, default=DEFAULT_WINDOW,
                   help="seconds in which a client gets all its failed-authentication tries back")


def api_proxy_config(args: argparse.Namespace) -> ApiProxyConfig:
    if bool(args.api_proxy_tls_cert) != bool(args.api_proxy_tls_key):
        raise SystemExit("--api-proxy-tls-cert and --api-proxy-tls-key go together")
    audiences = [] if args.no_sa_tokens else (args.sa_audience or [DEFAULT_SA_AUDIENCE])
    if args.api_proxy_auth_failures < 0 or args.api_proxy_auth_failure_window <= 0:
        raise SystemExit("--api-proxy-auth-failures must be 0 or more and --api-proxy-auth-failure-window positive")
    return ApiProxyConfig(port=args.api_proxy_port, public_url=args.api_proxy_url,
                          tls_cert_file=args.api_proxy_tls_cert, tls_key_file=args.api_proxy_tls_key,
                          ca_bundle_file=args.api_proxy_ca_bundle, sa_audiences=audiences,
                          clock_skew=args.oidc_clock_skew, auth_failures=args.api_proxy_auth_failures,
                          auth_failure_window=args.api_proxy_auth_failure_window)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lattice-cell", description=__doc__)
    sub = p.add_subparsers(dest="command")
    add_cell_flags(sub.add_parser("serve", help="run the cell (default)"))
    token = sub.add_parser("issue-token", help="register a child cluster and print its one-time bootstrap token")
    add_kube_flags(token)
    token.add_argument("--child", required=True, help="name of the child cluster")
    token.add_argument("--namespace", default="lattice-system")
    token.add_argument("--ttl", type=float, default=3600.0)
    return p


def lattice_version() -> str:
    try:
        return importlib.metadata.version("lattice")
    except importlib.metadata.PackageNotFoundError:
        return ""


def build_cell(args: argparse.Namespace, kube: KubeApi, local: KubeExecutor) -> Cell:
    """A cell from ``add_cell_flags``' arguments, keeping its CA and tokens in Secrets."""
    config = CellConfig(
        cluster=args.cluster, bind=args.bind, advertise_host=args.advertise_host, grpc_port=args.grpc_port,
        bootstrap_port=args.bootstrap_port, proxy_port=args.proxy_port, health_port=args.health_port,
        namespace=args.namespace, agent_image=args.agent_image, heartbeat_interval=args.heartbeat_interval,
        extra_sans=args.extra_san, api_proxy=api_proxy_config(args),
        lease_writes_per_second=args.lease_writes_per_second, version=lattice_version(),
    )
    return Cell(config, SecretCaStorage(kube, args.namespace), SecretTokenStore(kube, args.namespace), kube, local)


async def serve(args: argparse.Namespace) -> int:
    target = resolve(args.kubeconfig, args.context)
    kube = await KubeApi.connect(target)
    local, token = await last_hop_executor(target, kube, args.impersonator)
    cell = build_cell(args, kube, local)
    await cell.start()
    try:
        await wait_for_signal()
    finally:
        await cell.stop()
        if token is not None:
            token.stop()
        await local.aclose()
        await kube.aclose()
    return 0


async def issue(args: argparse.Namespace) -> int:
    kube = await KubeApi.connect(resolve(args.kubeconfig, args.context))
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
