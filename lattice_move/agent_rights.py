"""What a child's ``lattice-agent`` may do on its own API server (pure): one table that both the
agent's RBAC (``agent_rbac``, bound to ServiceAccount ``lattice-system/lattice-agent`` by the
bootstrap manifests) and the agent's own refusal of what a parent sends (``refusal``) are made from.
A kind outside the table is refused by the agent with a message naming it, before the API server
would refuse it with a 403.

The bootstrap manifests are made per cluster, and a pivot writes only into ``capi-<cluster>`` (the
importer refuses a batch for another namespace, and a Namespace other than the move's own; the
unpivot export reads that namespace only), so the namespaced writes are granted there alone: the
manifests create Namespace ``capi-<cluster>`` (labelled as the cluster compiler labels it; the
pivot's first batch adopts it) and a RoleBinding in it. Nothing outside ``capi-<cluster>`` and
``lattice-system`` holds a Secret or ConfigMap the agent may touch.

Every rule and why (the agent's calls: ``lattice_agent`` and the ``lattice_move`` import/export it
runs):

ClusterRole ``lattice-agent-pivot`` (``PIVOT_ROLE``), bound by RoleBinding ``lattice-agent-pivot`` in
``capi-<cluster>`` only (a RoleBinding grants a ClusterRole's rules in its own namespace):

* The namespaced pivot kinds (``PIVOT_KINDS``: Cluster API core, its ``bootstrap``,
  ``controlplane``, ``infrastructure``, ``addons`` and ``ipam`` groups; every kind named, no ``*``
  for a write): get, list, create, update, patch, delete, and ``<kind>/status``: update. Import
  creates each object (PUT when a batch repeats), writes its status through the subresource,
  merge-patches the owner references that waited for the LatticeCluster and resumes the Cluster
  (``spec.paused``); the unpivot export pauses, lists, marks ``delete-for-move`` (a merge patch) and
  deletes.
* Secrets and ConfigMaps: get, list, create, update, patch, delete — they move with their cluster
  (the same verbs as the pivot kinds).

ClusterRole ``lattice-agent`` (cluster-wide: only what is cluster-scoped, or a read):

* The cluster-scoped pivot kinds (the AWS cluster identities): the same verbs as above — a
  RoleBinding cannot grant a cluster-scoped kind.
* Every resource of the Cluster API groups (``runtime`` included): get, list, and nothing else — the
  unpivot export lists every kind whose CRD is labelled for move (as clusterctl does): the
  namespaced ones in ``capi-<cluster>``, the cluster-scoped ones (ExtensionConfigs, a provider's
  identities, kinds no table can name in advance) cluster-wide; a kind it could not list would fail
  the export. What it then moves, it must also be allowed to write.
* Namespaces: get, create, update, patch — the pivot's first batch creates ``capi-<cluster>`` (409:
  the bootstrap manifests made it, and the batch updates it; update when a batch repeats; patch adds
  its owner reference to the LatticeCluster once that arrives with ``MoveComplete``), the unpivot
  export reads it; ``lattice-system`` is created if missing. Never delete.
* LatticeClusters: get, list, create, patch — the child's own copy arrives with ``MoveComplete``
  (create), then ``lattice.dev/import-complete`` (patch); whether the move is done (get); the
  unpivot waits for child clusters (list).
* CustomResourceDefinitions: list — which kinds the unpivot export moves. The agent applies no CRDs:
  the bootstrap manifests carry them and the installer applies them.

Role ``lattice-agent`` in ``lattice-system``:

* Secrets: get, list, create, update, patch, delete — the agent's identity
  (``lattice-agent-credentials``: get, create, update), its parent config
  (``lattice-parent-config``: get, and a patch that drops the spent bootstrap token) and the Secrets
  the distributable resources reference (server-side apply, listed by label, delete).
* The other distributable resources (``DISTRIBUTABLE_KINDS``: CloudProviders, SecretsProviders,
  CedarPolicies, OIDCProviders): get, list, create, patch, delete — server-side apply of the
  parent's set, deletion of what left it.
* ServiceAccount ``lattice-proxy``: create a token — the last hop's impersonate-only identity.

Discovery and ``/version`` need nothing here: every authenticated identity may read them.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from crds import KubeObject
from lattice_move import names

NAMESPACE = "lattice-system"
SERVICE_ACCOUNT = "lattice-agent"
ROLE = "lattice-agent"
PIVOT_ROLE = "lattice-agent-pivot"  # the namespaced writes, bound in capi-<cluster> only
LATTICE_GROUP = "lattice.dev"
IMPERSONATOR = "lattice-proxy"
WRITE_VERBS = ("get", "list", "create", "update", "patch", "delete")


@attrs.frozen
class Kind:
    group: str
    kind: str
    plural: str
    namespaced: bool = True

    def describe(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _group(suffix: str, *kinds: tuple[str, str] | tuple[str, str, bool]) -> tuple[Kind, ...]:
    group = f"{suffix}.{names.CAPI_GROUP_SUFFIX}" if suffix else names.CAPI_GROUP_SUFFIX
    return tuple(Kind(group, *k) for k in kinds)


def _provider(*prefixes: str) -> list[tuple[str, str]]:
    """An infrastructure provider's cluster, machine and their templates and pools."""
    out = []
    for prefix, lower in ((p, p.lower()) for p in prefixes):
        for kind in ("Cluster", "ClusterTemplate", "Machine", "MachineTemplate", "MachinePool",
                     "MachinePoolTemplate"):
            out.append((prefix + kind, lower + kind.lower() + "s"))
    return out


