"""The object set per provider x bootstrap: kinds, API versions, names, labels, references,
replicas; deterministic, owner-free, everything in capi-<name>."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hooks.cluster import apis, names

from .support import by_kind, compile_doc, example_docs, one

# example -> (infrastructure cluster, machine template, control plane, bootstrap template)
EXPECTED = {
    "aws": ("AWSCluster", "AWSMachineTemplate", "KubeadmControlPlane", "KubeadmConfigTemplate"),
    "aws-rke2": ("AWSCluster", "AWSMachineTemplate", "RKE2ControlPlane", "RKE2ConfigTemplate"),
    "docker": ("DevCluster", "DevMachineTemplate", "KubeadmControlPlane", "KubeadmConfigTemplate"),
    "docker-rke2": ("DevCluster", "DevMachineTemplate", "RKE2ControlPlane", "RKE2ConfigTemplate"),
    "docker-in-memory": ("DevCluster", "DevMachineTemplate", "KubeadmControlPlane", "KubeadmConfigTemplate"),
    "openstack": ("OpenStackCluster", "OpenStackMachineTemplate", "KubeadmControlPlane", "KubeadmConfigTemplate"),
    "openstack-rke2": ("OpenStackCluster", "OpenStackMachineTemplate", "RKE2ControlPlane", "RKE2ConfigTemplate"),
    "proxmox": ("ProxmoxCluster", "ProxmoxMachineTemplate", "RKE2ControlPlane", "RKE2ConfigTemplate"),
    "proxmox-kubeadm": ("ProxmoxCluster", "ProxmoxMachineTemplate", "KubeadmControlPlane", "KubeadmConfigTemplate"),
}
API_VERSIONS = {
    "Namespace": "v1", "ConfigMap": "v1",
    "Cluster": "cluster.x-k8s.io/v1beta2", "MachineDeployment": "cluster.x-k8s.io/v1beta2",
    "KubeadmControlPlane": "controlplane.cluster.x-k8s.io/v1beta2",
    "KubeadmConfigTemplate": "bootstrap.cluster.x-k8s.io/v1beta2",
    "RKE2ControlPlane": "controlplane.cluster.x-k8s.io/v1beta1",
    "RKE2ConfigTemplate": "bootstrap.cluster.x-k8s.io/v1beta1",
    "DevCluster": "infrastructure.cluster.x-k8s.io/v1beta2",
    "DevMachineTemplate": "infrastructure.cluster.x-k8s.io/v1beta2",
    "AWSCluster": "infrastructure.cluster.x-k8s.io/v1beta2",
    "AWSMachineTemplate": "infrastructure.cluster.x-k8s.io/v1beta2",
    "AWSClusterStaticIdentity": "infrastructure.cluster.x-k8s.io/v1beta2",
    "OpenStackCluster": "infrastructure.cluster.x-k8s.io/v1beta1",
    "OpenStackMachineTemplate": "infrastructure.cluster.x-k8s.io/v1beta1",
    "ProxmoxCluster": "infrastructure.cluster.x-k8s.io/v1alpha1",
    "ProxmoxMachineTemplate": "infrastructure.cluster.x-k8s.io/v1alpha1",
}
CLUSTER_SCOPED = {"Namespace", "AWSClusterStaticIdentity", "AWSClusterRoleIdentity"}
DOCS = example_docs()


def test_every_example_is_covered() -> None:
    assert set(EXPECTED) == set(DOCS)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_object_set(example: str) -> None:
    doc = DOCS[example]
    name = doc["metadata"]["name"]
    plan = compile_doc(doc)
    assert plan.ok, plan.errors
    infra, template, control_plane, config = EXPECTED[example]
    kinds = by_kind(plan)
    pools = sorted(doc["spec"]["nodes"].get("workerPools", {}))

    assert one(plan, "Namespace")["metadata"]["name"] == f"capi-{name}"
    assert one(plan, "Cluster")["metadata"]["name"] == name
    assert one(plan, infra)["metadata"]["name"] == name
    assert one(plan, control_plane)["metadata"]["name"] == f"{name}-control-plane"
    assert len(kinds[template]) == 1 + len(pools)
    assert len(kinds[config]) == len(pools)
    assert sorted(md["metadata"]["name"] for md in kinds["MachineDeployment"]) == [f"{name}-pool-{p}" for p in pools]
    copies = {c.target.namespace for c in plan.secret_copies} - {f"capi-{name}"}
    for o in plan.objects:
        assert o["apiVersion"] == API_VERSIONS.get(o["kind"], o["apiVersion"])
        assert (o["kind"] in CLUSTER_SCOPED) == ("namespace" not in o["metadata"])
        if "namespace" in o["metadata"] and o["kind"] != "RoleBinding":
            assert o["metadata"]["namespace"] == f"capi-{name}"
        labels = o["metadata"]["labels"]
        assert labels[names.CLUSTER_NAME_LABEL] == name and labels[names.LATTICE_CLUSTER_LABEL] == name
        assert labels[names.MANAGED_BY] == "lattice"
        assert "ownerReferences" not in o["metadata"]  # Metacontroller sets the owner; CAPI the rest
    # The cell's Secret rights: its namespace, and wherever a credentials copy goes (AWS: CAPA's).
    bindings = {(b["metadata"]["namespace"], b["metadata"]["name"], b["roleRef"]["name"])
                for b in kinds["RoleBinding"]}
    assert bindings == {(f"capi-{name}", "lattice-cell-secrets", "lattice-cell-cluster-secrets"),
                        *((ns, f"lattice-cell-{name}-credentials", "lattice-cell-credentials-copy") for ns in copies)}
    for b in kinds["RoleBinding"]:
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "lattice-system"}
                                 for sa in ("lattice-operator", "lattice-agent")]


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_every_reference_resolves_inside_the_set(example: str) -> None:
    plan = compile_doc(DOCS[example])
    present = {(o["kind"], o["metadata"]["name"]) for o in plan.objects}
    groups = {o["kind"]: o["apiVersion"].split("/")[0] for o in plan.objects}
    refs: list[dict[str, Any]] = []

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, dict):
            if key.endswith("Ref") and "kind" in v and "name" in v and "secret" not in key:
                refs.append(v)
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)

    for o in plan.objects:
        walk(o.get("spec"))
    assert refs
    for ref in refs:
        assert (ref["kind"], ref["name"]) in present, ref
        if "apiGroup" in ref:
            assert ref["apiGroup"] == groups[ref["kind"]]
        if "apiVersion" in ref:
            assert ref["apiVersion"] == API_VERSIONS[ref["kind"]]


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_deterministic(example: str) -> None:
    first = json.dumps(compile_doc(DOCS[example]).objects)
    assert all(json.dumps(compile_doc(DOCS[example]).objects) == first for _ in range(3))


def test_versions() -> None:
    kubeadm = one(compile_doc(DOCS["docker"]), "KubeadmControlPlane")
    assert kubeadm["spec"]["version"] == "v1.32.0"
    rke2 = compile_doc(DOCS["docker-rke2"])
    assert one(rke2, "RKE2ControlPlane")["spec"]["version"] == "v1.32.0+rke2r1"
    assert by_kind(rke2)["MachineDeployment"][0]["spec"]["template"]["spec"]["version"] == "v1.32.0+rke2r1"


def test_cluster_refs_and_network() -> None:
    cluster = one(compile_doc(DOCS["aws"]), "Cluster")
    assert cluster["spec"] == {
        "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}, "services": {"cidrBlocks": ["10.128.0.0/12"]}},
        "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane",
                            "name": "production-control-plane"},
        "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "AWSCluster",
                              "name": "production"},
    }


def test_static_pool_carries_replicas_autoscaled_pool_annotations_only() -> None:
    plan = compile_doc(DOCS["aws"])  # the README: general (10), gpu (replicas 2, min 1, max 8)
    mds = {md["metadata"]["name"]: md for md in by_kind(plan)["MachineDeployment"]}
    general, gpu = mds["production-pool-general"], mds["production-pool-gpu"]
    assert general["spec"]["replicas"] == 10
    assert "annotations" not in general["metadata"]
    assert "replicas" not in gpu["spec"]
    assert gpu["metadata"]["annotations"] == {names.AUTOSCALER_MAX: "8", names.AUTOSCALER_MIN: "1"}
    assert plan.warnings == ["worker pool 'gpu': replicas (2) ignored, the autoscaler manages it within [1, 8]"]


def test_machine_deployment_shape() -> None:
    md = by_kind(compile_doc(DOCS["aws-rke2"]))["MachineDeployment"][0]
    spec = md["spec"]
    selector = {names.CLUSTER_NAME_LABEL: "fips", names.DEPLOYMENT_NAME_LABEL: "fips-pool-batch"}
    assert spec["clusterName"] == "fips" and spec["selector"] == {"matchLabels": selector}
    # node-role.kubernetes.io labels go on the Machine (Cluster API copies them to the Node)
    assert spec["template"]["metadata"]["labels"] == {
        **selector, names.POOL_LABEL: "batch", "node-role.kubernetes.io/batch": ""}
    assert spec["template"]["spec"]["clusterName"] == "fips"


def test_node_labels_and_taints_kubeadm() -> None:
    doc = json.loads(json.dumps(DOCS["aws"]))
    doc["spec"]["nodes"]["workerPools"]["general"].update(
        labels={"tier": "web", "node-role.kubernetes.io/web": ""},
        taints=[{"key": "dedicated", "value": "web", "effect": "NoSchedule"}, {"key": "x", "effect": "NoExecute"}])
    config = next(c for c in by_kind(compile_doc(doc))["KubeadmConfigTemplate"]
                  if c["metadata"]["name"].startswith("production-pool-general-"))
    reg = config["spec"]["template"]["spec"]["joinConfiguration"]["nodeRegistration"]
    assert {"name": "node-labels", "value": "lattice.dev/pool=general,tier=web"} in reg["kubeletExtraArgs"]
    assert reg["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"},
                             {"key": "x", "effect": "NoExecute"}]


def test_node_labels_and_taints_rke2() -> None:
    config = next(c for c in by_kind(compile_doc(DOCS["aws-rke2"]))["RKE2ConfigTemplate"]
                  if c["metadata"]["name"].startswith("fips-pool-batch-"))
    agent = config["spec"]["template"]["spec"]["agentConfig"]
    assert agent["nodeLabels"] == ["lattice.dev/pool=batch", "workload=batch"]
    assert agent["nodeTaints"] == ["workload=batch:NoSchedule"]
    assert agent["kubelet"]["extraArgs"] == ["cloud-provider=external"]


def test_template_names_follow_their_spec() -> None:
    """A changed template is a new object (providers refuse in-place edits); the rest keep names."""
    before = compile_doc(DOCS["aws"])
    doc = json.loads(json.dumps(DOCS["aws"]))
    doc["spec"]["provider"]["config"]["aws"]["workerInstanceType"] = "m5.2xlarge"
    after = compile_doc(doc)
    names_before = {o["kind"]: set() for o in before.objects}
    for o in before.objects:
        names_before[o["kind"]].add(o["metadata"]["name"])
    changed = {(o["kind"], o["metadata"]["name"]) for o in after.objects
               if o["metadata"]["name"] not in names_before[o["kind"]]}
    assert changed == {("AWSMachineTemplate", t["metadata"]["name"]) for t in by_kind(after)["AWSMachineTemplate"]
                       if t["metadata"]["name"].startswith("production-pool-general-")}
    md = next(m for m in by_kind(after)["MachineDeployment"] if m["metadata"]["name"] == "production-pool-general")
    assert md["spec"]["template"]["spec"]["infrastructureRef"]["name"] in {n for _, n in changed}


def test_cloud_provider_labels_reach_the_cluster() -> None:
    from hooks.cluster import ClusterInputs, compile_cluster

    from .support import cluster, providers

    p = providers()["docker"]
    p.spec.labels = {"team": "platform", names.CLUSTER_NAME_LABEL: "spoofed"}
    plan = compile_cluster(ClusterInputs(cluster(DOCS["docker"]), p))
    labels = one(plan, "Cluster")["metadata"]["labels"]
    assert labels["team"] == "platform" and labels[names.CLUSTER_NAME_LABEL] == "dev"


def test_kinds_table_matches_apis_module() -> None:
    table = {k.kind: k.api_version for k in vars(apis).values() if isinstance(k, apis.Kind)}
    for kind, version in API_VERSIONS.items():
        assert table[kind] == version
