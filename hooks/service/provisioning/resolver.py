"""The resolver the templates of one LatticeService are rendered with: the only code that knows the
``metadata.*`` and ``resources.<name>.<key>...`` roots (``templates`` knows only the syntax, the
provisioners only their outputs).

- ``metadata.<key>...`` walks the workload's metadata as Score sees it: ``name``, ``namespace``
  (a Lattice addition), ``annotations`` and ``labels`` of the object, plus the free-form
  ``spec.workloadMetadata`` keys. Nested maps are walked; a value that is not a string is
  inserted as JSON.
- ``resources.<name>.<key>...`` reads the resource's outputs (``provisioning.outputs.lookup``).
- Any other root is an error that says how to write a literal ``$``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hooks.context import ServiceContext
from hooks.service.provisioning.outputs import Outputs, lookup, to_json
from hooks.service.templates import Path, Resolved, Resolver, Unresolved


def metadata_map(ctx: ServiceContext) -> dict[str, Any]:
    meta = ctx.service.metadata
    out: dict[str, Any] = dict(ctx.service.spec.workload_metadata)
    out.update({"name": ctx.name, "namespace": ctx.namespace, "annotations": dict(meta.annotations),
                "labels": dict(meta.labels)})
    return out


def resolver(ctx: ServiceContext, outputs: Mapping[str, Outputs]) -> Resolver:
    """The resolver for ``ctx.service``; ``outputs`` holds every resource provisioned so far."""
    metadata = metadata_map(ctx)

    def resolve(path: Path) -> Resolved:
        root, rest = path[0], path[1:]
        if root == "metadata":
            return _metadata(metadata, rest)
        if root == "resources":
            return _resource(ctx, outputs, rest)
        raise Unresolved(f"unknown reference root '{root}': expected 'metadata.<key>' or "
                         "'resources.<name>.<key>' (write $$ for a literal $)")

    return resolve


def _metadata(metadata: Mapping[str, Any], rest: Sequence[str]) -> str:
    if not rest:
        raise Unresolved("'metadata' needs a key, e.g. '${metadata.name}'")
    value: Any = metadata
    for i, key in enumerate(rest):
        if not isinstance(value, Mapping):
            where = ".".join(("metadata", *rest[:i]))
            raise Unresolved(f"cannot look up key '{key}': '{where}' is not a map")
        if key not in value:
            where = ".".join(("metadata", *rest[:i]))
            raise Unresolved(f"key '{key}' not found in {where} (available: {', '.join(sorted(value)) or 'none'})")
        value = value[key]
    return value if isinstance(value, str) else to_json(value)


def _resource(ctx: ServiceContext, outputs: Mapping[str, Outputs], rest: Sequence[str]) -> Resolved:
    if not rest:
        raise Unresolved("expected 'resources.<name>.<key>'")
    name = rest[0]
    if name not in ctx.service.spec.resources:
        raise Unresolved(f"no resource '{name}' is declared in spec.resources")
    out = outputs.get(name)
    if out is None:  # only while provisioning, in dependency order: a cycle was reported already
        raise Unresolved(f"resource '{name}' is not provisioned yet")
    return lookup(name, out, tuple(rest[1:]))
