"""The cell's cluster provisioning shell (lattice_cell.cluster_provisioning) on the real plane: the
LatticeCluster and CloudProvider hooks run in Metacontroller and publish what they need; the shell,
on kr8s with the Secret-backed token store, supplies it — the CloudProvider's credentials check,
the agent's one-time token Secret (blanked once spent), the AWS credentials copy into CAPA's
namespace, and its removal with the cluster. The shell runs as the cell's ServiceAccount with exactly
the RBAC manifests/ ships (manifests/cell-rbac.yaml, and the RoleBindings the LatticeCluster
controller creates through the real Metacontroller with its shipped identity): it may write Secrets
(and ConfigMaps and Cluster API objects) in capi-<cluster>, Secrets where the cluster's credentials
copy goes, and nowhere else.

Simulated: AWS. No CAPA manager runs, so the AWS objects are only accepted and stored."""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from cluster_plane import ClusterPlane

from hooks.cluster import BootstrapData, bootstrap_secret
from lattice_cell import rbac
from lattice_cell.bootstrap_tokens import SecretTokenStore, consume_for_manifests
from lattice_cell.cluster_provisioning import BootstrapEndpoint, ClusterProvisioning
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_target import resolve

ROOT = Path(__file__).resolve().parents[2]
CA = b"-----BEGIN CERTIFICATE-----\nMIIB-not-a-real-one\n-----END CERTIFICATE-----\n"
ENDPOINT = BootstrapEndpoint(url="https://cell.example.com:8443", ca_pem=CA)
CELL_SA = f"system:serviceaccount:{rbac.NAMESPACE}:{rbac.OPERATOR_SERVICE_ACCOUNT}"


def aws_docs() -> tuple[dict[str, Any], dict[str, Any]]:
    providers = [d for d in yaml.safe_load_all((ROOT / "examples/clusters/cloud-providers.yaml").read_text()) if d]
    provider = next(p for p in providers if p["metadata"]["name"] == "aws-prod")
    cluster = yaml.safe_load((ROOT / "examples/clusters/aws.yaml").read_text())
    cluster["metadata"]["name"] = "awsprod"
    cluster["spec"]["nodes"] = {"controlPlane": 1, "workerPools": {"general": {"replicas": 1}}}
    return provider, cluster


def cell_kubeconfig(plane: ClusterPlane, path: Path) -> Path:
    """A kubeconfig with a token of the cell's ServiceAccount (the plane installed manifests/)."""
    token = plane.cp.kubectl("create", "token", rbac.OPERATOR_SERVICE_ACCOUNT, "-n", rbac.NAMESPACE,
                             "--duration=1h").stdout.strip()
    return plane.cp.write_kubeconfig(path, token=token, user=rbac.OPERATOR_SERVICE_ACCOUNT)


@pytest_asyncio.fixture(loop_scope="session")
async def kube(cluster_plane: ClusterPlane, tmp_path: Path):  # type: ignore[no-untyped-def]
    api = await KubeApi.connect(resolve(str(cell_kubeconfig(cluster_plane, tmp_path / "cell.kubeconfig"))))
    yield api
    await api.aclose()


# Cluster API kinds a pivot writes in capi-<cluster> (a sample of the namespaced move kinds).
MOVED_CAPI_RESOURCES = ("machinedeployments.cluster.x-k8s.io", "clusters.cluster.x-k8s.io",
                        "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io")


def can(plane: ClusterPlane, verb: str, resource: str, namespace: str) -> bool:
    out = plane.cp.kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={CELL_SA}", check=False)
    return out.stdout.strip() == "yes"


def wait_for_rights(plane: ClusterPlane, *namespaces: str) -> None:
    for namespace in namespaces:
        plane.wait(f"the cell may write Secrets in {namespace}",
                   lambda ns=namespace: can(plane, "create", "secrets", ns))


def write_credentials(plane: ClusterPlane, **values: str) -> None:
    plane.cp.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-credentials",
                                                                       "namespace": "lattice-system"},
                    "stringData": values}, server_side=True)


def secret_data(plane: ClusterPlane, namespace: str, name: str) -> dict[str, bytes] | None:
    found = plane.get("secret", name, "-n", namespace)
    return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()} if found else None


