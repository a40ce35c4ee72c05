"""hooks.service.expansion: every template of a service expanded once, errors with field paths."""

from __future__ import annotations

import pytest

from hooks.service.expansion import budgeted, expand_workload
from hooks.service.templates import SecretKeyRef, Unresolved

from .support import example, gateway_ctx, main, make_ctx


def test_containers_in_order_main_then_sidecars() -> None:
    spec = main({"sidecars": {"a-proxy": {"image": "envoy"}, "0-init": {"image": "busybox", "init": True}},
                 "containers": {"web": {"image": "nginx"}, "main": {"image": "nginx"}}})
    expansion = expand_workload(make_ctx(spec))
    assert [(c.name, c.field, c.is_sidecar, c.is_init) for c in expansion.containers] == [
        ("main", "spec.containers.main", False, False),
        ("web", "spec.containers.web", False, False),
        ("0-init", "spec.sidecars.0-init", True, True),
        ("a-proxy", "spec.sidecars.a-proxy", True, False),
    ]


def test_gateway_expands_cleanly() -> None:
    expansion = expand_workload(gateway_ctx())
    assert expansion.errors == ()
    assert expansion.missing == {}
    (c,) = expansion.containers
    assert c.env["DB_PASS"].parts == (SecretKeyRef("db-creds", "api-gateway-db-creds", "password"),)
    assert c.files["/etc/api/config.yaml"].text is not None
    assert c.files["/etc/api/config.yaml"].text.text == (
        "upstream: http://auth-service.platform.svc.cluster.local:8080\ntimeout: 30s\n")


def test_every_unknown_reference_is_reported_with_its_field() -> None:
    spec = main(
        variables={"DB_URL": "${resources.nope.host}", "OK": "${metadata.name}", "X": "${resources.redis.nope}"},
        files={"/etc/a.conf": {"content": "${metadata.nope}"}, "/etc/b.conf": {"content": "${resources.nope.url}"}},
    )
    spec["resources"] = {"redis": {"type": "service"}}
    spec["sidecars"] = {"proxy": {"image": "envoy", "variables": {"UP": "${resources.up.url}"}}}
    errors = [str(e) for e in expand_workload(make_ctx(spec)).errors]
    assert errors == [
        "spec.containers.main.variables.DB_URL: unknown reference '${resources.nope.host}': no resource 'nope' is "
        "declared in spec.resources",
        "spec.containers.main.variables.X: unknown reference '${resources.redis.nope}': resource 'redis' (type "
        "service) has no output 'nope' (available: host, name, port, url)",
        "spec.containers.main.files./etc/a.conf.content: unknown reference '${metadata.nope}': key 'nope' not found "
        "in metadata (available: annotations, labels, name, namespace)",
        "spec.containers.main.files./etc/b.conf.content: unknown reference '${resources.nope.url}': no resource "
        "'nope' is declared in spec.resources",
        "spec.sidecars.proxy.variables.UP: unknown reference '${resources.up.url}': no resource 'up' is declared in "
        "spec.resources",
    ]


def test_missing_external_service_is_not_an_error() -> None:
    spec = example("api-gateway")["spec"]
    expansion = expand_workload(make_ctx(spec, name="api-gateway", namespace="platform"))
    assert expansion.errors == ()
    assert expansion.missing == {
        "LatticeExternalService platform/stripe-api": "spec.containers.main.variables.STRIPE_URL"}


def test_file_modes_and_binary() -> None:
    spec = main(files={
        "/bin/tool": {"binaryContent": "AAEC", "mode": "0755"},
        "/etc/raw": {"content": "${x}", "noExpand": True, "mode": "600"},
        "/etc/rev": {"content": "${HOME} $${metadata.name}", "reverseExpand": True},
    })
    files = expand_workload(make_ctx(spec)).containers[0].files
    assert (files["/bin/tool"].binary, files["/bin/tool"].text, files["/bin/tool"].mode) == ("AAEC", None, 0o755)
    assert files["/etc/raw"].text is not None and files["/etc/raw"].text.text == "${x}"
    assert files["/etc/raw"].mode == 0o600
    assert files["/etc/rev"].text is not None and files["/etc/rev"].text.text == "${HOME} api"


def test_a_variable_may_not_expand_past_its_limit() -> None:
    big = "a" * 20_000
    spec = main(variables={"TWICE": "${metadata.annotations.big}${metadata.annotations.big}",
                           "ONCE": "${metadata.annotations.big}"})
    expansion = expand_workload(make_ctx(spec, annotations={"big": big}))
    assert [str(e) for e in expansion.errors] == [
        "spec.containers.main.variables.TWICE: expands to 40,000 characters; at most 32,768 are allowed"]


def test_all_references_together_are_bounded() -> None:
    resolve = budgeted(lambda path: "x" * 600, total=1_000)
    assert resolve(("a",)) == "x" * 600
    with pytest.raises(Unresolved, match="more than 1,000 characters in all"):
        resolve(("b",))
