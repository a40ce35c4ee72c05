"""Smoke tests of the real control plane used by the integration tests (docs/testbed.md)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lattice_dev import ControlPlane, KubectlError


def _ns(cp: ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cp.kubectl("create", "namespace", name)
    return name


def _exists(cp: ControlPlane, *args: str) -> bool:
    return cp.kubectl("get", *args, "--ignore-not-found", "-o", "name").stdout.strip() != ""


def test_apiserver_ready_and_version(control_plane: ControlPlane) -> None:
    cp = control_plane
    headers = {"Authorization": f"Bearer {cp.token}"}
    with httpx.Client(base_url=cp.server, headers=headers, verify=cp.ssl_context(), timeout=10) as c:
        assert c.get("/readyz").text == "ok"
        version = c.get("/version").json()
    assert version["gitVersion"].startswith("v1.")
    assert version["gitVersion"] != "v0.0.0-master+$Format:%H$"
    client = json.loads(cp.kubectl("version", "-o", "json").stdout)["clientVersion"]
    assert client["gitVersion"] == version["gitVersion"]
    assert cp.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_apply_configmap(control_plane: ControlPlane) -> None:
    cp = control_plane
    ns = _ns(cp, "cm")
    cp.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c1", "namespace": ns},
            "data": {"k": "v"},
        }
    )
    assert cp.get_json("configmap", "c1", "-n", ns)["data"] == {"k": "v"}


def test_upstream_crds_installed(control_plane: ControlPlane) -> None:
    names = set(control_plane.kubectl("get", "crd", "-o", "name").stdout.split())
    for crd in (
        "ciliumnetworkpolicies.cilium.io",
        "ciliumclusterwidenetworkpolicies.cilium.io",
        "authorizationpolicies.security.istio.io",
        "peerauthentications.security.istio.io",
        "serviceentries.networking.istio.io",
        "httproutes.gateway.networking.k8s.io",
        "grpcroutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "externalsecrets.external-secrets.io",
        "clustersecretstores.external-secrets.io",
        "certificates.cert-manager.io",
        "clusters.cluster.x-k8s.io",
    ):
        assert f"customresourcedefinition.apiextensions.k8s.io/{crd}" in names


def test_cilium_network_policy_schema(control_plane: ControlPlane) -> None:
    cp = control_plane
    ns = _ns(cp, "cnp")
    good = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "allow-web", "namespace": ns},
        "spec": {
            "endpointSelector": {"matchLabels": {"app": "web"}},
            "ingress": [
                {
                    "fromEndpoints": [{"matchLabels": {"app": "client"}}],
                    "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}],
                }
            ],
        },
    }
    cp.apply(good)
    assert cp.get_json("ciliumnetworkpolicy", "allow-web", "-n", ns)["spec"]["endpointSelector"]
    bad = json.loads(json.dumps(good))
    bad["metadata"]["name"] = "broken"
    bad["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["protocol"] = "NOT-A-PROTOCOL"
    with pytest.raises(KubectlError) as err:
        cp.apply(bad)
    assert "protocol" in err.value.stderr and "Unsupported value" in err.value.stderr
    assert not _exists(cp, "ciliumnetworkpolicy", "broken", "-n", ns)


def test_garbage_collector_deletes_children(control_plane: ControlPlane) -> None:
    cp = control_plane
    ns = _ns(cp, "gc")
    cp.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": ns}})
    uid = cp.get_json("configmap", "owner", "-n", ns)["metadata"]["uid"]
    cp.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "child",
                "namespace": ns,
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
            },
        }
    )
    cp.kubectl("delete", "configmap", "owner", "-n", ns, "--wait=true")
    cp.wait_for(lambda: not _exists(cp, "configmap", "child", "-n", ns), timeout=60, what="GC of child")


def test_serviceaccount_token_and_rbac(control_plane: ControlPlane, tmp_path: Any) -> None:
    cp = control_plane
    ns = _ns(cp, "sa")
    # the serviceaccount controller creates "default" in every namespace
    cp.wait_for(lambda: _exists(cp, "serviceaccount", "default", "-n", ns), timeout=30, what="default SA")
    token = cp.kubectl("create", "token", "default", "-n", ns).stdout.strip()
    assert token.count(".") == 2
    kc = cp.write_kubeconfig(tmp_path / "sa.kubeconfig", token=token, user="sa")
    out = cp.kubectl(f"--kubeconfig={kc}", "auth", "whoami", "-o", "json").stdout
    assert json.loads(out)["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:default"
    # RBAC is on: a client-certificate user without bindings is forbidden
    kc2 = cp.write_kubeconfig(tmp_path / "alice.kubeconfig", user="alice", groups=["devs"])
    denied = cp.kubectl(f"--kubeconfig={kc2}", "get", "configmaps", "-n", ns, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_extra_bare_apiserver(start_control_plane: Callable[..., ControlPlane]) -> None:
    t0 = time.monotonic()
    cp = start_control_plane()
    assert cp.kubectl("get", "--raw", "/readyz").stdout == "ok"
    assert "kube-controller-manager" not in cp.processes
    print(f"bare apiserver ready in {time.monotonic() - t0:.1f}s")


def _widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.smoke.lattice.dev"},
        "spec": {
            "group": "smoke.lattice.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"color": {"type": "string"}}},
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def test_metacontroller_composite_controller(
    start_control_plane: Callable[..., ControlPlane], serve_app: Callable[[Any], Any]
) -> None:
    """A plane of its own with a stock Metacontroller (its defaults, system:masters) running a
    controller of nobody's: what ``ControlPlane.start(metacontroller=True)`` gives any user."""
    cp = start_control_plane(controller_manager=True, metacontroller=True)
    calls: list[dict[str, Any]] = []

    async def sync(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body)
        parent = body["parent"]
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{parent['metadata']['name']}-child"},
            "data": {"color": parent.get("spec", {}).get("color", "")},
        }
        return JSONResponse({"status": {"children": len(body["children"]["ConfigMap.v1"])}, "children": [child]})

    hook = serve_app(Starlette(routes=[Route("/sync", sync, methods=["POST"])]))
    cp.apply(_widget_crd())
    cp.kubectl("wait", "--for=condition=Established", "crd/widgets.smoke.lattice.dev", "--timeout=60s")
    cp.apply(
        {
            "apiVersion": "metacontroller.k8s.io/v1alpha1",
            "kind": "CompositeController",
            "metadata": {"name": "widget-smoke"},
            "spec": {
                "generateSelector": True,
                "parentResource": {"apiVersion": "smoke.lattice.dev/v1", "resource": "widgets"},
                "childResources": [{"apiVersion": "v1", "resource": "configmaps"}],
                "hooks": {"sync": {"webhook": {"url": f"{hook.url}/sync", "timeout": "5s"}}},
            },
        }
    )
    ns = _ns(cp, "mc")
    cp.apply(
        {
            "apiVersion": "smoke.lattice.dev/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": ns},
            "spec": {"color": "blue"},
        }
    )
    cp.wait_for(lambda: _exists(cp, "configmap", "w1-child", "-n", ns), timeout=60, what="child ConfigMap")
    child = cp.get_json("configmap", "w1-child", "-n", ns)
    assert child["data"] == {"color": "blue"}
    owner = child["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Widget", "w1", True)
    cp.wait_for(
        lambda: cp.get_json("widget", "w1", "-n", ns).get("status", {}).get("children") == 1,
        timeout=60,
        what="parent status",
    )
    assert calls and calls[0]["controller"]["metadata"]["name"] == "widget-smoke"
    # deleting the parent lets the garbage collector remove the child (the GC picks up a new CRD
    # at its next discovery resync, up to 30 s)
    cp.kubectl("delete", "widget", "w1", "-n", ns)
    cp.wait_for(lambda: not _exists(cp, "configmap", "w1-child", "-n", ns), timeout=90, what="child GC")