@pytest.mark.asyncio(loop_scope="session")
async def test_the_shell_supplies_what_the_hooks_ask_for(cluster_plane: ClusterPlane, kube: KubeApi) -> None:
    plane = cluster_plane
    store = SecretTokenStore(kube)
    shell = ClusterProvisioning(kube, store, lambda: ENDPOINT)
    provider, cluster = aws_docs()
    plane.cp.kubectl("create", "namespace", "capa-system")
    assert not can(plane, "create", "secrets", "capi-awsprod") and not can(plane, "create", "secrets", "capa-system")
    plane.cp.apply([provider, cluster])

    def provider_status() -> dict[str, Any]:
        return dict((plane.get("cloudprovider", "aws-prod", "-n", "lattice-system") or {}).get("status") or {})

    def cluster_status() -> dict[str, Any]:
        return dict((plane.get("latticecluster", "awsprod") or {}).get("status") or {})

    # No cell yet: the CloudProvider waits for the check, the cluster goes ahead (Pending is no veto).
    waiting = plane.wait("CloudProvider waiting for the cell", lambda: provider_status().get("message"))
    assert waiting == "waiting for the cell to check credentials Secret lattice-system/aws-credentials"
    # The credentials Secret is missing: the cell says so, the CloudProvider fails, the cluster waits.
    report = await shell.reconcile_once()
    assert report.providers_observed == ["aws-prod"]
    plane.wait("CloudProvider Failed", lambda: provider_status().get("message") ==
               "credentials Secret lattice-system/aws-credentials not found")
    plane.wait("LatticeCluster waiting for its CloudProvider",
               lambda: cluster_status().get("phase") == "Pending" and "is not ready: credentials Secret" in
               cluster_status().get("message", ""))
    write_credentials(plane, AccessKeyID="AKIDEXAMPLE")
    await shell.reconcile_once()
    plane.wait("CloudProvider names the missing key", lambda: "lacks SecretAccessKey" in
               provider_status().get("message", ""))
    write_credentials(plane, AccessKeyID="AKIDEXAMPLE", SecretAccessKey="wJalrEXAMPLE")
    await shell.reconcile_once()
    plane.wait("CloudProvider Ready", lambda: provider_status().get("phase") == "Ready")

    # The cluster compiles, and its status tells the cell what to supply.
    status = plane.wait("the cluster asks for its token and credentials",
                        lambda: cluster_status().get("bootstrapSecret") and cluster_status())
    assert status["bootstrapSecret"] == "awsprod-lattice-bootstrap"
    # Metacontroller writes the status before the children: the cell's rights come a moment later.
    # Until then a pass skips the cluster, and says why.
    wait_for_rights(plane, "capi-awsprod", "capa-system")
    report = await shell.reconcile_once()
    assert report.tokens_issued == ["awsprod"]
    boot = secret_data(plane, "capi-awsprod", "awsprod-lattice-bootstrap")
    assert boot is not None and boot["url"] == b"https://cell.example.com:8443" and boot["ca.crt"] == CA
    token = boot["token"].decode()
    record = await store.get("awsprod")
    assert record is not None and record.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    # The same shape as the compiler's bootstrap_secret (the Secret the control plane's files read).
    expected = bootstrap_secret("awsprod", BootstrapData(ENDPOINT.url, CA.decode(), token))
    assert {k: base64.b64decode(v) for k, v in expected["data"].items()} == boot
    found = plane.get("secret", "awsprod-lattice-bootstrap", "-n", "capi-awsprod")
    assert found["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == "awsprod"
    assert secret_data(plane, "capa-system", "awsprod-provider-credentials") == {
        "AccessKeyID": b"AKIDEXAMPLE", "SecretAccessKey": b"wJalrEXAMPLE"}
    copy_meta = plane.get("secret", "awsprod-provider-credentials", "-n", "capa-system")["metadata"]
    lc_uid = plane.get("latticecluster", "awsprod")["metadata"]["uid"]
    assert [(o["kind"], o["name"], o["uid"]) for o in copy_meta["ownerReferences"]] == [
        ("LatticeCluster", "awsprod", lc_uid)]  # the garbage collector deletes it with the cluster
    kcp = plane.get("kubeadmcontrolplane", "awsprod-control-plane", "-n", "capi-awsprod")
    files = kcp["spec"]["kubeadmConfigSpec"]["files"]
    assert {f["contentFrom"]["secret"]["name"] for f in files if "contentFrom" in f} == {"awsprod-lattice-bootstrap"}

    # A second pass changes nothing; then the first control-plane node spends the token.
    again = await shell.reconcile_once()
    assert again.tokens_issued == [] and again.secrets_written == []
    await consume_for_manifests(store, "awsprod", f"Bearer {token}")
    report = await shell.reconcile_once()
    assert report.tokens_spent == ["awsprod"]
    boot = secret_data(plane, "capi-awsprod", "awsprod-lattice-bootstrap")
    assert boot is not None and boot["token"] == b"" and boot["url"] == b"https://cell.example.com:8443"

    # Rotated credentials follow; a deleted cluster's copy goes.
    write_credentials(plane, AccessKeyID="AKIDNEW", SecretAccessKey="wJalrNEW")
    await shell.reconcile_once()
    assert (secret_data(plane, "capa-system", "awsprod-provider-credentials") or {}).get("AccessKeyID") == b"AKIDNEW"
    plane.cp.kubectl("delete", "latticecluster", "awsprod", "--wait=false")
    plane.wait("LatticeCluster awsprod gone", lambda: plane.get("latticecluster", "awsprod") is None, timeout=180)
    plane.wait("the copy collected with its cluster",
               lambda: secret_data(plane, "capa-system", "awsprod-provider-credentials") is None)
    plane.wait("the cell's rights in CAPA's namespace gone with the cluster",
               lambda: not can(plane, "create", "secrets", "capa-system"))

    # Token records outlive their clusters: a new cluster named like the deleted one gets a new token,
    # from the same long-running shell, in its next pass.
    _, cluster = aws_docs()
    again = copy.deepcopy(cluster)
    plane.cp.apply(again)
    plane.wait("asks for its token", lambda: ((plane.get("latticecluster", "awsprod") or {}).get("status") or {})
               .get("bootstrapSecret"))
    old = await store.get("awsprod")
    assert old is not None and old.used  # spent by the cluster of the same name above
    wait_for_rights(plane, "capi-awsprod", "capa-system")
    report = await shell.reconcile_once()
    assert report.tokens_issued == ["awsprod"]
    boot = secret_data(plane, "capi-awsprod", "awsprod-lattice-bootstrap")
    assert boot is not None and boot["token"] != b""
    plane.cp.kubectl("delete", "latticecluster", "awsprod", "--wait=false")
    plane.wait("LatticeCluster awsprod gone again", lambda: plane.get("latticecluster", "awsprod") is None, timeout=180)


def test_the_cell_writes_secrets_only_where_a_cluster_grants_it(cluster_plane: ClusterPlane) -> None:
    """The shipped RBAC on the real API server: no Secret, ConfigMap or Cluster API writes outside
    the cell's namespace until a LatticeCluster exists; then in its capi-<cluster> namespace
    (RoleBinding created by the real Metacontroller as its shipped ServiceAccount, which may only
    bind the cell's ClusterRoles). Cluster API objects stay readable everywhere (the pivot lists the
    cluster-scoped move kinds cluster-wide); ConfigMaps do not."""
    plane = cluster_plane
    plane.cp.kubectl("create", "namespace", "elsewhere")
    for verb in ("create", "update", "patch", "delete", "get", "list"):
        for resource in ("secrets", "configmaps"):
            assert not can(plane, verb, resource, "elsewhere"), (verb, resource)
            assert not can(plane, verb, resource, "kube-system"), (verb, resource)
    for verb in ("create", "patch", "delete"):
        for resource in MOVED_CAPI_RESOURCES:
            for ns in ("default", "elsewhere", "capi-granted"):
                assert not can(plane, verb, resource, ns), (verb, resource, ns)
    assert can(plane, "list", "machinedeployments.cluster.x-k8s.io", "elsewhere")  # reads: cluster-wide
    assert can(plane, "create", "secrets", rbac.NAMESPACE) and can(plane, "get", "secrets", rbac.NAMESPACE)
    assert can(plane, "update", "configmaps/lattice-proxy", rbac.NAMESPACE)  # the API proxy's published URL
    assert not can(plane, "update", "configmaps/other", rbac.NAMESPACE)
    assert not can(plane, "create", "secrets", "capi-granted")
    cluster = yaml.safe_load((ROOT / "examples/clusters/docker-in-memory.yaml").read_text())
    cluster["metadata"]["name"] = "granted"
    plane.cp.apply(cluster)
    plane.wait("the cell may write Secrets in capi-granted", lambda: can(plane, "create", "secrets", "capi-granted"))
    for verb in ("get", "list", "create", "update", "patch", "delete"):  # provisioning, and the pivot's move
        for resource in ("secrets", "configmaps", *MOVED_CAPI_RESOURCES):
            assert can(plane, verb, resource, "capi-granted"), (verb, resource)
    binding = plane.get("rolebinding", "lattice-cell-secrets", "-n", "capi-granted")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": rbac.CLUSTER_SECRETS_ROLE}
    for resource in ("secrets", "configmaps", *MOVED_CAPI_RESOURCES):  # still nowhere else
        for ns in ("default", "elsewhere"):
            assert not can(plane, "create", resource, ns), (resource, ns)
            assert not can(plane, "delete", resource, ns), (resource, ns)
    assert not can(plane, "watch", "secrets", "capi-granted")
    plane.cp.kubectl("delete", "latticecluster", "granted", "--wait=false")
    plane.wait("LatticeCluster granted gone", lambda: plane.get("latticecluster", "granted") is None, timeout=180)
    plane.wait("and the cell's rights with it", lambda: not can(plane, "create", "secrets", "capi-granted"))
    assert not can(plane, "create", "configmaps", "capi-granted")
    assert not can(plane, "delete", "machinedeployments.cluster.x-k8s.io", "capi-granted")
