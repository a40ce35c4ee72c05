"""Fixtures for tests against a real control plane (see lattice_dev/, docs/testbed.md).

Every test under tests/integration is marked ``integration``. The first use builds the binaries
with this checkout's testbed/build.sh (minutes when its cache is cold, well under a second when warm).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lattice_dev

INTEGRATION_DIR = Path(__file__).resolve().parent
ROOT = INTEGRATION_DIR.parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def testbed_bin() -> Path:
    """The directory with etcd, kube-apiserver, kube-controller-manager, kubectl (+ metacontroller)."""
    return lattice_dev.build_in_checkout(ROOT)


@pytest.fixture(scope="session")
def control_plane(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[lattice_dev.ControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager + upstream CRDs, plus Metacontroller when its
    binary is available (``cp.metacontroller_running``; use the ``metacontroller`` fixture to
    require it)."""
    with lattice_dev.ControlPlane.start(
        tmp_path_factory.mktemp("control-plane"),
        controller_manager=True,
        metacontroller=lattice_dev.find_metacontroller(testbed_bin) is not None,
        upstream_crds=True,
        bin_dir=testbed_bin,
    ) as cp:
        yield cp


@pytest.fixture
def metacontroller(control_plane: lattice_dev.ControlPlane) -> lattice_dev.ControlPlane:
    """The session control plane, skipping the test when Metacontroller is not running."""
    if not control_plane.metacontroller_running:
        pytest.skip(
            "Metacontroller binary not available (its Go module is not served here; see "
            "docs/testbed.md); set LATTICE_METACONTROLLER_BIN to run these tests"
        )
    return control_plane


@pytest.fixture
def start_control_plane(
    testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., lattice_dev.ControlPlane]]:
    """Factory for extra control planes (one per simulated cluster). Defaults to a bare apiserver
    (etcd + kube-apiserver, no controller manager, no CRDs); keyword arguments go to
    ``ControlPlane.start``. All are stopped when the test ends."""
    started: list[lattice_dev.ControlPlane] = []

    def start(**kwargs: Any) -> lattice_dev.ControlPlane:
        kwargs.setdefault("controller_manager", False)
        kwargs.setdefault("upstream_crds", False)
        kwargs.setdefault("bin_dir", testbed_bin)
        cp = lattice_dev.ControlPlane.start(tmp_path_factory.mktemp("extra-plane"), **kwargs)
        started.append(cp)
        return cp

    yield start
    for cp in reversed(started):
        cp.stop()


class HookServer:
    """A Starlette app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = lattice_dev.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="hook-server", daemon=True)

    def __enter__(self) -> HookServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("hook server did not start")
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], HookServer]]:
    """``serve_app(starlette_app)`` -> a started :class:`HookServer` (stopped after the test)."""
    servers: list[HookServer] = []

    def serve(app: Any) -> HookServer:
        s = HookServer(app).__enter__()
        servers.append(s)
        return s

    yield serve
    for s in servers:
        s.__exit__(None, None, None)


@pytest.fixture(scope="session")
def fleet(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """root -> child -> grandchild, each a real control plane with its real cell/operator/agent,
    KWOK nodes in the grandchild, Hydra as the OIDC issuer (tests/integration/fleet_procs.py). Started
    once per session by the API proxy tests."""
    from fleet_procs import start_fleet

    fleet = start_fleet(tmp_path_factory.mktemp("fleet"), testbed_bin)
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="session")
def cluster_plane(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A control plane with Metacontroller, the hook server, the Cluster API managers and CAPD's
    in-memory backend (tests/integration/cluster_plane.py; lattice_dev.capi)."""
    from cluster_plane import cluster_plane as start

    with start(tmp_path_factory.mktemp("cluster-plane"), testbed_bin, managers=True) as plane:
        yield plane
