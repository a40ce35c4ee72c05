"""Evaluate one template provisioner (a ``crds.provisioner.ProvisionerSpec``) for one instance.

Every string of ``outputs`` and ``manifests`` goes through the Score substitution
(``hooks.service.templates``) with these roots: ``name`` (the instance's object name),
``namespace``, ``workload`` (the LatticeService), ``guid`` (a stable hash of the instance),
``resource.<name|type|class|id|uid>``, ``params.<key>...`` (defaults applied) and, in outputs only,
``secret.<key>`` (a key of the generated Secret ``${name}``: it stays a secret reference). A
string that is exactly one placeholder keeps the value's JSON type (``replicas: "${params.n}"``).
An output leaf ``{secretKeyRef: {name, key}}`` is a key of a Secret the manifests make.

The generated Secret becomes two objects, so that no value ever passes through Lattice: an ESO
``Password`` generator and an ``ExternalSecret`` (``refreshPolicy: CreatedOnce``, so it is
generated once and never rotated under a running database) whose target is the Secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crds import FieldError, KubeObject
from crds.provisioner import GeneratedSecret, ProvisionerSpec
from hooks.secrets import eso
from hooks.service.provisioning.outputs import Outputs, to_json
from hooks.service.templates import Parts, Path, Resolved, SecretKeyRef, Unresolved, expand, single_placeholder

GENERATORS_API = "generators.external-secrets.io/v1alpha1"
PASSWORD = "Password"


@attrs.frozen
class Instance:
    """What a provisioner is told about the instance it provisions."""

    name: str
    namespace: str
    workload: str
    guid: str
    resource: str
    type: str
    class_: str
    id: str
    uid: str
    params: Mapping[str, Any]


@attrs.frozen
class Evaluated:
    outputs: Outputs
    manifests: list[KubeObject]
    errors: list[FieldError]


def evaluate(spec: ProvisionerSpec, inst: Instance, where: str) -> Evaluated:
    """Outputs and manifests of ``spec`` for ``inst``; errors are located under ``where``."""
    errors: list[FieldError] = []
    raw = _roots(inst)
    secret_keys = _secret_keys(spec.secret)

    def value_at(path: Path, in_outputs: bool) -> Any:
        root, rest = path[0], path[1:]
        if root == "secret":
            if not in_outputs:
                raise Unresolved("a manifest may not hold secret values: refer to the Secret by its name '${name}'")
            if spec.secret is None:
                raise Unresolved("this provisioner declares no generated secret")
            if len(rest) != 1 or rest[0] not in secret_keys:
                raise Unresolved(f"expected 'secret.<key>' with a key of the generated secret "
                                 f"({', '.join(sorted(secret_keys))})")
            return SecretKeyRef(inst.resource, inst.name, rest[0], provisioned=True)
        if root not in raw:
            raise Unresolved(f"unknown root '{root}' (expected one of: {', '.join(sorted([*raw, 'secret']))})")
        value: Any = raw[root]
        if isinstance(value, str):
            if rest:
                raise Unresolved(f"'{root}' has no keys")
            return value
        for i, key in enumerate(rest):
            if not isinstance(value, Mapping) or key not in value:
                at = ".".join(path[: i + 1])
                raise Unresolved(f"'{at}' is not set")
            value = value[key]
        if not rest:
            raise Unresolved(f"'{root}' needs a key")
        return value

    def render(value: Any, path: str, in_outputs: bool) -> Any:
        if isinstance(value, str):
            return _render_text(value, path, in_outputs)
        if isinstance(value, list):
            return [render(v, f"{path}[{i}]", in_outputs) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if in_outputs and set(value) == {"secretKeyRef"}:
                return _secret_ref(value["secretKeyRef"], path)
            return {k: render(v, f"{path}.{k}", in_outputs) for k, v in value.items()}
        return value

    def _render_text(text: str, path: str, in_outputs: bool) -> Any:
        single = single_placeholder(text)
        if single is not None:
            try:
                v = value_at(single.path, in_outputs)
            except Unresolved as e:
                errors.append(FieldError(path, f"unknown reference '{single.raw}': {e.message}"))
                return text
            return v
        expanded = expand(text, lambda p: _as_text(value_at(p, in_outputs)))
        errors.extend(FieldError(path, e.message) for e in expanded.errors)
        if expanded.has_secrets:
            return Parts(expanded.parts)
        return expanded.text

    def _secret_ref(ref: Any, path: str) -> Any:
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not isinstance(ref.get("key"), str):
            errors.append(FieldError(f"{path}.secretKeyRef", "expected {name: <Secret name>, key: <key>}"))
            return None
        name = render(ref["name"], f"{path}.secretKeyRef.name", False)
        key = render(ref["key"], f"{path}.secretKeyRef.key", False)
        return SecretKeyRef(inst.resource, str(name), str(key), provisioned=True)

    outputs = render(dict(spec.outputs), f"{where}.outputs", True)
    manifests = [render(m, f"{where}.manifests[{i}]", False) for i, m in enumerate(spec.manifests)]
    if spec.secret is not None:
        manifests += generated_secret(inst, spec.secret)
    return Evaluated(Outputs(inst.type, outputs), manifests, errors)


def _as_text(value: Any) -> Resolved:
    if isinstance(value, str | SecretKeyRef | Parts):
        return value
    return to_json(value)


def _roots(inst: Instance) -> dict[str, Any]:
    return {
        "name": inst.name, "namespace": inst.namespace, "workload": inst.workload, "guid": inst.guid,
        "resource": {"name": inst.resource, "type": inst.type, "class": inst.class_, "id": inst.id, "uid": inst.uid,
                     "identifier": inst.resource.replace("-", "_")},
        "params": dict(inst.params),
    }


def _secret_keys(secret: GeneratedSecret | None) -> list[str]:
    if secret is None:
        return []
    return [*secret.keys, *secret.template]


def generated_secret(inst: Instance, secret: GeneratedSecret) -> list[KubeObject]:
    """An ESO Password generator and an ExternalSecret creating Secret ``inst.name`` once."""
    generator: KubeObject = {
        "apiVersion": GENERATORS_API, "kind": PASSWORD, "metadata": {"name": inst.name},
        "spec": {"length": secret.length, "digits": max(2, secret.length // 6), "symbols": 0, "noUpper": False,
                 "allowRepeat": True, "secretKeys": list(secret.keys)},
    }
    target: KubeObject = {"name": inst.name, "creationPolicy": "Owner"}
    if secret.template:
        target["template"] = {"engineVersion": "v2", "mergePolicy": "Merge", "data": dict(secret.template)}
    external: KubeObject = {
        "apiVersion": eso.API_VERSION, "kind": eso.EXTERNAL_SECRET, "metadata": {"name": inst.name},
        "spec": {
            "refreshPolicy": "CreatedOnce",
            "target": target,
            "dataFrom": [{"sourceRef": {"generatorRef": {"apiVersion": GENERATORS_API, "kind": PASSWORD,
                                                         "name": inst.name}}}],
        },
    }
    return [generator, external]