# What a pivot may import (and an unpivot export): the Cluster API kinds of every provider the
# cluster compiler targets, and those Cluster API's controllers create from them. A kind of these
# groups missing here is refused by name; add it here (tests/unit/move/test_agent_rights.py checks
# that every kind the compiler makes is in).
PIVOT_KINDS: tuple[Kind, ...] = (
    Kind("", "Namespace", "namespaces", namespaced=False),
    Kind("", "Secret", "secrets"),
    Kind("", "ConfigMap", "configmaps"),
    *_group("", ("Cluster", "clusters"), ("ClusterClass", "clusterclasses"), ("Machine", "machines"),
            ("MachineSet", "machinesets"), ("MachineDeployment", "machinedeployments"),
            ("MachinePool", "machinepools"), ("MachineHealthCheck", "machinehealthchecks"),
            ("MachineDrainRule", "machinedrainrules")),
    *_group("bootstrap", ("KubeadmConfig", "kubeadmconfigs"), ("KubeadmConfigTemplate", "kubeadmconfigtemplates"),
            ("RKE2Config", "rke2configs"), ("RKE2ConfigTemplate", "rke2configtemplates")),
    *_group("controlplane", ("KubeadmControlPlane", "kubeadmcontrolplanes"),
            ("KubeadmControlPlaneTemplate", "kubeadmcontrolplanetemplates"),
            ("RKE2ControlPlane", "rke2controlplanes"), ("RKE2ControlPlaneTemplate", "rke2controlplanetemplates")),
    *_group("infrastructure", *_provider("Dev", "Docker", "AWS", "OpenStack", "Proxmox"),
            ("AWSClusterStaticIdentity", "awsclusterstaticidentities", False),
            ("AWSClusterRoleIdentity", "awsclusterroleidentities", False),
            ("AWSClusterControllerIdentity", "awsclustercontrolleridentities", False),
            ("OpenStackServer", "openstackservers"), ("OpenStackFloatingIPPool", "openstackfloatingippools")),
    *_group("addons", ("ClusterResourceSet", "clusterresourcesets"),
            ("ClusterResourceSetBinding", "clusterresourcesetbindings")),
    *_group("ipam", ("IPAddress", "ipaddresses"), ("IPAddressClaim", "ipaddressclaims")),
)
# What ``MoveComplete`` may create besides the batches: the child's own LatticeCluster.
COMPLETE_KINDS: tuple[Kind, ...] = (Kind(LATTICE_GROUP, "LatticeCluster", "latticeclusters", namespaced=False),)
# What the parent's resource sync may apply in lattice-system (lattice_tunnel.distributed.KINDS).
DISTRIBUTABLE_KINDS: tuple[Kind, ...] = (
    Kind("", "Secret", "secrets"),
    Kind(LATTICE_GROUP, "CloudProvider", "cloudproviders"),
    Kind(LATTICE_GROUP, "SecretsProvider", "secretsproviders"),
    Kind(LATTICE_GROUP, "CedarPolicy", "cedarpolicies"),
    Kind(LATTICE_GROUP, "OIDCProvider", "oidcproviders"),
)

