"""hooks.service.provisioning.resolver over the outputs of Lattice's own types (hooks.service.provisioning.native)."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.context import ServiceContext
from hooks.service.provisioning import plan_resources
from hooks.service.provisioning import resolver as resolver_mod
from hooks.service.templates import Resolver, SecretKeyRef, Unresolved

from .support import example, gateway_ctx, main, make_ctx


def resolver(ctx: ServiceContext) -> Resolver:
    return resolver_mod.resolver(ctx, plan_resources(ctx).outputs)


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
     "resource 'redis' (type service) has no output 'bogus' (available: host, name, port, url)"),
    (("resources", "db-creds", "token"),
     "resource 'db-creds' (type secret) has no output 'token' (available: password, username)"),
    (("resources", "local-cache",), "a bare volume reference is only valid as a volume source (outputs: claim_name)"),
    (("resources", "redis"),
     "resource 'redis' needs an output key, e.g. '${resources.redis.<key>}' (available: host, name, port, url)"),
    (("resources", "redis", "host", "x"), "cannot look up key 'x': output 'host' of resource 'redis' is not a map"),
    (("resources",), "expected 'resources.<name>.<key>'"),
    (("config", "x"),
     "unknown reference root 'config': expected 'metadata.<key>' or 'resources.<name>.<key>' "
     "(write $$ for a literal $)"),
    (("metadata", "uid"), "key 'uid' not found in metadata (available: annotations, labels, name, namespace)"),
    (("metadata", "annotations", "x"), "key 'x' not found in metadata.annotations (available: none)"),
    (("metadata", "name", "x"), "cannot look up key 'x': 'metadata.name' is not a map"),
    (("metadata",), "'metadata' needs a key, e.g. '${metadata.name}'"),
])
def test_errors(path: tuple[str, ...], message: str) -> None:
    with pytest.raises(Unresolved) as e:
        resolver(gateway_ctx())(path)
    assert e.value.message == message
    assert e.value.missing is None


def test_type_nobody_provisions_is_refused() -> None:
    ctx = make_ctx(main({"resources": {"q": {"type": "tofu"}}}))
    with pytest.raises(Unresolved, match="resource 'q' has no provisioner"):
        resolver(ctx)(("resources", "q", "host"))
    (error,) = plan_resources(ctx).errors
    assert error.path == "spec.resources.q"
    assert error.message.startswith("no provisioner for type 'tofu' (class 'default'); types provisioned here: amqp, ")


def test_service_name_output_is_what_a_caller_writes() -> None:
    spec = main({"resources": {"cart": {"type": "service"}, "auth": {"type": "service", "namespace": "sec"}}})
    resolve = resolver(make_ctx(spec))
    assert resolve(("resources", "cart", "name")) == "cart"
    assert resolve(("resources", "auth", "name")) == "auth.sec"


def test_metadata_walks_workload_metadata_and_encodes_json() -> None:
    spec = main({"workloadMetadata": {"other": {"key": "value"}, "n": 3}})
    resolve = resolver(make_ctx(spec, annotations={"key.com/foo-bar": "thing"}))
    assert resolve(("metadata", "other")) == '{"key":"value"}'
    assert resolve(("metadata", "other", "key")) == "value"
    assert resolve(("metadata", "n")) == "3"
    assert resolve(("metadata", "annotations", "key.com/foo-bar")) == "thing"


def test_missing_external_service_is_a_missing_dependency() -> None:
    spec = example("api-gateway")["spec"]
    ctx = make_ctx(spec, name="api-gateway", namespace="platform")
    with pytest.raises(Unresolved) as e:
        resolver(ctx)(("resources", "stripe-api", "url"))
    assert e.value.missing == "LatticeExternalService platform/stripe-api"
    assert e.value.message == "LatticeExternalService platform/stripe-api does not exist yet"
