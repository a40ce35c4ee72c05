"""Which provisioner serves a resource.

Score matches the first provisioner, in file order, whose ``type`` equals the resource's and whose
``class`` and ``id`` (when set) equal the resource's. Lattice has no file order, so the cluster's
Provisioners are ordered most specific first (an ``id`` before a ``class`` before neither), then
by name; they all come before the built-in ones. The built-ins serve only resources without a
class (or class ``default``): a resource that asks for a class nobody provides is an error, never
a silent fallback to a development-grade instance.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from crds import Provisioner
from crds.provisioner import ProvisionerSpec
from crds.service import ResourceSpec
from hooks.service.provisioning.native import HINTS

DEFAULT_CLASS = "default"


@attrs.frozen
class Match:
    label: str  # "Provisioner <name>" or "built-in <type> provisioner"
    spec: ProvisionerSpec | None  # None for a native built-in
    builtin: bool = False

    @property
    def native(self) -> bool:
        return self.spec is None


def _matches(spec: ProvisionerSpec, res: ResourceSpec) -> bool:
    if spec.type != res.type:
        return False
    if spec.class_ is not None and spec.class_ != (res.class_ or DEFAULT_CLASS):
        return False
    return spec.id is None or spec.id == res.id


def ordered(provisioners: Sequence[Provisioner]) -> list[Provisioner]:
    return sorted(provisioners, key=lambda p: (p.spec.id is None, p.spec.class_ is None, p.name))


def choose(res: ResourceSpec, provisioners: Sequence[Provisioner], defaults: dict[str, ProvisionerSpec],
           native: Sequence[str]) -> Match | str:
    """The match, or the error message (naming what exists for the type)."""
    for p in ordered(provisioners):
        if _matches(p.spec, res):
            return Match(f"Provisioner {p.name}", p.spec)
    if (res.class_ or DEFAULT_CLASS) == DEFAULT_CLASS:
        if res.type in native:
            return Match(f"built-in {res.type} provisioner", None, builtin=False)
        if res.type in defaults:
            return Match(f"built-in {res.type} provisioner", defaults[res.type], builtin=True)
    same_type = [p for p in ordered(provisioners) if p.spec.type == res.type]
    wanted = f"type '{res.type}' (class '{res.class_ or DEFAULT_CLASS}'{f', id {res.id!r}' if res.id else ''})"
    if same_type:
        offers = "; ".join(f"Provisioner {p.name} (class {p.spec.class_ or 'any'}"
                           f"{f', id {p.spec.id}' if p.spec.id else ''})" for p in same_type)
        return f"no provisioner for {wanted}; for this type there are: {offers}"
    builtin = res.type in native or res.type in defaults
    if builtin:
        return (f"no provisioner for {wanted}: the built-in {res.type} provisioner serves only the default class; "
                "ask your platform team for a Provisioner of that class")
    hint = f" ({HINTS[res.type]})" if res.type in HINTS else ""
    known = ", ".join(sorted({*native, *defaults, *(p.spec.type for p in provisioners)}))
    return (f"no provisioner for {wanted}{hint}; types provisioned here: {known} (plus Lattice's own: service, "
            "external-service, volume, secret); a platform team adds others as Provisioner objects")
