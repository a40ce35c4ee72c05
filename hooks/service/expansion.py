"""Expand every template of a LatticeService once: variables and file contents of each container.

The result carries every error at once, each with its field path, and the dependencies that
templates need but that do not exist yet (those block expansion rather than fail it).

Expansion is bounded (``crds.limits``): what all references of a service resolve to together, and
each variable and file once expanded, so a small spec cannot become a huge Deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from crds import FieldError
from crds import limits as lim
from crds.service import ContainerSpec, FileMount, SidecarSpec
from hooks.context import ServiceContext
from hooks.service.provisioning import Outputs, plan_resources
from hooks.service.provisioning.resolver import resolver
from hooks.service.templates import Expanded, Mode, Path, Resolved, Resolver, Unresolved, expand


@attrs.frozen
class ExpandedFile:
    path: str
    text: Expanded | None  # content, expanded; None for binary files
    binary: str | None  # base64, verbatim
    mode: int | None  # from the octal string


@attrs.frozen
class ExpandedContainer:
    name: str
    spec: ContainerSpec
    field: str  # "spec.containers.<name>" or "spec.sidecars.<name>"
    env: dict[str, Expanded]
    files: dict[str, ExpandedFile]

    @property
    def is_sidecar(self) -> bool:
        return isinstance(self.spec, SidecarSpec)

    @property
    def is_init(self) -> bool:
        return isinstance(self.spec, SidecarSpec) and self.spec.init


@attrs.frozen
class WorkloadExpansion:
    containers: tuple[ExpandedContainer, ...]  # main containers by name, then sidecars by name
    errors: tuple[FieldError, ...] = ()
    # Objects a template needs that do not exist yet -> the first field that needs it.
    missing: dict[str, str] = attrs.field(factory=dict)


def workload_containers(ctx: ServiceContext) -> list[tuple[str, str, ContainerSpec]]:
    """(field path, name, spec) of main containers by name, then sidecars by name."""
    spec = ctx.service.spec
    out: list[tuple[str, str, ContainerSpec]] = [
        (f"spec.containers.{n}", n, spec.containers[n]) for n in sorted(spec.containers)
    ]
    out += [(f"spec.sidecars.{n}", n, spec.sidecars[n]) for n in sorted(spec.sidecars)]
    return out


def budgeted(resolve: Resolver, total: int = lim.EXPANDED_TOTAL) -> Resolver:
    """``resolve``, refusing once everything it returned adds up to more than ``total`` characters."""
    left = total

    def run(path: Path) -> Resolved:
        nonlocal left
        value = resolve(path)
        if isinstance(value, str):
            left -= len(value)
            if left < 0:
                raise Unresolved(f"the service's references expand to more than {total:,} characters in all")
        return value

    return run


def _size(expanded: Expanded) -> int:
    return sum(len(p) for p in expanded.parts if isinstance(p, str))


def expand_workload(ctx: ServiceContext, outputs: Mapping[str, Outputs] | None = None) -> WorkloadExpansion:
    """``outputs``: the resources' outputs (``provisioning.plan_resources``; computed when not given)."""
    if outputs is None:
        outputs = plan_resources(ctx, ctx.provisioners).outputs
    resolve = budgeted(resolver(ctx, outputs))
    containers: list[ExpandedContainer] = []
    errors: list[FieldError] = []
    missing: dict[str, str] = {}

    def keep(path: str, expanded: Expanded, limit: int = lim.EXPANDED_VALUE) -> Expanded:
        for e in expanded.errors:
            if e.missing is not None:
                missing.setdefault(e.missing, path)
            else:
                errors.append(FieldError(path, e.message))
        if (size := _size(expanded)) > limit:
            errors.append(FieldError(path, f"expands to {size:,} characters; at most {limit:,} are allowed"))
        return expanded

    for field, name, c in workload_containers(ctx):
        env = {
            var: keep(f"{field}.variables.{var}", expand(c.variables[var], resolve))
            for var in sorted(c.variables)
        }
        files = {
            path: _expand_file(f"{field}.files.{path}", path, c.files[path], resolve, keep)
            for path in sorted(c.files)
        }
        containers.append(ExpandedContainer(name=name, spec=c, field=field, env=env, files=files))
    return WorkloadExpansion(tuple(containers), tuple(errors), missing)


def _expand_file(field: str, path: str, f: FileMount, resolve: Resolver,
                 keep: Callable[[str, Expanded, int], Expanded]) -> ExpandedFile:
    mode = int(f.mode, 8) if f.mode else None
    if f.binary_content is not None:  # never expanded (Score)
        return ExpandedFile(path=path, text=None, binary=f.binary_content, mode=mode)
    how = Mode.NO_EXPAND if f.no_expand else Mode.REVERSE_EXPAND if f.reverse_expand else Mode.EXPAND
    return ExpandedFile(path=path, text=keep(f"{field}.content", expand(f.content or "", resolve, how),
                                             lim.EXPANDED_FILE),
                        binary=None, mode=mode)
