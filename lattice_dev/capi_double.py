"""Cluster API's controllers, as a test double: what they create and report for a cluster whose
machines are up. Used by the local cloud (``lattice dev up --clusters``, ``lattice install`` on
this machine) and by the pivot tests and benchmark, where no machine can boot: the real managers
need Docker or a cloud to provision anything, and their in-memory backend's workload API server is
a partial fake that cannot run Lattice (docs/pivot.md).

Given the objects Lattice compiled for a cluster in ``capi-<name>`` (Cluster, infrastructure
cluster, KubeadmControlPlane, templates, MachineDeployments), it adds what the real controllers
add, with the same owner references: the Cluster as (non-controller) owner of the infrastructure
cluster, control plane, MachineDeployments and templates; the cluster's Secrets (``-ca``,
``-etcd``, ``-sa``, ``-proxy``, ``-kubeconfig``) owned by the control plane; per MachineDeployment
a MachineSet; per replica a Machine (owned by the control plane or the MachineSet) with its
KubeadmConfig, infrastructure machine and bootstrap-data Secret; then the statuses the real
controllers write (infrastructure provisioned, control plane initialized, replicas ready).
Idempotent: everything is ensured by name.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from lattice_dev.rest import Obj, Rest

CAPI = "cluster.x-k8s.io/v1beta2"
CLUSTER_NAME = "cluster.x-k8s.io/cluster-name"
CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
SET_LABEL = "cluster.x-k8s.io/set-name"
MIN_SIZE = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
CLUSTER_SECRETS = ("ca", "etcd", "sa", "proxy", "kubeconfig")


def _suffix(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:5]


def _meta(obj: Obj) -> dict[str, Any]:
    meta: dict[str, Any] = obj.setdefault("metadata", {})
    return meta


def owner(obj: Obj, *, controller: bool) -> dict[str, Any]:
    ref: dict[str, Any] = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
                           "uid": obj["metadata"]["uid"]}
    if controller:
        ref.update(controller=True, blockOwnerDeletion=True)
    return ref


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(*types: str) -> list[dict[str, Any]]:
    return [{"type": t, "status": "True", "reason": t, "message": "", "lastTransitionTime": _now()} for t in types]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


class CapiDouble:
    def __init__(self, rest: Rest, namespace: str, cluster: str) -> None:
        self.rest = rest
        self.namespace = namespace
        self.cluster = cluster
        self.created = 0

    def _ensure(self, obj: Obj) -> Obj:
        _meta(obj).setdefault("namespace", self.namespace)
        labels = _meta(obj).setdefault("labels", {})
        labels.setdefault(CLUSTER_NAME, self.cluster)
        self.created += 1
        return self.rest.ensure(obj)

    def _add_owner(self, obj: Obj, ref: dict[str, Any]) -> None:
        refs = list(obj["metadata"].get("ownerReferences") or [])
        if any(r.get("uid") == ref["uid"] for r in refs):
            return
        self.rest.merge_patch(obj["apiVersion"], obj["kind"], self.namespace, obj["metadata"]["name"],
                              {"metadata": {"ownerReferences": [*refs, ref],
                                            "labels": {CLUSTER_NAME: self.cluster}}})

    def _status(self, obj: Obj, status: dict[str, Any]) -> None:
        self.rest.merge_patch(obj["apiVersion"], obj["kind"], self.namespace, obj["metadata"]["name"],
                              {"status": status}, sub="status")

    def _ref(self, ref: dict[str, Any], api_version: str) -> Obj | None:
        return self.rest.get(api_version, str(ref["kind"]), self.namespace, str(ref["name"]))

    def provision(self, endpoint: tuple[str, int] | None = None, ca_pem: bytes = b"", kubeconfig: bytes = b"") -> int:
        """Make the cluster look provisioned; returns how many objects it ensured."""
        cluster = self.rest.get(CAPI, "Cluster", self.namespace, self.cluster)
        if cluster is None:
            raise LookupError(f"no Cluster {self.namespace}/{self.cluster}")
        spec = cluster.get("spec") or {}
        infra_ref, cp_ref = spec.get("infrastructureRef") or {}, spec.get("controlPlaneRef") or {}
        infra = self._ref(infra_ref, f"{infra_ref.get('apiGroup')}/v1beta2")
        kcp = self._ref(cp_ref, f"{cp_ref.get('apiGroup')}/v1beta2")
        if infra is None or kcp is None:
            raise LookupError(f"Cluster {self.cluster} references objects that do not exist yet")
        mds = self.rest.list(CAPI, "MachineDeployment", self.namespace, f"{CLUSTER_NAME}={self.cluster}")
        by_cluster = owner(cluster, controller=False)
        for obj in (infra, kcp, *mds):
            self._add_owner(obj, by_cluster)
        if endpoint is not None:
            patch = {"spec": {"controlPlaneEndpoint": {"host": endpoint[0], "port": endpoint[1]}}}
            for obj in (infra, cluster):
                self.rest.merge_patch(obj["apiVersion"], obj["kind"], self.namespace, obj["metadata"]["name"], patch)

        by_kcp = owner(kcp, controller=True)
        for purpose in CLUSTER_SECRETS:
            data = {"value": kubeconfig} if purpose == "kubeconfig" else {"tls.crt": ca_pem or b"-"}
            self._ensure({"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
                          "metadata": {"name": f"{self.cluster}-{purpose}", "ownerReferences": [by_kcp]},
                          "data": {k: base64.b64encode(v).decode() for k, v in data.items()}})

        kcp_spec = kcp.get("spec") or {}
        version = str(kcp_spec.get("version") or "")
        cp_template = (kcp_spec.get("machineTemplate") or {}).get("spec", {}).get("infrastructureRef") or {}
        cp_replicas = int(kcp_spec.get("replicas") or 1)
        for i in range(cp_replicas):
            self._machine(f"{kcp['metadata']['name']}-{_suffix(kcp['metadata']['uid'], i)}", by_kcp, version,
                          cp_template, kcp_spec.get("kubeadmConfigSpec") or {}, {CONTROL_PLANE_LABEL: ""})
        self._status(kcp, {"initialization": {"controlPlaneInitialized": True}, "replicas": cp_replicas,
                           "readyReplicas": cp_replicas, "availableReplicas": cp_replicas,
                           "upToDateReplicas": cp_replicas, "version": version,
                           "conditions": _conditions("Available", "Initialized")})

        workers = 0
        for md in mds:
            workers += self._deployment(md)
        self._status(infra, {"initialization": {"provisioned": True}, "conditions": _conditions("Ready")})
        counts = {"desiredReplicas": cp_replicas, "replicas": cp_replicas, "readyReplicas": cp_replicas,
                  "availableReplicas": cp_replicas, "upToDateReplicas": cp_replicas}
        worker_counts = {k: workers for k in counts}
        self._status(cluster, {"phase": "Provisioned", "controlPlane": counts, "workers": worker_counts,
                               "initialization": {"infrastructureProvisioned": True, "controlPlaneInitialized": True},
                               "conditions": _conditions("Available", "InfrastructureReady",
                                                         "ControlPlaneInitialized", "ControlPlaneAvailable",
                                                         "WorkersAvailable")})
        return self.created

    def _deployment(self, md: Obj) -> int:
        spec = md.get("spec") or {}
        annotations = md["metadata"].get("annotations") or {}
        replicas = int(spec["replicas"] if spec.get("replicas") is not None else annotations.get(MIN_SIZE) or 0)
        template = (spec.get("template") or {}).get("spec") or {}
        name = md["metadata"]["name"]
        labels = {DEPLOYMENT_LABEL: name}
        ms = self._ensure({
            "apiVersion": CAPI, "kind": "MachineSet",
            "metadata": {"name": f"{name}-{_suffix(md['metadata']['uid'])}", "labels": dict(labels),
                         "ownerReferences": [owner(md, controller=True)]},
            "spec": {"clusterName": self.cluster, "replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": template}},
        })
        config_ref = (template.get("bootstrap") or {}).get("configRef") or {}
        bootstrap_template = self.rest.get(f"{config_ref.get('apiGroup')}/v1beta2", str(config_ref.get("kind")),
                                           self.namespace, str(config_ref.get("name")))
        bootstrap_spec = ((bootstrap_template or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        for i in range(replicas):
            self._machine(f"{ms['metadata']['name']}-{_suffix(ms['metadata']['uid'], i)}", owner(ms, controller=True),
                          str(template.get("version") or ""), template.get("infrastructureRef") or {},
                          bootstrap_spec, {DEPLOYMENT_LABEL: name, SET_LABEL: ms["metadata"]["name"]})
        counts = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                  "upToDateReplicas": replicas}
        self._status(ms, counts)
        self._status(md, {**counts, "phase": "Running", "conditions": _conditions("Available")})
        return replicas

    def _machine(self, name: str, by: dict[str, Any], version: str, infra_template_ref: dict[str, Any],
                 bootstrap_spec: dict[str, Any], labels: dict[str, str]) -> None:
        infra_group = str(infra_template_ref.get("apiGroup") or "infrastructure.cluster.x-k8s.io")
        infra_kind = str(infra_template_ref.get("kind") or "DevMachineTemplate").removesuffix("Template")
        template = self.rest.get(f"{infra_group}/v1beta2", f"{infra_kind}Template", self.namespace,
                                 str(infra_template_ref.get("name")))
        infra_spec = ((template or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        machine = self._ensure({
            "apiVersion": CAPI, "kind": "Machine",
            "metadata": {"name": name, "labels": dict(labels), "ownerReferences": [by]},
            "spec": {"clusterName": self.cluster, "version": version,
                     "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfig",
                                                 "name": name}, "dataSecretName": name},
                     "infrastructureRef": {"apiGroup": infra_group, "kind": infra_kind, "name": name}},
        })
        by_machine = owner(machine, controller=True)
        config = self._ensure({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig",
                               "metadata": {"name": name, "labels": dict(labels), "ownerReferences": [by_machine]},
                               "spec": bootstrap_spec})
        infra = self._ensure({"apiVersion": f"{infra_group}/v1beta2", "kind": infra_kind,
                              "metadata": {"name": name, "labels": dict(labels), "ownerReferences": [by_machine]},
                              "spec": {**infra_spec, "providerID": f"local:///{name}"}})
        self._ensure({"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
                      "metadata": {"name": name, "labels": dict(labels),
                                   "ownerReferences": [owner(config, controller=True)]},
                      "data": {"format": base64.b64encode(b"cloud-config").decode(),
                               "value": base64.b64encode(b"#cloud-config\n").decode()}})
        self._status(config, {"initialization": {"dataSecretCreated": True}, "dataSecretName": name})
        self._status(infra, {"initialization": {"provisioned": True}})
        self._status(machine, {"phase": "Running", "nodeRef": {"name": name},
                               "initialization": {"infrastructureProvisioned": True,
                                                  "bootstrapDataSecretCreated": True}})
