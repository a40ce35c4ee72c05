"""lattice_tunnel.kube_request: what every hop speaks: requests, streamed answers, errors as
Kubernetes Status objects, and the headers that may cross a hop."""

from __future__ import annotations

import json

import pytest

from lattice_tunnel.kube_request import (
    AgentUnavailable,
    ClusterGone,
    KubeRequest,
    PayloadTooLarge,
    ResponseStream,
    forwardable_request_headers,
    forwardable_response_headers,
    is_streaming,
)


@pytest.mark.parametrize(("query", "streaming"), [
    ("watch=true", True), ("limit=5&watch=1", True), ("follow=true", True),
    ("watch=false", False), ("", False), ("watcher=true", False),
])
def test_watch_and_follow_stream(query: str, streaming: bool) -> None:
    assert is_streaming(query) is streaming
    assert KubeRequest("a", "GET", "/p", query=query).streaming is streaming


def test_identity_and_hop_by_hop_headers_do_not_cross_a_hop() -> None:
    headers = (("Authorization", "Bearer x"), ("Impersonate-Group", "system:masters"), ("Connection", "close"),
               ("Accept", "application/json"))
    assert forwardable_request_headers(headers) == (("Accept", "application/json"),)
    assert forwardable_response_headers([("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")]) == [
        ("Content-Type", "text/plain")]


async def test_errors_become_kubernetes_status_objects() -> None:
    for err, code in ((AgentUnavailable("down"), 503), (ClusterGone("pivoted"), 410)):
        stream = ResponseStream.from_error(err)
        status = json.loads(await stream.read())
        assert (stream.status, status["kind"], status["code"], status["reason"]) == (code, "Status", code, err.reason)


async def test_a_body_is_read_once_within_its_limit() -> None:
    stream = ResponseStream.from_bytes(200, b"0123456789")
    assert stream.complete_body() == b"0123456789" and KubeRequest("a", "GET", "/p", query="x=1").target == "/p?x=1"
    with pytest.raises(PayloadTooLarge):
        await stream.read(limit=5)
