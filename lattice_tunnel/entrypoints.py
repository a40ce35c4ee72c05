"""Small pieces shared by the lattice-cell and lattice-agent entry points."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any


def add_kube_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig of this cluster (default: $KUBECONFIG, in-cluster, ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context to use (default: current-context)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run_main(main: Coroutine[Any, Any, int]) -> int:
    """Run the cell or agent on uvloop when it is installed (a dependency on Linux and macOS):
    its Cython TLS and transports carried ~20 % more tunnelled requests per second than the
    asyncio loop in bench/tunnel.py. LATTICE_EVENT_LOOP=asyncio opts out."""
    if os.environ.get("LATTICE_EVENT_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(main)
    return asyncio.run(main)
