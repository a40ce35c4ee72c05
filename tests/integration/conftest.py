"""Fixtures for tests against a real control plane (see lattice_dev/, docs/testbed.md).

Every test under tests/integration is marked ``integration``. The first use builds the binaries
with this checkout's testbed/build.sh (minutes when its cache is cold, well under a second when warm).

The live Lattice loop — write a live test like this::

    from live import LatticeLoop, wait

    def test_my_feature(lattice_loop: LatticeLoop) -> None:
        ns = lattice_loop.namespace("feat")                    # lt-feat-1a2b3: yours alone
        lattice_loop.apply(MY_SERVICES_YAML, namespace=ns)       # kubectl apply; objects without a
                                                                 # namespace land in ns
        svc = lattice_loop.wait_phase("latticeservices", ns, "web", "Ready")
        owned = lattice_loop.owned(svc, ns)                      # {(kind, name): object}
        assert ("Deployment", "web") in owned
        assert lattice_loop.sync_errors(ns) == []                # Metacontroller's Warning events

``lattice_loop`` (session) is the whole control loop, started once for the session exactly as
``lattice dev up`` starts it (``cli.dev.start_lattice_loop``):

* kube-apiserver, etcd, kube-controller-manager (garbage collector, namespaces, ServiceAccounts)
  with the upstream CRDs (Cilium, Istio, Gateway API, Envoy Gateway, ESO, cert-manager, CAPI
  core), Lattice's CRDs and Metacontroller's CRDs;
* the hook server ``lattice-hooks`` as a process on a loopback port (``lattice_loop.hooks``: its
  ``url``; ``kill()``, ``pause()`` (SIGSTOP: a hung server), ``resume()``, ``restart()`` on the same
  port — a test that stops it must restart it, e.g. in a ``finally``);
* ``kubectl apply -k`` of ``manifests/`` with the components ``external-hooks`` (every hook at the
  local server, through a ``lattice-hooks-url`` ConfigMap) and ``external-metacontroller`` — the
  very CompositeController/DecoratorController objects and Metacontroller RBAC ``manifests/``
  ships;
* the real Metacontroller v4.17.2 with the flags ``manifests/metacontroller.yaml`` ships
  (``hooks.controllers_manifest.METACONTROLLER_FLAGS``), acting as its ServiceAccount
  ``lattice-system/lattice-metacontroller``, so its shipped RBAC is what is tested.

Rules for tests on it: work in your own namespace (``lattice_loop.namespace(...)``); cluster-scoped
objects and anything in ``lattice-system`` get unique names; leave the controllers, the hook server
and Metacontroller as you found them; wait with bounds (``wait_phase``, ``wait``), never sleep for a
result. Metacontroller's log is ``lattice_loop.metacontroller_log()``; the hook server's
``lattice_loop.hooks.log()``; both live in ``lattice_loop.cp.workdir / "logs"``.

``control_plane`` is the same session plane (``lattice_loop.cp``), for tests that only need an
apiserver with the CRDs: Metacontroller runs in it, so do not create Lattice objects there outside
your own namespace. ``start_control_plane`` starts extra, separate planes (one per simulated
cluster); ``serve_app`` serves a Starlette app in a thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live import LatticeLoop

import lattice_dev
from cli.dev import start_lattice_loop

INTEGRATION_DIR = Path(__file__).resolve().parent
ROOT = INTEGRATION_DIR.parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def testbed_bin() -> Path:
    """The directory with etcd, kube-apiserver, kube-controller-manager, kubectl and metacontroller."""
    return lattice_dev.build_in_checkout(ROOT)


@pytest.fixture(scope="session")
def lattice_loop(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LatticeLoop]:
    """The whole Lattice loop on the real Metacontroller (see the module docstring); session-wide."""
    with start_lattice_loop(tmp_path_factory.mktemp("lattice-loop"), bin_dir=testbed_bin) as loop:
        live = LatticeLoop(loop)
        try:
            live.wait_controllers_started()
            yield live
        finally:
            live.close()


@pytest.fixture(scope="session")
def control_plane(lattice_loop: LatticeLoop) -> lattice_dev.ControlPlane:
    """The session plane: etcd + kube-apiserver + kube-controller-manager + the upstream, Lattice and
    Metacontroller CRDs, with Metacontroller running the Lattice controllers (``lattice_loop``)."""
    return lattice_loop.cp


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