_PIVOT = {(k.group, k.kind): k for k in PIVOT_KINDS}
_COMPLETE = {(k.group, k.kind): k for k in COMPLETE_KINDS}
_DISTRIBUTABLE = {(k.group, k.kind): k for k in DISTRIBUTABLE_KINDS}


class Refused(ValueError):
    """An object of a kind the agent may not write; the message names the kind and what may be."""


def _key(obj: Mapping[str, object]) -> tuple[str, str]:
    return (str(obj.get("apiVersion") or "").rpartition("/")[0], str(obj.get("kind") or ""))


def _describe(obj: Mapping[str, object]) -> str:
    meta = obj.get("metadata")
    name = str(meta.get("name") or "") if isinstance(meta, Mapping) else ""
    return f"{obj.get('kind') or '(no kind)'} {name!r} ({obj.get('apiVersion') or 'no apiVersion'})"


def refusal(obj: Mapping[str, object], stage: str = "pivot") -> str | None:
    """Why the agent refuses to write ``obj`` in ``stage`` (``pivot``: a batch; ``complete``: the
    MoveComplete manifests; ``sync``: the distributable resources), or None if it may."""
    table = {"pivot": _PIVOT, "complete": _COMPLETE, "sync": _DISTRIBUTABLE}[stage]
    if _key(obj) in table:
        return None
    what = {"pivot": "a pivot may import", "complete": "a completed pivot may create",
            "sync": "the parent's resource sync may apply"}[stage]
    groups = sorted({k.group or "core" for k in table.values()})
    return (f"{_describe(obj)} is not a kind {what}: this agent writes only the kinds its roles "
            f"{ROLE} and {PIVOT_ROLE} grant (API groups {', '.join(groups)}; see lattice_move.agent_rights)")


def check(obj: Mapping[str, object], stage: str = "pivot") -> None:
    reason = refusal(obj, stage)
    if reason is not None:
        raise Refused(reason)


# ---- the RBAC objects ----
def _rules(kinds: tuple[Kind, ...], verbs: tuple[str, ...], status: bool = False) -> list[KubeObject]:
    by_group: dict[str, list[str]] = {}
    for k in kinds:
        plurals = by_group.setdefault(k.group, [])
        if k.plural not in plurals:
            plurals.append(k.plural)
    rules: list[KubeObject] = []
    for group, plurals in by_group.items():
        rules.append({"apiGroups": [group], "resources": list(plurals), "verbs": list(verbs)})
        if status:
            rules.append({"apiGroups": [group], "resources": [f"{p}/status" for p in plurals], "verbs": ["update"]})
    return rules


# Every group Cluster API's CRDs are in: what the unpivot export reads (``runtime``: ExtensionConfigs
# are listed with the other move kinds, never written by the agent).
CAPI_GROUPS = tuple(sorted({k.group for k in PIVOT_KINDS if k.group} | {f"runtime.{names.CAPI_GROUP_SUFFIX}"}))
# Labels of capi-<cluster> as the cluster compiler makes it (hooks.cluster.names.labels; a test keeps them equal).
LATTICE_CLUSTER_LABEL = "lattice.dev/cluster"
MANAGED_BY = {"app.kubernetes.io/managed-by": "lattice"}

