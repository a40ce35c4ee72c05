"""hooks.service.provisioners: outputs per resource type and the resolver's error messages."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.service.provisioners import resolver
from hooks.service.templates import SecretKeyRef, Unresolved

from .support import example, gateway_ctx, main, make_ctx


def _peer(name: str, namespace: str, ports: dict[str, int]) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": {"main": {"image": "x"}}}
    if ports:
        spec["service"] = {"ports": {k: {"port": v} for k, v in ports.items()}}
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_readme_example_outputs() -> None:
    resolve = resolver(gateway_ctx())
    assert resolve(("resources", "auth-service", "url")) == "http://auth-service.platform.svc.cluster.local:8080"
    assert resolve(("resources", "auth-service", "host")) == "auth-service.platform.svc.cluster.local"
    assert resolve(("resources", "redis", "host")) == "redis.platform.svc.cluster.local"
    assert resolve(("resources", "redis", "port")) == "6379"
    assert resolve(("resources", "stripe-api", "url")) == "https://api.stripe.com:443"
    assert resolve(("resources", "stripe-api", "host")) == "api.stripe.com"
    assert resolve(("resources", "stripe-api", "port")) == "443"
    username = SecretKeyRef("db-creds", "api-gateway-db-creds", "username")
    assert resolve(("resources", "db-creds", "username")) == username
    assert resolve(("resources", "local-cache", "claim_name")) == "api-gateway-local-cache"
    assert resolve(("resources", "shared-assets", "claim_name")) == "vol-shared-assets"
    assert resolve(("metadata", "name")) == "api-gateway"
    assert resolve(("metadata", "namespace")) == "platform"


@pytest.mark.parametrize(("ports", "expected"), [
    pytest.param({"grpc": 9000, "http": 8080}, "8080", id="named-http"),
    pytest.param({"b": 9000, "a": 7000}, "7000", id="first-by-name"),
    pytest.param({}, "80", id="no-ports"),
])
def test_service_port_choice(ports: dict[str, int], expected: str) -> None:
    spec = main({"resources": {"peer": {"type": "service"}}})
    ctx = make_ctx(spec, services=[_peer("peer", "shop", ports)])
    assert resolver(ctx)(("resources", "peer", "port")) == expected


def test_cross_namespace_service_by_id() -> None:
    spec = main({"resources": {"auth": {"type": "service", "id": "auth-service", "namespace": "payments"}}})
    ctx = make_ctx(spec, services=[_peer("auth-service", "payments", {"http": 8443})])
    assert resolver(ctx)(("resources", "auth", "url")) == "http://auth-service.payments.svc.cluster.local:8443"


def test_missing_service_resolves_from_its_declaration() -> None:
    ctx = make_ctx(main({"resources": {"later": {"type": "service", "namespace": "other"}}}))
    assert resolver(ctx)(("resources", "later", "url")) == "http://later.other.svc.cluster.local:80"


def test_external_default_endpoint_wins() -> None:
    ext = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeExternalService",
           "metadata": {"name": "pg", "namespace": "shop"},
           "spec": {"endpoints": {"a": "tcp://a.example.com:5432", "default": "tcp://db.example.com:6432"}}}
    ctx = make_ctx(main({"resources": {"pg": {"type": "external-service"}}}), externals=[ext])
    resolve = resolver(ctx)
    assert (resolve(("resources", "pg", "host")), resolve(("resources", "pg", "port"))) == ("db.example.com", "6432")
    assert resolve(("resources", "pg", "url")) == "tcp://db.example.com:6432"


def test_metadata_annotations_and_labels() -> None:
    ctx = make_ctx(main(), annotations={"example.com/team": "pay"}, labels={"tier": "web"})
    resolve = resolver(ctx)
    assert resolve(("metadata", "annotations", "example.com/team")) == "pay"
    assert resolve(("metadata", "labels", "tier")) == "web"


def test_secret_without_keys_accepts_any_key() -> None:
    spec = main({"resources": {"all": {"type": "secret", "id": "svc/config", "params": {"provider": "vault"}}}})
    assert resolver(make_ctx(spec))(("resources", "all", "anything")) == SecretKeyRef("all", "api-all", "anything")


@pytest.mark.parametrize(("path", "message"), [
    (("resources", "nope", "host"), "no resource 'nope' is declared in spec.resources"),
    (("resources", "redis", "bogus"),
     "resource 'redis' (type service) has no output 'bogus' (available: host, port, url)"),
    (("resources", "db-creds", "token"),
     "secret resource 'db-creds' has no key 'token' (params.keys: password, username)"),
    (("resources", "local-cache",),
     "a bare volume reference is only valid as a volume source (use '${resources.local-cache.claim_name}' for the "
     "claim name)"),
    (("resources", "redis"), "resource 'redis' needs an output, e.g. '${resources.redis.<output>}'"),
    (("resources", "redis", "host", "x"), "too many path segments (write '\\.' for a dot inside a name)"),
    (("resources",), "expected 'resources.<name>.<output>'"),
    (("config", "x"), "expected 'metadata.<field>' or 'resources.<name>.<output>'"),
    (("metadata", "uid"), "metadata offers name, namespace, annotations.<key> and labels.<key>"),
    (("metadata", "annotations", "x"), "metadata.annotations has no key 'x'"),
])
def test_errors(path: tuple[str, ...], message: str) -> None:
    with pytest.raises(Unresolved) as e:
        resolver(gateway_ctx())(path)
    assert e.value.message == message
    assert e.value.missing is None


def test_custom_type_has_no_outputs() -> None:
    ctx = make_ctx(main({"resources": {"db": {"type": "postgres"}}}))
    with pytest.raises(Unresolved, match="resource 'db' has type 'postgres', which Lattice does not provision"):
        resolver(ctx)(("resources", "db", "host"))


def test_missing_external_service_is_a_missing_dependency() -> None:
    spec = example("api-gateway")["spec"]
    ctx = make_ctx(spec, name="api-gateway", namespace="platform")
    with pytest.raises(Unresolved) as e:
        resolver(ctx)(("resources", "stripe-api", "url"))
    assert e.value.missing == "LatticeExternalService platform/stripe-api"
    assert e.value.message == "LatticeExternalService platform/stripe-api does not exist yet"
