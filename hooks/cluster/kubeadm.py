"""kubeadm: ``KubeadmControlPlane`` and one ``KubeadmConfigTemplate`` per worker pool (v1beta2).

Kubelet flags are ``{name, value}`` lists (unique names, a CEL rule of the CRD); pool labels go to
``node-labels`` and taints to ``nodeRegistration.taints``, both applied when the kubelet registers.
"""

from __future__ import annotations

from crds.cluster import Taint
from hooks.cluster import apis
from hooks.cluster.apis import Obj
from hooks.cluster.nodes import NodeSetup, render_file

ROOT_USER = "root"


def _args(pairs: tuple[tuple[str, str], ...]) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in pairs]


def _taint(t: Taint) -> Obj:
    out: Obj = {"key": t.key, "effect": t.effect.value}
    if t.value is not None:
        out["value"] = t.value
    return out


def _node_registration(setup: NodeSetup) -> Obj:
    reg: Obj = {}
    if setup.node_name:
        reg["name"] = setup.node_name
    args = setup.kubelet_args
    if setup.node_labels:
        args = (*args, ("node-labels", ",".join(f"{k}={v}" for k, v in setup.node_labels)))
    if args:
        reg["kubeletExtraArgs"] = _args(args)
    if setup.taints:
        reg["taints"] = [_taint(t) for t in setup.taints]
    return reg


def _common(setup: NodeSetup, spec: Obj) -> Obj:
    """Files, commands and users (lists the CRD wants non-empty when present)."""
    if setup.files:
        spec["files"] = [render_file(f) for f in setup.files]
    if setup.pre_commands:
        spec["preKubeadmCommands"] = list(setup.pre_commands)
    if setup.post_commands:
        spec["postKubeadmCommands"] = list(setup.post_commands)
    if setup.ssh_keys:
        spec["users"] = [{"name": ROOT_USER, "sshAuthorizedKeys": list(setup.ssh_keys)}]
    return spec


def control_plane_spec(replicas: int, version: str, infra_template: Obj, setup: NodeSetup) -> Obj:
    config: Obj = {}
    api_server: Obj = {}
    if setup.cert_sans:
        api_server["certSANs"] = list(setup.cert_sans)
    if setup.api_server_args:
        api_server["extraArgs"] = _args(setup.api_server_args)
    if api_server:
        config["clusterConfiguration"] = {"apiServer": api_server}
    reg = _node_registration(setup)
    if reg:
        config["initConfiguration"] = {"nodeRegistration": reg}
        config["joinConfiguration"] = {"nodeRegistration": _node_registration(setup)}  # no shared lists
    _common(setup, config)
    spec: Obj = {
        "replicas": replicas,
        "version": version,
        "machineTemplate": {"spec": {"infrastructureRef": infra_template}},
    }
    if config:
        spec["kubeadmConfigSpec"] = config
    return spec


def config_template_spec(setup: NodeSetup) -> Obj:
    inner: Obj = {}
    reg = _node_registration(setup)
    if reg:
        inner["joinConfiguration"] = {"nodeRegistration": reg}
    _common(setup, inner)
    return {"template": {"spec": inner}}


CONTROL_PLANE = apis.KUBEADM_CONTROL_PLANE
CONFIG_TEMPLATE = apis.KUBEADM_CONFIG_TEMPLATE
