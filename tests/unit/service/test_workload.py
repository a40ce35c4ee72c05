"""hooks.service.workload: ServiceAccount, Deployment, Service and HPA, checked against Kubernetes 1.34."""

from __future__ import annotations

from typing import Any

import pytest

from crds.service import Canary, DeploySpec, Strategy
from hooks.context import ServiceContext
from hooks.service.expansion import expand_workload
from hooks.service.files import plan_files
from hooks.service.volumes import plan_volumes
from hooks.service.workload import (
    build_deployment,
    build_hpa,
    build_service,
    build_service_account,
    strategy,
    topology_key,
)

from .support import assert_valid_k8s, gateway_ctx, main, make_ctx

LABELS = {"app.kubernetes.io/name": "api", "app.kubernetes.io/managed-by": "lattice"}


def deployment(ctx: ServiceContext) -> dict[str, Any]:
    expansion = expand_workload(ctx)
    obj = build_deployment(ctx, expansion, plan_volumes(ctx), plan_files(ctx, expansion))
    assert_valid_k8s(obj)
    return obj


def test_service_account() -> None:
    sa = build_service_account(make_ctx(main()))
    assert sa == {"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "api", "namespace": "shop", "labels": LABELS},
                  "automountServiceAccountToken": False}
    assert_valid_k8s(sa)


def test_service() -> None:
    ctx = make_ctx(main({"service": {"ports": {"http": {"port": 80, "targetPort": 8080},
                                               "dns": {"port": 53, "protocol": "UDP"}}}}))
    svc = build_service(ctx)
    assert svc == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "api", "namespace": "shop",
                     "labels": {**LABELS, "istio.io/use-waypoint": "shop-waypoint"}},
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": "api"}, "ports": [
            {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        ]},
    }
    assert_valid_k8s(svc)


def test_no_service_without_ports() -> None:
    assert build_service(make_ctx(main())) is None
    assert build_service(make_ctx(main({"service": {"ports": {}}}))) is None


def test_hpa() -> None:
    hpa = build_hpa(make_ctx(main({"replicas": {"min": 0, "max": 5}})))
    assert hpa is not None
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
        "minReplicas": 1, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                 "averageUtilization": 80}}}],
    }
    assert_valid_k8s(hpa)
    assert build_hpa(make_ctx(main({"replicas": {"min": 3}}))) is None


def test_gateway_deployment() -> None:
    d = deployment(gateway_ctx())
    assert "replicas" not in d["spec"]  # the HPA owns it
    pod = d["spec"]["template"]
    assert pod["metadata"]["annotations"]["lattice.dev/config-hash"]
    assert pod["spec"]["serviceAccountName"] == "api-gateway"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["DB_PASS"] == {"name": "DB_PASS",
                              "valueFrom": {"secretKeyRef": {"name": "api-gateway-db-creds", "key": "password"}}}
    assert env["STRIPE_URL"] == {"name": "STRIPE_URL", "value": "https://api.stripe.com:443"}


