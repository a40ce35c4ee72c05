"""Checks that need more than one LatticeCluster field or the CloudProvider: collected, never raised.

``crds.parse`` has already checked each field on its own. Here: names that must fit the Kubernetes
and Cluster API limits once prefixed, the CloudProvider (missing or not Ready is *waiting*, not an
error: it may be created later), combinations a provider or bootstrap cannot do, and node labels the
kubelet would refuse to start with.
"""

from __future__ import annotations

import attrs

from crds import FieldError, Phase, checks
from crds.cluster import WorkerPoolSpec
from hooks.cluster import names
from hooks.cluster.context import Ctx
from hooks.cluster.inputs import ClusterInputs
from hooks.cluster.providers import get

PROVIDER_NAMESPACE = "lattice-system"
# Label domains Cluster API copies from Machines to Nodes (the kubelet may not set them itself).
CAPI_SYNCED_DOMAINS = ("node-role.kubernetes.io", "node-restriction.kubernetes.io", "node.cluster.x-k8s.io")
# kubernetes.io / k8s.io labels the kubelet may set on its own Node (NodeRestriction admission).
KUBELET_ALLOWED = ("kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
                   "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
                   "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                   "topology.kubernetes.io/region", "topology.kubernetes.io/zone")
KUBELET_ALLOWED_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESERVED_LABELS = (names.POOL_LABEL,)


@attrs.frozen
class Verdict:
    errors: list[FieldError]
    waiting: str | None = None  # why nothing can be compiled yet (not the user's mistake)


def _domain(key: str) -> str:
    return key.rpartition("/")[0]


def _is_k8s_domain(domain: str) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))


def capi_synced(key: str) -> bool:
    d = _domain(key)
    return any(d == x or d.endswith("." + x) for x in CAPI_SYNCED_DOMAINS)


def _label_errors(pool_id: str, pool: WorkerPoolSpec) -> list[FieldError]:
    out: list[FieldError] = []
    for key in pool.labels:
        path = f"spec.nodes.workerPools.{pool_id}.labels.{key}"
        d = _domain(key)
        if key in RESERVED_LABELS:
            out.append(FieldError(path, f"reserved: Lattice sets {key}=<pool id> itself"))
        elif capi_synced(key) or not _is_k8s_domain(d) or key in KUBELET_ALLOWED or d in KUBELET_ALLOWED_DOMAINS:
            continue
        else:
            out.append(FieldError(path, "the kubelet may not set labels in the kubernetes.io / k8s.io domains "
                                        "(use node-role.kubernetes.io/<role>, which Cluster API sets, or your own "
                                        "domain)"))
    return out


def check(inputs: ClusterInputs) -> Verdict:
    cluster = inputs.cluster
    name = cluster.name
    errors: list[FieldError] = []
    if checks.dns_label(name) is not None or len(name) > names.NAME_MAX:
        errors.append(FieldError("metadata.name", f"must be a DNS label of at most {names.NAME_MAX} characters "
                                                  f"(it names namespace capi-<name> and <name>-control-plane)"))
    spec = cluster.spec
    if spec.provider.kubernetes.bootstrap.value == "rke2":
        minor = int(spec.provider.kubernetes.version.lstrip("v").split(".")[1])
        if not 10 <= minor <= 99:
            errors.append(FieldError("spec.provider.kubernetes.version", "RKE2 releases exist for 1.10 and later"))
    for pool_id, pool in sorted(spec.nodes.worker_pools.items()):
        md = names.pool(name, pool_id)
        if len(md) > names.LABEL_VALUE_MAX:
            errors.append(FieldError(f"spec.nodes.workerPools.{pool_id}",
                                     f"'{md}' (the MachineDeployment, a label value) is longer than "
                                     f"{names.LABEL_VALUE_MAX} characters: shorten the pool id or the cluster name"))
        errors += _label_errors(pool_id, pool)

    own_ref = spec.provider.credentials_secret_ref
    if own_ref is not None and own_ref.namespace != PROVIDER_NAMESPACE:
        errors.append(FieldError("spec.provider.credentialsSecretRef.namespace",
                                 f"must be {PROVIDER_NAMESPACE}: the cell copies credentials from there only "
                                 f"(got {own_ref.namespace})"))
    provider = inputs.provider
    if provider is None:
        return Verdict(errors, f"CloudProvider '{spec.provider_ref}' not found in {PROVIDER_NAMESPACE}")
    wanted = spec.provider.config.provider_type
    if provider.spec.type.value != wanted:
        have = provider.spec.type.value
        message = f"CloudProvider '{provider.name}' is of type {have}, but spec.provider.config is {wanted}"
        errors.append(FieldError("spec.providerRef", message))
        return Verdict(errors)
    errors += get(wanted).check(Ctx(cluster, provider, inputs.agent, inputs.settings))
    status = provider.status
    if not errors and status is not None and status.phase is Phase.FAILED:
        detail = f": {status.message}" if status.message else ""
        return Verdict(errors, f"CloudProvider '{provider.name}' is not ready{detail}")
    return Verdict(errors)
