"""kube-vip as a static pod on every control-plane node: the API server's virtual IP on
infrastructure without a load balancer (Proxmox).

kube-vip announces the address by ARP from the elected leader. Two details of its static-pod use:

- kubeadm ≥ 1.29 gives ``admin.conf`` its permissions only after ``kubeadm init`` has finished,
  but the VIP must exist before that; on the node that runs ``kubeadm init`` kube-vip uses
  ``super-admin.conf`` until init is done (the swap is undone after kubeadm).
- the kubelet must not pick the VIP as its node IP, so it is pinned to the interface's own address
  before kubeadm/RKE2 starts.
"""

from __future__ import annotations

import json
from typing import Any

from crds.cluster import Bootstrap
from hooks.cluster.nodes import File, NodeSetup

API_PORT = 6443
_PATHS = {
    Bootstrap.KUBEADM: ("/etc/kubernetes/manifests/kube-vip.yaml", "/etc/kubernetes/admin.conf"),
    Bootstrap.RKE2: ("/var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml", "/etc/rancher/rke2/rke2.yaml"),
}
SUPER_ADMIN = "/etc/kubernetes/super-admin.conf"
KUBEADM_INIT_CONFIG = "/run/kubeadm/kubeadm.yaml"  # present only on the node that runs kubeadm init


def manifest(vip: str, interface: str, image: str, kubeconfig: str) -> str:
    env = {
        "address": vip, "port": str(API_PORT), "vip_interface": interface, "vip_arp": "true",
        "vip_cidr": "32", "cp_enable": "true", "cp_namespace": "kube-system", "vip_leaderelection": "true",
        "svc_enable": "false",
    }
    pod: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "hostNetwork": True,
            # kube-vip reaches the local API server as "kubernetes" in control-plane mode.
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "containers": [{
                "name": "kube-vip", "image": image, "imagePullPolicy": "IfNotPresent", "args": ["manager"],
                "env": [{"name": k, "value": v} for k, v in env.items()],
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                "volumeMounts": [{"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}],
            }],
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig}}],
        },
    }
    # JSON is YAML to the kubelet, renders the same everywhere (the template name hashes it) and
    # costs a fraction of a YAML dump.
    return json.dumps(pod, indent=2) + "\n"


def _node_ip(interface: str) -> str:
    return f"$(ip -4 -o addr show dev {interface} | awk '{{print $4}}' | cut -d/ -f1 | head -n1)"


def node_setup(bootstrap: Bootstrap, vip: str, interface: str, image: str, minor: int) -> NodeSetup:
    path, kubeconfig = _PATHS[bootstrap]
    files = (File(path=path, content=manifest(vip, interface, image, kubeconfig), permissions="0644"),)
    if bootstrap is Bootstrap.RKE2:
        pre = (f'echo "node-ip: {_node_ip(interface)}" >> /etc/rancher/rke2/config.yaml',)
        return NodeSetup(files=files, pre_commands=pre)
    pre_list = [f'echo "KUBELET_EXTRA_ARGS=--node-ip={_node_ip(interface)}" >> /etc/default/kubelet']
    post: tuple[str, ...] = ()
    if minor >= 29:
        swap = f"sed -i 's#path: {{}}#path: {{}}#' {path}"
        pre_list.append(f"if [ -f {KUBEADM_INIT_CONFIG} ]; then {swap.format(kubeconfig, SUPER_ADMIN)}; fi")
        post = (f"if [ -f {KUBEADM_INIT_CONFIG} ]; then {swap.format(SUPER_ADMIN, kubeconfig)}; fi",)
    return NodeSetup(files=files, pre_commands=tuple(pre_list), post_commands=post)
