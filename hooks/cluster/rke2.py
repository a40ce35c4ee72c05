"""RKE2 (CAPRKE2 v1beta1): ``RKE2ControlPlane`` and one ``RKE2ConfigTemplate`` per worker pool.

Differences from kubeadm that matter here: versions are RKE2 releases (``v1.32.0+rke2r1``);
arguments are ``key=value`` strings; nodes join through the control-plane endpoint on the RKE2
supervisor port (9345); the CNI is left out (Lattice installs Cilium with the agent) and so is
RKE2's stub cloud controller, because node provider IDs come from the infrastructure provider (CAPD,
the kubelet flag on Proxmox/OpenStack, the AWS cloud controller) and a provider ID cannot change
once set. The API server keeps anonymous access (health checks of the load balancers) and only
FIPS-approved TLS cipher suites. RKE2 has no ``users``: SSH keys become root's authorized_keys file.
"""

from __future__ import annotations

from crds.cluster import Taint
from hooks.cluster import apis
from hooks.cluster.apis import Obj
from hooks.cluster.nodes import File, NodeSetup, render_file

FIPS_CIPHER_SUITES = ",".join((
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
))
API_SERVER_ARGS = (("anonymous-auth", "true"), ("tls-cipher-suites", FIPS_CIPHER_SUITES))
AUTHORIZED_KEYS = "/root/.ssh/authorized_keys"


def _args(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{k}={v}" for k, v in pairs]


def _taint(t: Taint) -> str:
    return f"{t.key}={t.value or ''}:{t.effect.value}"


def _agent_config(setup: NodeSetup) -> Obj:
    agent: Obj = {}
    if setup.kubelet_args:
        agent["kubelet"] = {"extraArgs": _args(setup.kubelet_args)}
    if setup.node_labels:
        agent["nodeLabels"] = _args(setup.node_labels)
    if setup.taints:
        agent["nodeTaints"] = [_taint(t) for t in setup.taints]
    return agent


def _common(setup: NodeSetup, spec: Obj) -> Obj:
    agent = _agent_config(setup)
    if agent:
        spec["agentConfig"] = agent
    files = list(setup.files)
    if setup.ssh_keys:
        files.append(File(path=AUTHORIZED_KEYS, content="".join(k.strip() + "\n" for k in setup.ssh_keys),
                          permissions="0600"))
    if files:
        spec["files"] = [render_file(f) for f in files]
    if setup.pre_commands:
        spec["preRKE2Commands"] = list(setup.pre_commands)
    if setup.post_commands:
        spec["postRKE2Commands"] = list(setup.post_commands)
    return spec


def control_plane_spec(replicas: int, version: str, infra_template: Obj, setup: NodeSetup) -> Obj:
    server: Obj = {
        "cni": "none",
        "disableComponents": {"kubernetesComponents": ["cloudController"]},
        "kubeAPIServer": {"extraArgs": _args((*API_SERVER_ARGS, *setup.api_server_args))},
    }
    if setup.cert_sans:
        server["tlsSan"] = list(setup.cert_sans)
    spec: Obj = {
        "replicas": replicas,
        "version": version,
        "registrationMethod": "control-plane-endpoint",
        "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "machineTemplate": {"infrastructureRef": infra_template},
        "serverConfig": server,
    }
    return _common(setup, spec)


def config_template_spec(setup: NodeSetup) -> Obj:
    return {"template": {"spec": _common(setup, {})}}


CONTROL_PLANE = apis.RKE2_CONTROL_PLANE
CONFIG_TEMPLATE = apis.RKE2_CONFIG_TEMPLATE
