"""lattice_cell.cluster_provisioning: the pure decisions (the loop itself runs against a real
kube-apiserver in tests/integration/test_cluster_provisioning.py)."""

from __future__ import annotations

import base64

from hooks.cluster import BootstrapData, bootstrap_secret
from hooks.cluster.agent import KEYS
from lattice_cell.bootstrap_tokens import TOKEN_TTL, BootstrapRecord
from lattice_cell.cluster_provisioning import SPENT, BootstrapEndpoint, bootstrap_data, older_than, spent


def test_the_bootstrap_secret_has_the_shape_the_control_plane_reads() -> None:
    endpoint = BootstrapEndpoint("https://cell:8443/", b"PEM")
    data = bootstrap_data(endpoint, b"tok")
    assert tuple(sorted(data)) == tuple(sorted(KEYS))
    compiled = bootstrap_secret("c1", BootstrapData("https://cell:8443/", "PEM", "tok"))
    assert {k: base64.b64decode(v) for k, v in compiled["data"].items()} == data
    assert bootstrap_data(endpoint, SPENT)["token"] == b""


def test_spent_and_stale_records() -> None:
    fresh = BootstrapRecord("c1", "digest", expires_at=1000.0 + TOKEN_TTL)
    assert not spent(fresh) and not spent(None)
    assert spent(BootstrapRecord("c1", "digest", expires_at=0.0, used=True))
    assert older_than(fresh, created=2000.0)  # issued at 1000, the cluster created at 2000: an earlier one's
    assert not older_than(fresh, created=1000.0) and not older_than(fresh, created=None)
