"""Provisioner: how a platform team provisions a Score resource type (postgres, redis, ...).

A LatticeService resource of a type that is not one of Lattice's own (service, external-service,
volume, secret) is served by the first matching provisioner: the cluster's Provisioners (most
specific first: id, then class, then by name) before Lattice's built-in development-grade ones.
A Provisioner is a template: its outputs are what ``${resources.<name>.<output>}`` reads, its
manifests become children of the LatticeService, and its generated Secret holds random values
that only External Secrets ever sees (a Password generator, created once). See docs/score.md.
"""

from typing import Any, ClassVar

import attrs

from crds import checks
from crds._base import CrdInfo, FieldError, ObjectMeta, Phase, PrinterColumn, field
from crds.convert import LatticeObject


@attrs.define(kw_only=True)
class ProvisionerParam:
    """One parameter a resource may give in `params`."""

    description: str = field("", doc="What it is for.")
    required: bool = field(False, doc="The resource must give it.")
    default: Any = field(None, doc="The value when the resource gives none (any JSON value).")


@attrs.define(kw_only=True)
class GeneratedSecret:
    """A Secret named `${name}` whose keys hold random values, generated once by External Secrets (a
    `Password` generator and an ExternalSecret with `refreshPolicy: CreatedOnce`). Lattice never sees
    the values; outputs refer to them as `${secret.<key>}`."""

    keys: list[str] = field(doc="Keys that get a random value (letters and digits).", min_items=1,
                            check=checks.each(checks.env_name))
    length: int = field(24, doc="Length of each value.", minimum=8, maximum=128)
    template: dict[str, str] = field(
        factory=dict, check=checks.each_key(checks.env_name),
        doc="More keys, rendered by External Secrets from the generated ones with Go templates "
        "(`{{ .password }}`), e.g. a configuration file that embeds the password.")


@attrs.define(kw_only=True)
class ProvisionerSpec:
    """What the provisioner serves and what it produces. Every string in `outputs` and `manifests` is a
    template: `${name}`, `${namespace}`, `${workload}`, `${guid}`, `${resource.name|type|class|id|uid}`,
    `${params.<key>...}`, and in outputs `${secret.<key>}` (a key of the generated Secret; it stays a
    secretKeyRef); `$$` is a literal `$`. A string that is exactly one placeholder keeps the value's type."""

    type: str = field(doc="The resource type served, e.g. `postgres` (case-sensitive, as Score).",
                      check=checks.resource_type)
    class_: str | None = field(None, wire="class", check=checks.resource_class,
                               doc="Serve only this class (unset: any class, as in score-k8s).")
    id: str | None = field(None, doc="Serve only the resource with this id (unset: any).")
    description: str = field("", doc="Shown in errors listing the provisioners of a type.")
    params: dict[str, ProvisionerParam] | None = field(
        None, doc="Parameters it accepts; when set, any other parameter is an error.")
    outputs: dict[str, Any] = field(
        factory=dict, free_form=True,
        doc="What `${resources.<name>.<key>...}` reads (nested maps allowed). A leaf "
        "`{secretKeyRef: {name, key}}` is a key of a Secret the manifests create.")
    manifests: list[Any] = field(
        factory=list,
        doc="Kubernetes objects made for each provisioned instance (children of the LatticeService, in its "
        "namespace). They may not hold secret values: no Secret with data; use `secret`.")
    secret: GeneratedSecret | None = field(None, doc="A Secret of generated values, named `${name}`.")

    def _validate(self) -> list[FieldError]:
        errs: list[FieldError] = []
        if self.type in checks.BUILTIN_RESOURCE_TYPES:
            errs.append(FieldError("type", f"'{self.type}' is one of Lattice's own resource types, which no "
                                           "Provisioner serves"))
        for i, m in enumerate(self.manifests):
            where = f"manifests[{i}]"
            if not isinstance(m, dict):
                errs.append(FieldError(where, "expected a Kubernetes object (a mapping)"))
                continue
            for key in ("apiVersion", "kind"):
                if not isinstance(m.get(key), str) or not m.get(key):
                    errs.append(FieldError(f"{where}.{key}", "required"))
            meta = m.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
                errs.append(FieldError(f"{where}.metadata.name", "required"))
            if m.get("kind") == "Secret" and m.get("apiVersion") == "v1" and (m.get("data") or m.get("stringData")):
                errs.append(FieldError(where, "a provisioner may not put secret values in a manifest: declare a "
                                              "generated `secret`, or let an operator or ExternalSecret make it"))
        for name, p in sorted((self.params or {}).items()):
            if p.required and p.default is not None:
                errs.append(FieldError(f"params.{name}", "a required parameter cannot have a default"))
        return errs


@attrs.define(kw_only=True)
class ProvisionerStatus:
    phase: Phase = field(Phase.PENDING, doc="Not written in this version: errors in a Provisioner are reported "
                                            "on the LatticeServices it serves.")
    message: str | None = field(None, doc="Detail.")


@attrs.define(kw_only=True)
class Provisioner(LatticeObject):
    """How a Score resource type is provisioned for LatticeServices (platform-defined)."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="Provisioner",
        plural="provisioners",
        singular="provisioner",
        short_names=("prov",),
        namespaced=False,
        columns=(
            PrinterColumn("Type", ".spec.type"),
            PrinterColumn("Class", ".spec.class"),
            PrinterColumn("Description", ".spec.description"),
        ),
        doc="How a Score resource type is provisioned for LatticeServices (platform-defined).",
    )

    spec: ProvisionerSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("Provisioner")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: ProvisionerStatus | None = field(None, doc="Observed state.")