def test_pod_shape() -> None:
    spec = main({
        "containers": {"web": {"image": "web"}, "main": {"image": "nginx"}},
        "sidecars": {"proxy": {"image": "envoy"}, "migrate": {"image": "migrate", "init": True}},
        "service": {"ports": {"http": {"port": 80}}},
        "sysctls": {"net.ipv4.ip_local_port_range": "1024 65000", "net.core.somaxconn": "1024"},
        "hostNetwork": True, "shareProcessNamespace": True,
        "replicas": {"min": 3},
        "resources": {"media": {"type": "volume", "id": "media", "params": {"size": "1Gi"}}},
    })
    d = deployment(make_ctx(spec, provider="aws"))
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "api"}}
    pod = d["spec"]["template"]
    assert pod["metadata"] == {"labels": {**LABELS, "lattice.dev/volume-owner-media": "true"}}
    p = pod["spec"]
    assert [c["name"] for c in p["containers"]] == ["main", "web", "proxy"]
    assert [c["name"] for c in p["initContainers"]] == ["migrate"]
    assert [c.get("ports") for c in p["containers"]] == [
        [{"name": "http", "containerPort": 80, "protocol": "TCP"}]] * 2 + [None]
    assert p["securityContext"]["sysctls"] == [{"name": "net.core.somaxconn", "value": "1024"},
                                               {"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}]
    assert (p["hostNetwork"], p["shareProcessNamespace"]) == (True, True)
    assert p["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}]


@pytest.mark.parametrize(("provider", "key"), [
    ("docker", "kubernetes.io/hostname"), ("proxmox", "kubernetes.io/hostname"),
    ("aws", "topology.kubernetes.io/zone"), ("openstack", "topology.kubernetes.io/zone"),
])
def test_topology_key(provider: str, key: str) -> None:
    assert topology_key(provider) == key


@pytest.mark.parametrize(("deploy", "rollout", "extra"), [
    pytest.param(DeploySpec(), {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 {}, id="rolling"),
    pytest.param(DeploySpec(strategy=Strategy.CANARY),
                 {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "100%"}}, {},
                 id="canary-bare"),
    pytest.param(DeploySpec(strategy=Strategy.CANARY, canary=Canary(step_weight=10, interval="1m", threshold=5)),
                 {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}},
                 {"minReadySeconds": 60, "progressDeadlineSeconds": 600}, id="canary-steps"),
    pytest.param(DeploySpec(strategy=Strategy.CANARY, canary=Canary(interval="10m", threshold=2, max_weight=50)),
                 {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "100%"}},
                 {"minReadySeconds": 600, "progressDeadlineSeconds": 1800}, id="canary-long-interval"),
])
def test_strategy(deploy: DeploySpec, rollout: dict[str, Any], extra: dict[str, Any]) -> None:
    assert strategy(deploy) == (rollout, extra)


def test_canary_deployment_is_valid() -> None:
    spec = main({"deploy": {"strategy": "canary", "canary": {"stepWeight": 20, "interval": "15m", "threshold": 1}}})
    d = deployment(make_ctx(spec))
    assert d["spec"]["minReadySeconds"] == 900
    assert d["spec"]["progressDeadlineSeconds"] > d["spec"]["minReadySeconds"]


def test_rwo_reference_gets_affinity_in_the_pod() -> None:
    spec = main({"resources": {"m": {"type": "volume", "id": "media"}}}, volumes={"/m": {"source": "${resources.m}"}})
    affinity = deployment(make_ctx(spec))["spec"]["template"]["spec"]["affinity"]
    assert affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"] == {
        "matchLabels": {"lattice.dev/volume-owner-media": "true"}}


def test_every_container_feature_is_valid_kubernetes() -> None:
    spec = main(
        {"resources": {"db": {"type": "secret", "id": "p/db", "params": {"provider": "v", "keys": ["pw"]}},
                       "cache": {"type": "volume", "params": {"size": "1Gi"}}},
         "sidecars": {"init": {"image": "busybox", "init": True, "command": ["sh", "-c", "true"],
                               "readinessProbe": {"exec": {"command": ["true"]}}}},
         "service": {"ports": {"http": {"port": 8080}}}},
        command=["/app"], args=["--x"],
        variables={"PW": "${resources.db.pw}", "DSN": "u:${resources.db.pw}@h", "N": "${metadata.name}"},
        files={"/etc/a": {"content": "a"}, "/etc/s": {"content": "${resources.db.pw}", "mode": "0400"},
               "/bin/b": {"binaryContent": "AAEC", "mode": "755"}},
        volumes={"/cache": {"source": "${resources.cache}", "path": "sub", "readOnly": True}},
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        livenessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        security={"capabilities": ["NET_BIND_SERVICE"], "runAsNonRoot": True, "runAsUser": 1000,
                  "readOnlyRootFilesystem": True},
    )
    d = deployment(make_ctx(spec))
    volumes = [v["name"] for v in d["spec"]["template"]["spec"]["volumes"]]
    assert volumes == ["vol-cache", "files", "secret-files"]


def test_workload_annotations_reach_the_pod_except_tool_and_implementation_ones() -> None:
    from hooks.service.workload import pod_annotations

    ctx = make_ctx(main(), annotations={"dapr.io/app-id": "api",
                                        "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                        "k8s.score.dev/kind": "Deployment", "lattice.dev/x": "y"})
    assert pod_annotations(ctx) == {"dapr.io/app-id": "api"}
