"""Render every template of a LatticeService once: variables and file contents of each container.

The result carries every error at once, each with its field path, and the dependencies that
templates need but that do not exist yet (those block rendering rather than fail it).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from crds import FieldError
from crds.service import ContainerSpec, FileMount, SidecarSpec
from hooks.service.context import ServiceContext
from hooks.service.provisioners import resolver
from hooks.service.templates import Mode, Rendered, Resolver, render


@attrs.frozen
class RenderedFile:
    path: str
    text: Rendered | None  # content or source, rendered; None for binary files
    binary: str | None  # base64, verbatim
    mode: int | None  # from the octal string


@attrs.frozen
class RenderedContainer:
    name: str
    spec: ContainerSpec
    field: str  # "spec.containers.<name>" or "spec.sidecars.<name>"
    env: dict[str, Rendered]
    files: dict[str, RenderedFile]

    @property
    def is_sidecar(self) -> bool:
        return isinstance(self.spec, SidecarSpec)

    @property
    def is_init(self) -> bool:
        return isinstance(self.spec, SidecarSpec) and self.spec.init


@attrs.frozen
class Rendering:
    containers: tuple[RenderedContainer, ...]  # main containers by name, then sidecars by name
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


def render_workload(ctx: ServiceContext) -> Rendering:
    resolve = resolver(ctx)
    containers: list[RenderedContainer] = []
    errors: list[FieldError] = []
    missing: dict[str, str] = {}

    def keep(path: str, rendered: Rendered) -> Rendered:
        for e in rendered.errors:
            if e.missing is not None:
                missing.setdefault(e.missing, path)
            else:
                errors.append(FieldError(path, e.message))
        return rendered

    for field, name, c in workload_containers(ctx):
        env = {
            var: keep(f"{field}.variables.{var}", render(c.variables[var], resolve))
            for var in sorted(c.variables)
        }
        files = {
            path: _render_file(f"{field}.files.{path}", path, c.files[path], resolve, keep)
            for path in sorted(c.files)
        }
        containers.append(RenderedContainer(name=name, spec=c, field=field, env=env, files=files))
    return Rendering(tuple(containers), tuple(errors), missing)


def _render_file(field: str, path: str, f: FileMount, resolve: Resolver,
                 keep: Callable[[str, Rendered], Rendered]) -> RenderedFile:
    mode = int(f.mode, 8) if f.mode else None
    if f.binary_content is not None and f.content is None and f.source is None:
        return RenderedFile(path=path, text=None, binary=f.binary_content, mode=mode)
    text, where = (f.content, "content") if f.content is not None else (f.source or "", "source")
    how = Mode.NO_EXPAND if f.no_expand else Mode.REVERSE_EXPAND if f.reverse_expand else Mode.EXPAND
    return RenderedFile(path=path, text=keep(f"{field}.{where}", render(text, resolve, how)),
                        binary=None, mode=mode)