PIVOT_RULES: list[KubeObject] = [
    *_rules(tuple(k for k in PIVOT_KINDS if k.group and k.namespaced), WRITE_VERBS, status=True),
    *_rules(tuple(k for k in PIVOT_KINDS if not k.group and k.namespaced), WRITE_VERBS),
]
CLUSTER_RULES: list[KubeObject] = [
    *_rules(tuple(k for k in PIVOT_KINDS if k.group and not k.namespaced), WRITE_VERBS, status=True),
    {"apiGroups": list(CAPI_GROUPS), "resources": ["*"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "update", "patch"]},
    {"apiGroups": [LATTICE_GROUP], "resources": ["latticeclusters"], "verbs": ["get", "list", "create", "patch"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list"]},
]
NAMESPACED_RULES: list[KubeObject] = [
    *_rules(tuple(k for k in DISTRIBUTABLE_KINDS if not k.group), WRITE_VERBS),
    *_rules(tuple(k for k in DISTRIBUTABLE_KINDS if k.group), ("get", "list", "create", "patch", "delete")),
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": [IMPERSONATOR],
     "verbs": ["create"]},
]


def pivot_namespace(cluster: str) -> str:
    return f"capi-{cluster}"


def namespace_labels(cluster: str) -> dict[str, str]:
    """The labels the cluster compiler gives ``capi-<cluster>`` (what a pivot brings along)."""
    return {names.CLUSTER_NAME_LABEL: cluster, LATTICE_CLUSTER_LABEL: cluster, **MANAGED_BY}


def agent_rbac(labels: Mapping[str, str] | None = None, *, service_account: str = SERVICE_ACCOUNT,
               namespace: str = NAMESPACE, cluster: str | None = None) -> list[KubeObject]:
    """ClusterRole and Role ``lattice-agent`` and their bindings to ``namespace/service_account``,
    ClusterRole ``lattice-agent-pivot`` and, given ``cluster``, Namespace ``capi-<cluster>`` with the
    RoleBinding that grants the pivot's writes there (and nowhere else)."""
    labels = dict(labels or {"app.kubernetes.io/name": SERVICE_ACCOUNT, **MANAGED_BY})
    subjects = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]
    api = "rbac.authorization.k8s.io/v1"

    def meta(ns: str | None = None, name: str = ROLE) -> KubeObject:
        return {"name": name, **({"namespace": ns} if ns else {}), "labels": dict(labels)}

    def ref(kind: str, name: str = ROLE) -> KubeObject:
        return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}

    docs: list[KubeObject] = [
        {"apiVersion": api, "kind": "ClusterRole", "metadata": meta(), "rules": CLUSTER_RULES},
        {"apiVersion": api, "kind": "ClusterRoleBinding", "metadata": meta(), "roleRef": ref("ClusterRole"),
         "subjects": subjects},
        {"apiVersion": api, "kind": "Role", "metadata": meta(namespace), "rules": NAMESPACED_RULES},
        {"apiVersion": api, "kind": "RoleBinding", "metadata": meta(namespace), "roleRef": ref("Role"),
         "subjects": subjects},
        {"apiVersion": api, "kind": "ClusterRole", "metadata": meta(name=PIVOT_ROLE), "rules": PIVOT_RULES},
    ]
    if cluster is not None:
        target = pivot_namespace(cluster)
        docs += [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": target, "labels": namespace_labels(cluster)}},
            {"apiVersion": api, "kind": "RoleBinding", "metadata": meta(target, PIVOT_ROLE),
             "roleRef": ref("ClusterRole", PIVOT_ROLE), "subjects": subjects},
        ]
    return docs
