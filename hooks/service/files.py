"""Container files: a ConfigMap for plain files, an ESO-templated Secret for files with secrets.

The hook never sees secret values, so a file whose content references secret keys is rendered
by External Secrets itself: an ExternalSecret ``<svc>-files`` reads each referenced key from the
store (one ``data`` entry per key, with the store of its secret resource) and its
``target.template`` assembles the file text, with every literal part escaped for Go templates.
It only reads secret resources the Cedar check allowed; if any of them is denied it is left out.

A file whose whole content is one key of a Secret a provisioner made (``${resources.db.password}``)
is mounted from that Secret (volume ``secret-<name>``); one that mixes text with such a key cannot
be rendered without seeing the value and is an error (score-k8s's rule).

Each file is mounted at its path with ``subPath`` (one key per file, derived from the container
and the path). ``config_hash`` changes whenever any file's content or template changes, and is
put on the pod template so a change rolls the pods.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection

import attrs

from crds import FieldError, KubeObject
from crds.service import ResourceSpec
from hooks import durations, names
from hooks.context import ServiceContext
from hooks.labels import new_object
from hooks.secrets import eso
from hooks.service.expansion import ExpandedFile, WorkloadExpansion
from hooks.service.templates import SecretKeyRef

_KEY_CHARS = re.compile(r"[^-._a-zA-Z0-9]")
_BRACES = re.compile(r"\{\{+")


@attrs.frozen
class FilesPlan:
    objects: list[KubeObject]  # ConfigMap and/or ExternalSecret
    pod_volumes: list[KubeObject]
    mounts: dict[str, list[KubeObject]]  # container name -> volumeMounts
    config_hash: str | None
    secret_resources: tuple[str, ...] = ()  # secret resources the ExternalSecret reads


def file_keys(entries: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A ConfigMap/Secret key per (container, path): readable, unique and deterministic."""
    readable = {e: _KEY_CHARS.sub("-", f"{e[0]}.{e[1].strip('/').replace('/', '.')}")[:200] for e in entries}
    counts: dict[str, int] = {}
    for key in readable.values():
        counts[key] = counts.get(key, 0) + 1
    out = {}
    for e, key in readable.items():
        if counts[key] > 1:
            key = f"{key}-{hashlib.sha256(f'{e[0]}:{e[1]}'.encode()).hexdigest()[:8]}"
        out[e] = key
    return out


def go_template_text(text: str, before_action: bool = False) -> str:
    """Literal text for an ESO (Go) template: runs of ``{{`` and a ``{`` just before an action."""
    out = _BRACES.sub(lambda m: '{{"' + m.group() + '"}}', text)
    if before_action and out.endswith("{"):
        out = out[:-1] + '{{"{"}}'
    return out


def secret_template(parts: tuple[str | SecretKeyRef, ...], alias: dict[SecretKeyRef, str]) -> str:
    out: list[str] = []
    for i, p in enumerate(parts):
        if isinstance(p, SecretKeyRef):
            out.append(f"{{{{ .{alias[p]} }}}}")
        else:
            out.append(go_template_text(p, before_action=i + 1 < len(parts)))
    return "".join(out)


def check_files(expansion: WorkloadExpansion) -> list[FieldError]:
    """Files that mix text with keys of provisioned Secrets (those Secrets are read by no store)."""
    errors = []
    for rc in expansion.containers:
        for path, rf in sorted(rc.files.items()):
            refs = rf.text.secret_refs if rf.text is not None else ()
            if any(r.provisioned for r in refs) and _provisioned_ref(rf) is None:
                errors.append(FieldError(f"{rc.field}.files.{path}.content",
                                         "mixes text with a secret a provisioner made: such a file can only be "
                                         "exactly one secret placeholder (or put the value in an environment "
                                         "variable, where mixing works)"))
    return errors


def _provisioned_ref(rf: ExpandedFile) -> SecretKeyRef | None:
    parts = rf.text.parts if rf.text is not None else ()
    if len(parts) == 1 and isinstance(parts[0], SecretKeyRef) and parts[0].provisioned:
        return parts[0]
    return None


def provisioned_volume_name(secret: str) -> str:
    return f"secret-{secret}"


