"""Docker: CAPD's ``DevCluster``/``DevMachineTemplate`` with a backend choice.

- ``docker``: nodes are containers on the management host's Docker daemon, behind an HAProxy
  container. Machine templates mount the host's Docker socket so that after the pivot the child's
  own CAPD can keep managing its sibling containers. RKE2 joins through the load balancer on port
  9345 as well, so it gets its own HAProxy template (ConfigMap ``<cluster>-lb-config``) and the
  kind node image named explicitly (CAPD would otherwise derive a tag from ``+rke2r1``).
- ``inMemory``: Cluster API's in-memory backend simulates VMs, nodes, etcd and a partial workload
  API server inside the CAPD manager. It only imitates what kubeadm leaves behind, so it is kubeadm
  only, and nothing in the bootstrap data runs (no agent install).
"""

from __future__ import annotations

from crds import FieldError
from crds.cluster_providers import DockerBackend
from hooks.cluster import apis, names
from hooks.cluster.apis import Obj
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import SecretCopy
from hooks.cluster.nodes import NodeSetup
from hooks.cluster.providers import CONFIG_PATH, Role

DOCKER_SOCKET = "/var/run/docker.sock"
BACKEND_ANNOTATION = "lattice.dev/backend"
KIND_NODE_IMAGE = "kindest/node"
# Startup times of the simulated parts (as in Cluster API's own in-memory examples).
IN_MEMORY_STARTUP = {"vm": "10s", "node": "2s", "apiServer": "2s", "etcd": "2s"}


def _in_memory(ctx: Ctx) -> bool:
    return bool(ctx.config.backend is DockerBackend.IN_MEMORY)


class Docker:
    cluster_kind = apis.DEV_CLUSTER
    template_kind = apis.DEV_MACHINE_TEMPLATE

    def check(self, ctx: Ctx) -> list[FieldError]:
        errors: list[FieldError] = []
        if _in_memory(ctx) and ctx.rke2:
            errors.append(FieldError("spec.provider.kubernetes.bootstrap",
                                     f"rke2 cannot run on {CONFIG_PATH}.docker.backend inMemory: the in-memory backend "
                                     "simulates kubeadm nodes only (use backend docker, or bootstrap kubeadm)"))
        for pool_id, pool in ctx.pools:
            if pool.node_class:
                errors.append(FieldError(f"spec.nodes.workerPools.{pool_id}.nodeClass",
                                         "not supported by provider docker (all nodes are the same containers)"))
        return errors

    def infra_cluster_spec(self, ctx: Ctx) -> Obj:
        if _in_memory(ctx):
            return {"backend": {"inMemory": {}}}
        docker: Obj = {}
        if ctx.rke2:
            docker["loadBalancer"] = {"customHAProxyConfigTemplateRef": {"name": names.lb_config(ctx.name)}}
        return {"backend": {"docker": docker}}

    def infra_cluster_annotations(self, ctx: Ctx) -> dict[str, str]:
        # The in-memory backend (CAPD v1.13.7) writes its listener annotation into the DevCluster's
        # annotations without creating the map: a DevCluster with none makes it panic.
        return {BACKEND_ANNOTATION: "inMemory"} if _in_memory(ctx) else {}

    def template_spec(self, ctx: Ctx, role: Role) -> Obj:
        if _in_memory(ctx):
            sim = {part: {"provisioning": {"startupDuration": d}} for part, d in IN_MEMORY_STARTUP.items()}
            return {"backend": {"inMemory": sim}}
        docker: Obj = {"extraMounts": [{"containerPath": DOCKER_SOCKET, "hostPath": DOCKER_SOCKET}]}
        if ctx.rke2:
            docker["customImage"] = f"{KIND_NODE_IMAGE}:{ctx.semver}"
        return {"backend": {"docker": docker}}

    def node(self, ctx: Ctx, role: Role) -> NodeSetup:
        # Container nodes share the host's disk: the kubelet's disk-pressure eviction would evict
        # everything on a busy workstation.
        setup = NodeSetup(kubelet_args=(("eviction-hard", "nodefs.available<0%,imagefs.available<0%"),))
        if role.control_plane:
            setup += NodeSetup(cert_sans=("localhost", "127.0.0.1"))
        return setup

    def extra_objects(self, ctx: Ctx) -> list[Obj]:
        if _in_memory(ctx) or not ctx.rke2:
            return []
        cm = apis.new_object(apis.CONFIG_MAP, names.lb_config(ctx.name), ctx.namespace, ctx.labels())
        cm["data"] = {"value": RKE2_HAPROXY}
        return [cm]

    def credentials(self, ctx: Ctx) -> list[SecretCopy]:
        return []

    def failure_domain(self, ctx: Ctx, role: Role) -> str | None:
        return None


# CAPD renders this Go template with the control-plane backends (.BackendServers) and ports. Beside
# the API server it forwards the RKE2 supervisor port, where joining nodes register.
_RESOLVE = "resolvers docker resolve-prefer {{ if $.IPv6 -}} ipv6 {{- else -}} ipv4 {{- end }}"


def _backend(name: str, port: str, check: str) -> str:
    server = f"server {{{{ $name }}}} {{{{ JoinHostPort $b.Address {port} }}}} weight {{{{ $b.Weight }}}}"
    return (f"backend {name}\n"
            + ("  option httpchk GET /healthz\n" if "ssl" in check else "")
            + "  {{- range $name, $b := .BackendServers }}\n"
            + f"  {server} {check} {_RESOLVE}\n"
            + "  {{- end }}\n")


def _frontend(name: str, port: str, backend: str) -> str:
    return (f"frontend {name}\n  bind *:{port}\n  {{{{ if .IPv6 -}}}}\n  bind :::{port};\n  {{{{- end }}}}\n"
            f"  default_backend {backend}\n")


RKE2_HAPROXY = "\n".join([
    "global\n  log /dev/log local0\n  log /dev/log local1 notice\n  daemon\n  maxconn 100000\n",
    "resolvers docker\n  nameserver dns 127.0.0.11:53\n",
    "defaults\n  log global\n  mode tcp\n  option dontlognull\n  timeout connect 5s\n  timeout client 50s\n"
    "  timeout server 50s\n  default-server init-addr none\n",
    _frontend("kube-apiserver", "{{ .FrontendControlPlanePort }}", "kube-apiservers"),
    _frontend("rke2-supervisor", "9345", "rke2-supervisors"),
    _backend("kube-apiservers", "$.BackendControlPlanePort", "check check-ssl verify none"),
    _backend("rke2-supervisors", '"9345"', "check"),
])

PROVIDER = Docker()
