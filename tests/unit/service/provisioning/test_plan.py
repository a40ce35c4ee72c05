"""hooks.service.provisioning.plan and matching: platform Provisioners before built-ins, classes, params,
dependency order, shared instances, what a provisioner may not do, and the mesh openings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import crds
from crds import Provisioner
from hooks.context import ServiceContext
from hooks.service.compile import compile_service
from hooks.service.provisioning import plan_resources
from hooks.service.provisioning.outputs import lookup
from hooks.service.templates import Parts, SecretKeyRef
from tests.unit.mesh.upstream_schemas import assert_valid as assert_valid_mesh
from tests.unit.service.provisioning.upstream import assert_valid
from tests.unit.service.support import main, make_ctx, service_doc

PROD: dict[str, Any] = {
    "apiVersion": "lattice.dev/v1alpha1", "kind": "Provisioner", "metadata": {"name": "pg-prod"},
    "spec": {
        "type": "postgres", "class": "production",
        "params": {"host": {"required": True, "description": "the database host"},
                   "replicas": {"default": 3}},
        "outputs": {"host": "${params.host}", "port": 5432, "replicas": "${params.replicas}",
                    "password": {"secretKeyRef": {"name": "${name}-creds", "key": "password"}},
                    "nested": {"dsn": "host=${params.host} password=${secret.password}"}},
        "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${name}-info"},
                       "data": {"replicas": "${params.replicas}", "owner": "${workload}/${resource.name}"}}],
        "secret": {"keys": ["password"]},
    },
}


def provisioner(doc: dict[str, Any]) -> Provisioner:
    obj, errors = crds.parse_as(Provisioner, doc)
    assert obj is not None and not errors, errors
    return obj


def ctx_with(spec: dict[str, Any], *provs: dict[str, Any], **kw: Any) -> ServiceContext:
    import attrs
    return attrs.evolve(make_ctx(spec, **kw), provisioners=tuple(provisioner(p) for p in provs))


def test_a_class_selects_the_platform_provisioner() -> None:
    spec = main({"resources": {"db": {"type": "postgres", "class": "production", "params": {"host": "pg.corp"}}}})
    plan = plan_resources(ctx_with(spec, PROD), [provisioner(PROD)])
    assert plan.errors == []
    out = plan.outputs["db"]
    assert lookup("db", out, ("host",)) == "pg.corp"
    assert lookup("db", out, ("port",)) == "5432"
    assert lookup("db", out, ("replicas",)) == "3"  # a whole-placeholder keeps the type; inserted as JSON
    assert lookup("db", out, ("password",)) == SecretKeyRef("db", "api-db-creds", "password", provisioned=True)
    dsn = lookup("db", out, ("nested", "dsn"))
    assert dsn == Parts(("host=pg.corp password=", SecretKeyRef("db", "api-db", "password", provisioned=True)))
    (cm, password, external) = plan.manifests
    assert cm["data"] == {"replicas": 3, "owner": "api/db"}
    assert (password["kind"], external["kind"]) == ("Password", "ExternalSecret")
    assert plan.notes == []  # not a built-in: no development-grade note


def test_an_unknown_class_is_an_error_not_a_development_database() -> None:
    spec = main({"resources": {"db": {"type": "postgres", "class": "gold"}}})
    (error,) = plan_resources(ctx_with(spec, PROD), [provisioner(PROD)]).errors
    assert error.path == "spec.resources.db"
    assert error.message == ("no provisioner for type 'postgres' (class 'gold'); for this type there are: "
                             "Provisioner pg-prod (class production)")


def test_more_specific_provisioners_win_then_names() -> None:
    any_class = copy.deepcopy(PROD)
    any_class["metadata"]["name"] = "a-any"
    del any_class["spec"]["class"]
    by_id = copy.deepcopy(PROD)
    by_id["metadata"]["name"] = "z-by-id"
    by_id["spec"]["id"] = "orders"
    provs = [provisioner(p) for p in (any_class, PROD, by_id)]
    spec = main({"resources": {"db": {"type": "postgres", "class": "production", "id": "orders",
                                      "params": {"host": "h"}}}})
    plan = plan_resources(make_ctx(spec), provs)
    assert plan.manifests[0]["metadata"]["annotations"]["lattice.dev/provisioner"] == "Provisioner z-by-id"
    spec["resources"]["db"].pop("id")
    plan = plan_resources(make_ctx(spec), provs)
    assert plan.manifests[0]["metadata"]["annotations"]["lattice.dev/provisioner"] == "Provisioner pg-prod"


@pytest.mark.parametrize(("params", "message"), [
    ({}, "spec.resources.db.params.host: required by Provisioner pg-prod: the database host"),
    ({"host": "h", "port": 1}, "spec.resources.db.params.port: unknown parameter for Provisioner pg-prod "
                               "(known: host, replicas)"),
])
def test_declared_params_are_enforced(params: dict[str, Any], message: str) -> None:
    spec = main({"resources": {"db": {"type": "postgres", "class": "production", "params": params}}})
    assert [str(e) for e in plan_resources(make_ctx(spec), [provisioner(PROD)]).errors] == [message]


def test_an_invalid_provisioner_blocks_its_type() -> None:
    import attrs
    ctx = attrs.evolve(make_ctx(main({"resources": {"db": {"type": "postgres"}}})),
                       invalid_provisioners=(("broken", "postgres", "spec.outputs: bad"),))
    (error,) = plan_resources(ctx).errors
    assert "Provisioner broken (type postgres) is invalid" in error.message


@pytest.mark.parametrize(("manifest", "message"), [
    ({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"}},
     "manifests[0]: postgresql.cnpg.io/v1 Cluster cannot be a child of a LatticeService"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}},
     "manifests[0]: metadata.namespace must be the service's (shop)"),
])
def test_what_a_provisioner_may_not_make(manifest: dict[str, Any], message: str) -> None:
    doc = copy.deepcopy(PROD)
    doc["spec"]["manifests"] = [manifest]
    spec = main({"resources": {"db": {"type": "postgres", "class": "production", "params": {"host": "h"}}}})
    (error,) = plan_resources(make_ctx(spec), [provisioner(doc)]).errors
    assert message in error.message


def test_secret_values_in_a_provisioner_are_refused() -> None:
    doc = copy.deepcopy(PROD)
    doc["spec"]["manifests"] = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
                                 "stringData": {"password": "hunter2"}}]
    _, errors = crds.parse_as(Provisioner, doc)
    assert [str(e) for e in errors] == ["spec.manifests[0]: a provisioner may not put secret values in a manifest: "
                                        "declare a generated `secret`, or let an operator or ExternalSecret make it"]
    doc["spec"]["manifests"] = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                                 "data": {"p": "${secret.password}"}}]
    spec = main({"resources": {"db": {"type": "postgres", "class": "production", "params": {"host": "h"}}}})
    (error,) = plan_resources(make_ctx(spec), [provisioner(doc)]).errors
    assert "a manifest may not hold secret values" in error.message


def test_params_are_expanded_in_dependency_order_and_cycles_are_named() -> None:
    spec = main({"service": {"ports": {"web": {"port": 8080}}}, "resources": {
        "route": {"type": "route", "params": {"host": "${resources.dns.host}", "path": "/", "port": "web"}},
        "dns": {"type": "dns"}}})
    plan = plan_resources(make_ctx(spec))
    assert plan.errors == []
    (route,) = plan.routes
    assert route.host == lookup("dns", plan.outputs["dns"], ("host",)) and route.port == 8080
    spec["resources"]["dns"] = {"type": "route", "params": {"host": "${resources.route.x}"}}
    errors = [str(e) for e in plan_resources(make_ctx(spec)).errors]
    assert errors == ["spec.resources: a cycle exists between the params of: dns, route"]


def _sharer(name: str) -> dict[str, Any]:
    return service_doc(main({"resources": {"q": {"type": "amqp", "id": "orders-queue"}}}), name=name)


def test_a_shared_instance_is_owned_by_the_first_declarer_and_opened_to_all() -> None:
    spec = main({"resources": {"q": {"type": "amqp", "id": "orders-queue"}}})
    owner = plan_resources(make_ctx(spec, name="makeline", services=[_sharer("order")]))
    other = plan_resources(make_ctx(spec, name="order", services=[_sharer("makeline")]))
    assert sorted(m["kind"] for m in owner.manifests) == ["ExternalSecret", "Password", "Service", "StatefulSet"]
    assert other.manifests == []
    (ds,) = owner.data_services
    assert ds.callers == (("shop", "makeline"), ("shop", "order"))
    assert "resources.q shares amqp 'orders-queue' provisioned by LatticeService shop/makeline" in other.notes
    assert lookup("q", owner.outputs["q"], ("host",)) == lookup("q", other.outputs["q"], ("host",)) == \
        "amqp-orders-queue"


def test_data_service_policies_admit_only_the_workload_and_are_valid_upstream() -> None:
    ctx = make_ctx(main({"resources": {"db": {"type": "postgres"}}}))
    children = compile_service(ctx).children
    cnp = next(c for c in children if c["kind"] == "CiliumNetworkPolicy" and c["metadata"]["name"] == "policy-api-db")
    (callers, waypoint) = cnp["spec"]["ingress"]
    assert waypoint["toPorts"] == [{"ports": [{"port": "15008", "protocol": "TCP"}]}]
    assert callers["fromEndpoints"] == [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop",
                                                         "k8s:app.kubernetes.io/name": "api"}}]
    allow = next(c for c in children if c["metadata"]["name"] == "allow-to-api-db")
    assert allow["spec"]["rules"] == [{"from": [{"source": {"principals": ["lattice.test.local/ns/shop/sa/api"]}}],
                                       "to": [{"operation": {"ports": ["5432"]}}]}]
    own = next(c for c in children if c["metadata"]["name"] == "policy-api")
    assert {"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop",
                                             "k8s:app.kubernetes.io/name": "api-db"}}],
            "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]} in own["spec"]["egress"]
    for c in children:
        if c["kind"] in ("CiliumNetworkPolicy", "AuthorizationPolicy"):
            assert_valid_mesh(c)
        if c["kind"] in ("StatefulSet", "ExternalSecret", "Password"):
            assert_valid(c)


def test_lattice_own_types_cannot_be_provisioned() -> None:
    doc = copy.deepcopy(PROD)
    doc["spec"]["type"] = "volume"
    _, errors = crds.parse_as(Provisioner, doc)
    assert [str(e) for e in errors] == ["spec.type: 'volume' is one of Lattice's own resource types, which no "
                                        "Provisioner serves"]