def plan_files(ctx: ServiceContext, expansion: WorkloadExpansion, denied: Collection[str] = ()) -> FilesPlan:
    entries = [(rc.name, path, rf) for rc in expansion.containers for path, rf in rc.files.items()]
    provisioned = {(c, p): ref for c, p, rf in entries if (ref := _provisioned_ref(rf)) is not None}
    entries = [e for e in entries if (e[0], e[1]) not in provisioned]
    keys = file_keys([(c, p) for c, p, _ in entries])
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    secret: dict[str, tuple[str | SecretKeyRef, ...]] = {}
    mounts: dict[str, list[KubeObject]] = {}
    items: dict[str, list[KubeObject]] = {names.FILES_VOLUME: [], names.SECRET_FILES_VOLUME: []}
    for container, path, rf in entries:
        key = keys[(container, path)]
        volume = names.FILES_VOLUME
        if rf.text is None:
            binary[key] = rf.binary or ""
        elif rf.text.has_secrets:
            secret[key] = rf.text.parts
            volume = names.SECRET_FILES_VOLUME
        else:
            data[key] = rf.text.text
        items[volume].append(_item(key, rf))
        mounts.setdefault(container, []).append(
            {"name": volume, "mountPath": path, "subPath": key, "readOnly": True})
    objects: list[KubeObject] = []
    volumes: list[KubeObject] = []
    if data or binary:
        objects.append(_configmap(ctx, data, binary))
        volumes.append({"name": names.FILES_VOLUME, "configMap": {
            "name": names.files_configmap_name(ctx.name), "items": sorted(items[names.FILES_VOLUME], key=_by_key)}})
    refs = sorted({r for parts in secret.values() for r in parts if isinstance(r, SecretKeyRef)},
                  key=lambda r: (r.resource, r.key))
    alias = {r: f"ref{i}" for i, r in enumerate(refs)}
    templates = {k: secret_template(parts, alias) for k, parts in sorted(secret.items())}
    resources = tuple(sorted({r.resource for r in refs}))
    if secret:
        if not set(resources) & set(denied):
            objects.append(_external_secret(ctx, templates, alias))
        volumes.append({"name": names.SECRET_FILES_VOLUME, "secret": {
            "secretName": names.files_secret_name(ctx.name),
            "items": sorted(items[names.SECRET_FILES_VOLUME], key=_by_key)}})
    by_secret: dict[str, list[KubeObject]] = {}
    for (container, path), ref in sorted(provisioned.items()):
        key = ref.key
        by_secret.setdefault(ref.secret, []).append(_item(key, _file(expansion, container, path)))
        mounts.setdefault(container, []).append({"name": provisioned_volume_name(ref.secret), "mountPath": path,
                                                 "subPath": key, "readOnly": True})
    for secret_name, secret_items in sorted(by_secret.items()):
        unique = {str(i["key"]): i for i in secret_items}
        volumes.append({"name": provisioned_volume_name(secret_name),
                        "secret": {"secretName": secret_name, "items": [unique[k] for k in sorted(unique)]}})
    digest = None
    if entries or provisioned:
        refs_text = sorted(f"{c}:{p}:{r.secret}/{r.key}" for (c, p), r in provisioned.items())
        canonical = json.dumps({"data": data, "binaryData": binary, "templates": templates, "secretFiles": refs_text},
                               sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return FilesPlan(objects, volumes, mounts, digest, resources)


def _file(expansion: WorkloadExpansion, container: str, path: str) -> ExpandedFile:
    return next(rc.files[path] for rc in expansion.containers if rc.name == container)


def _item(key: str, rf: ExpandedFile) -> KubeObject:
    item: KubeObject = {"key": key, "path": key}
    if rf.mode is not None:
        item["mode"] = rf.mode
    return item


def _by_key(item: KubeObject) -> str:
    return str(item["key"])


def _configmap(ctx: ServiceContext, data: dict[str, str], binary: dict[str, str]) -> KubeObject:
    obj = new_object("v1", "ConfigMap", names.files_configmap_name(ctx.name), ctx.namespace)
    if data:
        obj["data"] = dict(sorted(data.items()))
    if binary:
        obj["binaryData"] = dict(sorted(binary.items()))
    return obj


def _external_secret(ctx: ServiceContext, templates: dict[str, str], alias: dict[SecretKeyRef, str]) -> KubeObject:
    resources = ctx.service.spec.resources
    store = _provider(resources[next(iter(alias)).resource])
    data: list[KubeObject] = []
    for ref, name in alias.items():
        res = resources[ref.resource]
        entry: KubeObject = {"secretKey": name, "remoteRef": {"key": res.id, "property": ref.key}}
        if _provider(res) != store:
            entry["sourceRef"] = {"storeRef": _store_ref(_provider(res))}
        data.append(entry)
    spec: KubeObject = {
        "secretStoreRef": _store_ref(store),
        "target": {
            "name": names.files_secret_name(ctx.name),
            "creationPolicy": "Owner",
            "template": {"engineVersion": "v2", "mergePolicy": "Replace", "data": templates},
        },
        "data": data,
    }
    intervals = sorted({i for r in alias if (i := _interval(resources[r.resource]))})
    if intervals:
        spec["refreshInterval"] = min(intervals, key=durations.seconds)
    obj = new_object(eso.API_VERSION, eso.EXTERNAL_SECRET, names.files_secret_name(ctx.name), ctx.namespace,
                     labels={eso.SERVICE_LABEL: ctx.name})
    obj["spec"] = spec
    return obj


def _provider(res: ResourceSpec) -> str:
    return str((res.params or {}).get("provider", ""))


def _interval(res: ResourceSpec) -> str | None:
    value = (res.params or {}).get("refreshInterval")
    return value if isinstance(value, str) else None


def _store_ref(provider: str) -> KubeObject:
    return {"name": provider, "kind": eso.CLUSTER_SECRET_STORE}
