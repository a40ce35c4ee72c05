"""Properties over generated valid LatticeClusters, for every provider and bootstrap:

- compiling never raises; a valid model gives either objects or field-named errors;
- every object matches its upstream CRD schema (offline: types, enums, patterns, no pruned field);
- no secret value: no Secret objects, no data fields, the agent's files only reference the bootstrap
  Secret, and a token issued alongside never appears in the objects or the status;
- the same input gives byte-identical output, also in another process with another hash seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import crds
from hooks.cluster import BootstrapData, ObservedCapi, PivotProgress, bootstrap_secret, cluster_status
from tests.unit import upstream_crds

from .support import ROOT, compile_doc

ids = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
label_values = st.from_regex(r"([a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?)?", fullmatch=True)
label_keys = st.one_of(ids, st.builds(lambda a, b: f"{a}.example.com/{b}", ids, ids),
                       st.builds(lambda r: f"node-role.kubernetes.io/{r}", ids))

# Kubernetes' own kinds: no CRD schema here, the real apiserver checks them (integration tests).
BUILT_IN = ("v1", "rbac.authorization.k8s.io/v1")


@st.composite
def pools(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pool_id in draw(st.lists(ids, max_size=3, unique=True)):
        pool: dict[str, Any] = {}
        if draw(st.booleans()):
            lo = draw(st.integers(1, 5))
            pool.update(min=lo, max=draw(st.integers(lo, 10)))
            if draw(st.booleans()):
                pool["replicas"] = draw(st.integers(0, 5))
        else:
            pool["replicas"] = draw(st.integers(0, 20))
        if draw(st.booleans()):
            pool["labels"] = draw(st.dictionaries(label_keys, label_values, max_size=3))
        if draw(st.booleans()):
            pool["taints"] = draw(st.lists(st.fixed_dictionaries(
                {"key": ids, "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"])},
                optional={"value": label_values.filter(bool)}), max_size=2))
        out[pool_id] = pool
    return out


def provider_configs(provider: str, draw: st.DrawFn) -> dict[str, Any]:
    maybe = st.booleans()
    if provider == "docker":
        return {"docker": {"backend": "docker"} if draw(maybe) else {}}
    if provider == "aws":
        cfg: dict[str, Any] = {"region": "eu-west-1", "cpInstanceType": "m5.large", "workerInstanceType": "m5.large",
                               "sshKeyName": "k"}
        if draw(maybe):
            cfg.update(vpcId="vpc-1", subnetIds=draw(st.lists(st.sampled_from(["subnet-a", "subnet-b"]), unique=True)))
        if draw(maybe):
            cfg.update(loadBalancerType=draw(st.sampled_from(["nlb", "elb", "alb", "classic"])),
                       internalLoadBalancer=draw(maybe), amiId="ami-123", cpRootVolumeSizeGb=draw(st.integers(8, 500)))
        return {"aws": cfg}
    if provider == "openstack":
        cfg = {"externalNetwork": "public", "cpFlavor": "m1.large", "workerFlavor": "m1.medium",
               "imageName": "img", "sshKeyName": "k"}
        if draw(maybe):
            cfg.update(cpRootVolumeSizeGb=draw(st.integers(1, 200)), cpRootVolumeType="ssd",
                       workerAvailabilityZone="az1", cpAvailabilityZone="az2", managedSecurityGroups=draw(maybe),
                       apiServerLoadBalancerFlavor="small", allowAllInClusterTraffic=draw(maybe))
        return {"openstack": cfg}
    cfg = {"controlPlaneEndpoint": "10.0.0.5", "ipv4Pool": {"range": "10.0.0.10-10.0.0.60/24", "gateway": "10.0.0.1"},
           "cpCores": 2, "cpMemoryMib": 4096, "cpDiskSizeGb": 20, "workerCores": 2, "workerMemoryMib": 4096,
           "workerDiskSizeGb": 20}
    if draw(maybe):
        cfg["templateTags"] = ["t1"]
    elif draw(maybe):
        cfg.update(sourceNode="pve2", templateId=draw(st.integers(100, 99999)))
    if draw(maybe):
        cfg.update(vlan=draw(st.integers(1, 4094)), vmidMin=200, vmidMax=300, tags=["a"], description="d",
                   snapName="s", pool="p", targetNode="pve3", memoryAdjustment=draw(st.integers(0, 200)),
                   skipQemuGuestAgent=draw(maybe), sshAuthorizedKeys=["ssh-ed25519 AAAA k"],
                   ipv6Pool={"range": "2001:db8::10-2001:db8::20/64", "gateway": "2001:db8::1"})
    return {"proxmox": cfg}


REFS = {"docker": "docker", "aws": "aws-prod", "openstack": "openstack-dc1", "proxmox": "proxmox-lab"}


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    provider = draw(st.sampled_from(sorted(REFS)))
    bootstrap = draw(st.sampled_from(["kubeadm", "rke2"]))
    config = provider_configs(provider, draw)
    if provider == "docker" and bootstrap == "kubeadm" and draw(st.booleans()):
        config = {"docker": {"backend": "inMemory"}}
    kubernetes: dict[str, Any] = {"version": f"{draw(st.sampled_from(['', 'v']))}1.{draw(st.integers(28, 35))}."
                                             f"{draw(st.integers(0, 12))}", "bootstrap": bootstrap}
    if draw(st.booleans()):
        kubernetes["certSANs"] = ["api.example.com", "10.1.2.3"]
    return {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster",
        "metadata": {"name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True))},
        "spec": {"providerRef": REFS[provider], "provider": {"kubernetes": kubernetes, "config": config},
                 "nodes": {"controlPlane": draw(st.sampled_from([1, 3, 5])), "workerPools": draw(pools())}},
    }


def _walk(v: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(v, dict):
        return [(path, v)] + [x for k, val in v.items() for x in _walk(val, f"{path}.{k}")]
    if isinstance(v, list):
        return [x for i, val in enumerate(v) for x in _walk(val, f"{path}[{i}]")]
    return []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=clusters(), token=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                                     min_size=43, max_size=43))
def test_valid_models_compile_to_schema_valid_secret_free_objects(doc: dict[str, Any], token: str) -> None:
    parsed = crds.parse(doc)
    assume(parsed.ok)
    plan = compile_doc(doc)
    assert plan.waiting is None
    if plan.errors:  # only combinations the compiler names as unsupported
        assert all(e.path.startswith(("spec.", "metadata.")) for e in plan.errors)
        return
    index = upstream_crds.cluster_api()
    for obj in plan.objects:
        assert obj["kind"] != "Secret"
        if obj["apiVersion"] not in BUILT_IN:  # RoleBindings: checked by the real apiserver (integration)
            index.assert_valid(obj)
        for path, node in _walk(obj):
            assert "data" not in node or obj["kind"] == "ConfigMap", path
            if str(node.get("path", "")).startswith("/etc/lattice/bootstrap/"):
                assert "content" not in node and "contentFrom" in node, path
    name = doc["metadata"]["name"]
    bootstrap_secret(name, BootstrapData(url="https://cell:8443", ca_bundle_pem="PEM", token=token))
    status = cluster_status(parsed.obj, plan, ObservedCapi(), pivot=PivotProgress())  # type: ignore[arg-type]
    assert token not in json.dumps(plan.objects) + json.dumps(crds.dump(status))


_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.unit.cluster.support import compile_doc, example_docs
print(json.dumps({k: compile_doc(v).objects for k, v in sorted(example_docs().items())}, sort_keys=False))
"""


def test_identical_across_processes_and_hash_seeds() -> None:
    outs = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", _CHILD, str(ROOT)], capture_output=True, text=True,
                                env=env, check=True, cwd=ROOT).stdout)
    assert len(outs) == 1
