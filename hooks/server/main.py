"""``lattice-hooks``: serve the hook app (``hooks.server.app``) with uvicorn.

The HTTP parser is httptools when installed (about 3x cheaper per request than h11), else h11;
the event loop is plain asyncio (uvloop showed long latency tails under load, see
docs/benchmarks.md); no access log. The keep-alive timeout is longer than the idle timeout of
Metacontroller's Go HTTP client (90 s), so the client, not the server, closes idle connections and
a request never races a server-side close.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os

import uvicorn

from hooks.server.app import DEFAULT_MAX_BODY_BYTES

KEEP_ALIVE_SECONDS = 120


def http_implementation() -> str:
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lattice-hooks", description="Lattice's Metacontroller hook server.")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (default 1; prefer more replicas: metrics are per process)")
    p.add_argument("--max-body-bytes", type=int, default=None,
                   help=f"largest request body accepted (default {DEFAULT_MAX_BODY_BYTES}, "
                        "env LATTICE_HOOKS_MAX_BODY_BYTES)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--kubeconfig", default=None,
                   help="write Kubernetes Events with this kubeconfig (env LATTICE_HOOKS_KUBECONFIG; default: "
                        "the pod's service account when mounted, else no Events)")
    p.add_argument("--context", default=None, help="kubeconfig context (env LATTICE_HOOKS_CONTEXT)")
    p.add_argument("--no-events", action="store_true", help="never write Events (env LATTICE_HOOKS_EVENTS=off)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.max_body_bytes:
        # The app factory reads these, in this process and in every worker.
        os.environ["LATTICE_HOOKS_MAX_BODY_BYTES"] = str(args.max_body_bytes)
    if args.kubeconfig:
        os.environ["LATTICE_HOOKS_KUBECONFIG"] = args.kubeconfig
    if args.context:
        os.environ["LATTICE_HOOKS_CONTEXT"] = args.context
    if args.no_events:
        os.environ["LATTICE_HOOKS_EVENTS"] = "off"
    uvicorn.run(
        "hooks.server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=http_implementation(),
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level=args.log_level,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