# Served API versions of the upstream kinds Lattice generates (docs/testbed.md). The service
# compiler must emit a served version; this guards the table against upstream version bumps.
SERVED = {
    ("cilium.io", "ciliumnetworkpolicies"): {"v2"},
    ("cilium.io", "ciliumclusterwidenetworkpolicies"): {"v2"},
    ("security.istio.io", "authorizationpolicies"): {"v1", "v1beta1"},
    ("security.istio.io", "peerauthentications"): {"v1", "v1beta1"},
    ("networking.istio.io", "serviceentries"): {"v1", "v1beta1", "v1alpha3"},
    ("gateway.networking.k8s.io", "httproutes"): {"v1", "v1beta1"},
    ("gateway.networking.k8s.io", "grpcroutes"): {"v1"},
    ("gateway.networking.k8s.io", "gateways"): {"v1", "v1beta1"},
    ("external-secrets.io", "externalsecrets"): {"v1"},
    ("external-secrets.io", "clustersecretstores"): {"v1"},
    ("cert-manager.io", "certificates"): {"v1"},
    ("cluster.x-k8s.io", "clusters"): {"v1beta1", "v1beta2"},
}


def test_upstream_served_versions(control_plane: ControlPlane) -> None:
    cp = control_plane
    served: dict[tuple[str, str], set[str]] = {}
    for group in {g for g, _ in SERVED}:
        for v in cp.api_get(f"/apis/{group}")["versions"]:
            for r in cp.api_get(f"/apis/{group}/{v['version']}")["resources"]:
                served.setdefault((group, r["name"]), set()).add(v["version"])
    assert {k: served.get(k) for k in SERVED} == SERVED


def test_upstream_minimal_objects_accepted(control_plane: ControlPlane) -> None:
    cp = control_plane
    ns = _ns(cp, "kinds")
    meta = {"name": "x", "namespace": ns}
    objs: list[dict[str, Any]] = [
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta,
         "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"principals": ["a/b/c"]}}]}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta,
         "spec": {"mtls": {"mode": "STRICT"}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": meta,
         "spec": {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "https", "protocol": "TLS"}],
                  "resolution": "DNS", "location": "MESH_EXTERNAL"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": meta,
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": meta,
         "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 9090}]}]}},
        {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta,
         "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "store"},
                  "target": {"name": "s"}, "data": [{"secretKey": "k", "remoteRef": {"key": "r"}}]}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": meta,
         "spec": {"secretName": "tls", "dnsNames": ["a.example.com"],
                  "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": f"x-{ns}"},
         "spec": {"endpointSelector": {}, "egress": [{"toEndpoints": [{}]}]}},
    ]  # fmt: skip
    for obj in objs:
        cp.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(obj))
    old = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret", "metadata": meta, "spec": {}}
    rejected = cp.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(old), check=False)
    assert rejected.returncode != 0 and "no matches for kind" in rejected.stderr
