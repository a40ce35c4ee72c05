"""Provider-specific shapes: what each infrastructure provider and bootstrap puts in its objects."""

from __future__ import annotations

import copy

import yaml

from crds.cloud_provider import AwsAccount, OpenStackAccount
from hooks.cluster import SecretCopy, names
from hooks.cluster.providers.docker import RKE2_HAPROXY

from .support import by_kind, compile_doc, example_docs, one, providers

DOCS = example_docs()


def _template(plan, prefix: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    kind = next(k for k in by_kind(plan) if k.endswith("MachineTemplate"))
    return next(t for t in by_kind(plan)[kind] if t["metadata"]["name"].startswith(prefix))["spec"]["template"]["spec"]


def test_docker_backend() -> None:
    plan = compile_doc(DOCS["docker"])
    assert one(plan, "DevCluster")["spec"] == {"backend": {"docker": {}}}
    mount = {"containerPath": "/var/run/docker.sock", "hostPath": "/var/run/docker.sock"}
    assert _template(plan, "dev-pool-default-") == {"backend": {"docker": {"extraMounts": [mount]}}}
    kcp = one(plan, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"]
    assert kcp["clusterConfiguration"]["apiServer"]["certSANs"] == ["localhost", "127.0.0.1"]
    assert plan.secret_copies == []


def test_in_memory_backend() -> None:
    plan = compile_doc(DOCS["docker-in-memory"])
    dev = one(plan, "DevCluster")
    assert dev["spec"] == {"backend": {"inMemory": {}}}
    # CAPD v1.13.7's in-memory backend panics on a DevCluster without annotations.
    assert dev["metadata"]["annotations"] == {"lattice.dev/backend": "inMemory"}
    assert "annotations" not in one(compile_doc(DOCS["docker"]), "DevCluster")["metadata"]
    sim = _template(plan, "ci-control-plane-")["backend"]["inMemory"]
    assert sim == {"vm": {"provisioning": {"startupDuration": "10s"}},
                   "node": {"provisioning": {"startupDuration": "2s"}},
                   "apiServer": {"provisioning": {"startupDuration": "2s"}},
                   "etcd": {"provisioning": {"startupDuration": "2s"}}}


def test_docker_rke2_load_balancer_and_image() -> None:
    plan = compile_doc(DOCS["docker-rke2"])
    lb = one(plan, "ConfigMap")
    assert lb["metadata"]["name"] == "dev-rke2-lb-config" and lb["data"] == {"value": RKE2_HAPROXY}
    ref = one(plan, "DevCluster")["spec"]["backend"]["docker"]["loadBalancer"]["customHAProxyConfigTemplateRef"]
    assert ref == {"name": "dev-rke2-lb-config"}
    assert _template(plan, "dev-rke2-pool-default-")["backend"]["docker"]["customImage"] == "kindest/node:v1.32.0"
    assert "bind *:9345" in RKE2_HAPROXY and '{{ JoinHostPort $b.Address "9345" }}' in RKE2_HAPROXY


def test_rke2_control_plane() -> None:
    spec = one(compile_doc(DOCS["docker-rke2"]), "RKE2ControlPlane")["spec"]
    assert spec["registrationMethod"] == "control-plane-endpoint"
    assert spec["machineTemplate"]["infrastructureRef"]["apiVersion"] == "infrastructure.cluster.x-k8s.io/v1beta2"
    server = spec["serverConfig"]
    assert server["cni"] == "none" and server["disableComponents"] == {"kubernetesComponents": ["cloudController"]}
    assert server["tlsSan"] == ["localhost", "127.0.0.1"]
    assert "anonymous-auth=true" in server["kubeAPIServer"]["extraArgs"]
    ciphers = next(a for a in server["kubeAPIServer"]["extraArgs"] if a.startswith("tls-cipher-suites="))
    assert "CBC" not in ciphers and "GCM" in ciphers


def test_aws() -> None:
    plan = compile_doc(DOCS["aws"])
    infra = one(plan, "AWSCluster")["spec"]
    assert infra["region"] == "us-west-2" and infra["sshKeyName"] == "lattice-key"
    assert infra["controlPlaneLoadBalancer"] == {"scheme": "internet-facing", "loadBalancerType": "nlb",
                                                 "healthCheckProtocol": "HTTPS"}
    assert {r["fromPort"] for r in infra["network"]["cni"]["cniIngressRules"]} == {8472, 4240, -1}
    assert infra["identityRef"] == {"kind": "AWSClusterStaticIdentity", "name": "lattice-production"}
    identity = one(plan, "AWSClusterStaticIdentity")
    assert identity["spec"] == {"secretRef": "production-provider-credentials",
                                "allowedNamespaces": {"list": ["capi-production"]}}
    assert _template(plan, "production-pool-gpu-")["instanceType"] == "p3.2xlarge"  # nodeClass
    assert _template(plan, "production-pool-general-")["instanceType"] == "m5.large"
    cp = _template(plan, "production-control-plane-")
    assert cp == {"instanceType": "m5.xlarge",
                  "iamInstanceProfile": "control-plane.cluster-api-provider-aws.sigs.k8s.io",
                  "sshKeyName": "lattice-key", "rootVolume": {"size": 80, "type": "gp3"}}
    reg = one(plan, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"]["initConfiguration"]["nodeRegistration"]
    assert reg == {"name": "{{ ds.meta_data.local_hostname }}",
                   "kubeletExtraArgs": [{"name": "cloud-provider", "value": "external"}]}
    assert plan.secret_copies == [SecretCopy(
        source=providers()["aws-prod"].spec.credentials_secret_ref,  # type: ignore[arg-type]
        target=type(plan.secret_copies[0].target)(name="production-provider-credentials", namespace="capa-system"),
        purpose=plan.secret_copies[0].purpose)]


def test_aws_existing_vpc_and_role() -> None:
    plan = compile_doc(DOCS["aws-rke2"])
    infra = one(plan, "AWSCluster")["spec"]
    assert infra["network"]["vpc"] == {"id": "vpc-0a1b2c3d4e5f60789"}
    assert infra["network"]["subnets"] == [{"id": "subnet-0123456789abcdef0"}, {"id": "subnet-0fedcba9876543210"}]
    assert infra["controlPlaneLoadBalancer"]["scheme"] == "internal"
    p = providers()["aws-prod"]
    p.spec.aws = AwsAccount(role_arn="arn:aws:iam::1:role/x", vpc_id="vpc-from-account")
    doc = copy.deepcopy(DOCS["aws"])
    plan = compile_doc(doc, provider=p)
    infra = one(plan, "AWSCluster")["spec"]
    assert infra["network"]["vpc"] == {"id": "vpc-from-account"}
    assert infra["identityRef"] == {"kind": "AWSClusterRoleIdentity", "name": "lattice-production-role"}
    role = one(plan, "AWSClusterRoleIdentity")["spec"]
    assert role["sourceIdentityRef"] == {"kind": "AWSClusterStaticIdentity", "name": "lattice-production"}


def test_openstack() -> None:
    plan = compile_doc(DOCS["openstack-rke2"])
    infra = one(plan, "OpenStackCluster")["spec"]
    assert infra["identityRef"] == {"cloudName": "openstack", "name": "edge-fips-provider-credentials"}
    assert infra["managedSubnets"] == [{"cidr": "10.6.0.0/24", "dnsNameservers": ["8.8.8.8", "8.8.4.4"]}]
    assert infra["controlPlaneAvailabilityZones"] == ["az1"]
    assert infra["managedSecurityGroups"] == {"allowAllInClusterTraffic": False}
    assert _template(plan, "edge-fips-control-plane-")["rootVolume"] == {"sizeGiB": 50, "type": "ssd"}
    assert _template(plan, "edge-fips-pool-large-")["flavor"] == "m1.xlarge"
    mds = {m["metadata"]["name"]: m for m in by_kind(plan)["MachineDeployment"]}
    assert mds["edge-fips-pool-general"]["spec"]["template"]["spec"]["failureDomain"] == "az2"
    assert [c.target.namespace for c in plan.secret_copies] == ["capi-edge-fips"]
    p = providers()["openstack-dc1"]
    p.spec.openstack = OpenStackAccount(auth_url="https://keystone.example.com", network_id="net-1")
    infra = one(compile_doc(DOCS["openstack"], provider=p), "OpenStackCluster")["spec"]
    assert infra["network"] == {"id": "net-1"} and "managedSubnets" not in infra


def test_proxmox_rke2() -> None:
    plan = compile_doc(DOCS["proxmox"])
    infra = one(plan, "ProxmoxCluster")["spec"]
    assert infra["controlPlaneEndpoint"] == {"host": "10.0.0.100", "port": 6443}
    assert infra["ipv4Config"] == {"addresses": ["10.0.0.101-10.0.0.120"], "prefix": 24, "gateway": "10.0.0.1",
                                   "metric": 100}
    assert infra["credentialsRef"] == {"name": "staging-provider-credentials", "namespace": "capi-staging"}
    cp = _template(plan, "staging-control-plane-")
    assert (cp["sourceNode"], cp["templateID"]) == ("pve1", 9000)
    assert cp["disks"] == {"bootVolume": {"disk": "scsi0", "sizeGb": 50}}
    assert plan.secret_copies[0].literals == (("url", "https://pve.lab.example.com:8006"),)
    spec = one(plan, "RKE2ControlPlane")["spec"]
    vip = next(f for f in spec["files"] if f["path"].endswith("kube-vip.yaml"))
    pod = yaml.safe_load(vip["content"])
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["address"] == "10.0.0.100" and env["vip_interface"] == "ens18"
    assert pod["spec"]["volumes"][0]["hostPath"]["path"] == "/etc/rancher/rke2/rke2.yaml"
    assert vip["path"] == "/var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml"
    assert spec["preRKE2Commands"][0].startswith('echo "node-ip: $(ip -4 -o addr show dev ens18')


def test_proxmox_kubeadm_template_tags_and_super_admin_swap() -> None:
    plan = compile_doc(DOCS["proxmox-kubeadm"])
    cp = _template(plan, "lab-control-plane-")
    assert cp["templateSelector"] == {"matchTags": ["ubuntu-2404", "k8s-1.32"]} and "sourceNode" not in cp
    assert cp["vmIDRange"] == {"start": 1000, "end": 1999} and cp["network"]["default"]["vlan"] == 20
    config = one(plan, "KubeadmControlPlane")["spec"]["kubeadmConfigSpec"]
    assert config["users"] == [{"name": "root", "sshAuthorizedKeys": [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTheLabOnly ops@example.com"]}]
    pre, post = config["preKubeadmCommands"], config["postKubeadmCommands"]
    assert "super-admin.conf" in pre[1] and "/run/kubeadm/kubeadm.yaml" in pre[1]
    assert "super-admin.conf" in post[0] and post[-1].endswith("install-agent.sh --detach")
    assert {"name": "provider-id", "value": "proxmox://'{{ ds.meta_data.instance_id }}'"} in (
        config["joinConfiguration"]["nodeRegistration"]["kubeletExtraArgs"])


def test_credentials_secret_names_are_moved_with_the_cluster() -> None:
    """A move treats Secrets named <cluster>-* as the Cluster's; the shell's copies must be."""
    for example, doc in DOCS.items():
        plan = compile_doc(doc)
        name = doc["metadata"]["name"]
        for copy_ in plan.secret_copies:
            assert copy_.target.name.startswith(f"{name}-"), example
        assert plan.bootstrap_secret == names.bootstrap_secret(name)
