"""lattice_cell.http_front: turning an HTTP request into a tunnelled KubeRequest, and back."""

from __future__ import annotations

import pytest

from lattice_cell.http_front import kube_request_from_scope, split_cluster_path
from lattice_tunnel.kube_request import BadRequest, ClusterNotFound


def test_split_cluster_path_keeps_the_encoding_and_drops_the_query() -> None:
    assert split_cluster_path(b"/clusters/prod%2Dx/api/v1/pods?watch=true") == ("prod%2Dx", "/api/v1/pods")
    assert split_cluster_path(b"/clusters/a") == ("a", "/")
    for bad in (b"/api/v1/pods", b"/clusters/", b"/clusters//x"):
        with pytest.raises(ClusterNotFound):
            split_cluster_path(bad)


def test_caller_credentials_never_enter_the_tunnel() -> None:
    scope = {
        "method": "GET", "path": "/clusters/a/api/v1/pods", "raw_path": b"/clusters/a/api/v1/pods",
        "query_string": b"watch=true&limit=5",
        "headers": [(b"authorization", b"Bearer stolen"), (b"impersonate-user", b"admin"),
                    (b"x-remote-user", b"admin"), (b"x-remote-group", b"system:masters"),
                    (b"x-remote-extra-scopes", b"all"), (b"x-http-method-override", b"DELETE"),
                    (b"x-forwarded-for", b"10.0.0.1"),
                    (b"accept", b"application/json"), (b"connection", b"keep-alive")],
    }
    req = kube_request_from_scope(scope, b"", "system:capi-proxy", ("g",))
    assert (req.cluster, req.path, req.query, req.user, req.groups) == (
        "a", "/api/v1/pods", "watch=true&limit=5", "system:capi-proxy", ("g",))
    assert req.headers == (("accept", "application/json"),)
    assert req.streaming  # watch=true


@pytest.mark.parametrize("raw", [
    b"/clusters/a/../b/api", b"/clusters/a/api/v1/namespaces/x/pods/../../../secrets", b"/clusters/../clusters/b/api",
    b"/clusters/a/%2e%2e/b", b"/clusters/a/%2E%2e/b", b"/clusters/a/.%2e/b", b"/clusters/a/./api", b"/clusters/./api",
    b"/clusters/a/api/..", b"/clusters/a/%2e/api?x=1", b"/clusters/a/..%2Fb/api", b"/clusters/b%2F..%2Fa/api",
    b"/clusters/a/api%2F%2E%2E%2Fsecrets",
])
def test_dot_segments_are_refused_before_routing(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        split_cluster_path(raw)


def test_dots_inside_a_segment_are_fine() -> None:
    assert split_cluster_path(b"/clusters/a/api/v1/namespaces/x/configmaps/a..b") == (
        "a", "/api/v1/namespaces/x/configmaps/a..b")
    assert split_cluster_path(b"/clusters/a/apis/apps/v1/.well-known") == ("a", "/apis/apps/v1/.well-known")
