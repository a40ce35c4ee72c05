"""Volume resources: owned claims, shared claims, mounts and co-location of RWO sharers.

- Owned (``params.size``): a PersistentVolumeClaim ``vol-<id>`` (or ``<svc>-<resource>``
  without an id). An owner with an id labels its pods ``lattice.dev/volume-owner-<id>: "true"``.
- Shared (``id``, no size): mounts the owner's claim ``vol-<id>``. When the volume is
  ReadWriteOnce (the owner's mode when the owner is known, else the declared mode, default RWO),
  the pods require affinity to the owner's pods so both land on the node the volume attaches to.
- ``params.claimName``: mounts that existing claim, which the service does not manage.
- None of these (a Score volume without params): an ``emptyDir``, as score-k8s provisions it.

A mount's ``source`` is ``${resources.<name>}`` naming a volume resource, or that resource's plain
name (score-compose accepts it; score-k8s does not).
"""

from __future__ import annotations

import attrs

from crds import FieldError, KubeObject
from crds.service import AccessMode, ResourceSpec
from hooks import names
from hooks.context import ServiceContext
from hooks.labels import new_object
from hooks.service.expansion import workload_containers
from hooks.service.provisioning.native import volume_claim
from hooks.service.templates import single_placeholder


@attrs.frozen
class VolumePlan:
    claims: list[KubeObject]  # PersistentVolumeClaims this service owns
    pod_volumes: list[KubeObject]
    mounts: dict[str, list[KubeObject]]  # container name -> volumeMounts
    pod_labels: dict[str, str]
    affinity: KubeObject | None
    errors: list[FieldError]


def volume_resources(ctx: ServiceContext) -> dict[str, ResourceSpec]:
    res = ctx.service.spec.resources
    return {k: res[k] for k in sorted(res) if res[k].type == "volume"}


def _param(res: ResourceSpec, key: str) -> str | None:
    value = (res.params or {}).get(key)
    return value if isinstance(value, str) else None


def access_mode(res: ResourceSpec) -> str:
    return _param(res, "accessMode") or AccessMode.RWO.value


def owner_access_mode(ctx: ServiceContext, volume_id: str) -> str | None:
    """The access mode declared by the owner of a shared volume, when the owner is known."""
    for (ns, name), svc in sorted(ctx.services.items()):
        if ns != ctx.namespace or name == ctx.name:
            continue
        for res in svc.spec.resources.values():
            if res.type == "volume" and res.id == volume_id and _param(res, "size"):
                return access_mode(res)
    return None


def claim(ctx: ServiceContext, resource: str, res: ResourceSpec) -> KubeObject:
    obj = new_object("v1", "PersistentVolumeClaim", names.pvc_name(ctx.name, resource, res.id), ctx.namespace)
    spec: KubeObject = {"accessModes": [access_mode(res)], "resources": {"requests": {"storage": _param(res, "size")}}}
    storage_class = _param(res, "storageClass")
    if storage_class:
        spec["storageClassName"] = storage_class
    obj["spec"] = spec
    return obj


def plan_volumes(ctx: ServiceContext) -> VolumePlan:
    volumes = volume_resources(ctx)
    mounts, used, errors = _mounts(ctx, volumes)
    claims: list[KubeObject] = []
    pod_volumes: list[KubeObject] = []
    labels: dict[str, str] = {}
    terms: list[KubeObject] = []
    for resource, res in volumes.items():
        owned = _param(res, "size") is not None
        if owned:
            claims.append(claim(ctx, resource, res))
            if res.id:
                labels[names.volume_owner_label(res.id)] = "true"
        if resource not in used:
            continue
        claim_name = volume_claim(ctx, resource, res)
        if claim_name is None:
            pod_volumes.append({"name": names.pod_volume_name(resource), "emptyDir": {}})
            continue
        pod_volumes.append({"name": names.pod_volume_name(resource),
                            "persistentVolumeClaim": {"claimName": claim_name}})
        if res.id and not owned:
            mode = owner_access_mode(ctx, res.id) or access_mode(res)
            if mode == AccessMode.RWO.value:
                terms.append(_owner_affinity(ctx, res.id))
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}} if terms else None
    return VolumePlan(claims, pod_volumes, mounts, labels, affinity, errors)


def _owner_affinity(ctx: ServiceContext, volume_id: str) -> KubeObject:
    return {
        "labelSelector": {"matchLabels": {names.volume_owner_label(volume_id): "true"}},
        "topologyKey": "kubernetes.io/hostname",
        "namespaces": [ctx.namespace],
    }


def _mounts(
    ctx: ServiceContext, volumes: dict[str, ResourceSpec]
) -> tuple[dict[str, list[KubeObject]], set[str], list[FieldError]]:
    mounts: dict[str, list[KubeObject]] = {}
    used: set[str] = set()
    errors: list[FieldError] = []
    for field, name, c in workload_containers(ctx):
        out = mounts.setdefault(name, [])
        for mount_path in sorted(c.volumes):
            v = c.volumes[mount_path]
            resource, error = _source(ctx, v.source, volumes)
            if error:
                errors.append(FieldError(f"{field}.volumes.{mount_path}.source", error))
                continue
            assert resource is not None
            used.add(resource)
            m: KubeObject = {"name": names.pod_volume_name(resource), "mountPath": mount_path}
            if v.path:
                m["subPath"] = v.path
            if v.read_only is not None:
                m["readOnly"] = v.read_only
            out.append(m)
    return mounts, used, errors


def _source(ctx: ServiceContext, source: str, volumes: dict[str, ResourceSpec]) -> tuple[str | None, str]:
    if source in volumes:  # the plain resource name (score-compose's form)
        return source, ""
    p = single_placeholder(source)
    if p is None and names.is_dns_label(source):
        return None, (f"'{source}' is not a declared volume resource: declare spec.resources.{source} (type volume) "
                      f"and write '${{resources.{source}}}'")
    if p is None or p.path[0] != "resources" or len(p.path) != 2:
        return None, f"expected '${{resources.<name>}}' naming a volume resource, got '{source}'"
    name = p.path[1]
    res = ctx.service.spec.resources.get(name)
    if res is None:
        return None, f"unknown reference '{source}': no resource '{name}' is declared in spec.resources"
    if name not in volumes:
        return None, f"'{source}' names resource '{name}' of type '{res.type}', expected type 'volume'"
    return name, ""
