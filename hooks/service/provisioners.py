"""Outputs of each resource type, and the resolver the templates are rendered with.

Provisioners are pure: they read the service, its related objects and the cluster identity from
the ServiceContext and return output values. Only ``resolver`` knows the ``metadata.*`` and
``resources.<name>.<output>`` paths; ``templates`` knows only the syntax.

- service: ``host`` = ``<name>.<ns>.svc.<clusterDomain>``, ``port`` = the port named ``http``, else
  the first by name, else 80; ``url`` = ``http://host:port``. A service that does not exist yet
  is resolved from its declaration with port 80 (the compiler reports it as a missing dependency;
  once it appears the values are recomputed and the pods roll if they changed).
- external-service: the endpoint named ``default``, else the first by name. One that does not
  exist yet cannot be resolved: the reference is reported with ``missing`` set.
- volume: ``claim_name``. secret: every key (``params.keys`` when given) as a SecretKeyRef.
"""

from __future__ import annotations

from collections.abc import Sequence

from crds.service import LatticeService, ResourceSpec
from hooks import names
from hooks.context import Key, ServiceContext
from hooks.service.templates import Path, Resolved, Resolver, SecretKeyRef, Unresolved

DEFAULT_PORT = 80
SERVICE_OUTPUTS = ("host", "port", "url")
VOLUME_OUTPUTS = ("claim_name",)


def target(ctx: ServiceContext, name: str, res: ResourceSpec) -> Key:
    """(namespace, name) of the object a service or external-service resource refers to."""
    return (res.namespace or ctx.namespace, res.id or name)


def service_port(service: LatticeService | None) -> int:
    ports = service.spec.service.ports if service is not None and service.spec.service else {}
    if "http" in ports:
        return ports["http"].port
    if ports:
        return ports[sorted(ports)[0]].port
    return DEFAULT_PORT


def service_outputs(ctx: ServiceContext, name: str, res: ResourceSpec) -> dict[str, str]:
    ns, svc = target(ctx, name, res)
    host = f"{svc}.{ns}.svc.{ctx.cluster.cluster_domain}"
    port = service_port(ctx.services.get((ns, svc)))
    return {"host": host, "port": str(port), "url": f"http://{host}:{port}"}


def external_outputs(ctx: ServiceContext, name: str, res: ResourceSpec) -> dict[str, str] | None:
    """None when the LatticeExternalService does not exist (or has no usable endpoint)."""
    ext = ctx.external_services.get(target(ctx, name, res))
    endpoints = ext.spec.parsed_endpoints() if ext is not None else {}
    if not endpoints:
        return None
    ep = endpoints.get("default") or endpoints[sorted(endpoints)[0]]
    return {"host": ep.host, "port": str(ep.port), "url": ep.url}


def volume_outputs(ctx: ServiceContext, name: str, res: ResourceSpec) -> dict[str, str]:
    return {"claim_name": names.pvc_name(ctx.name, name, res.id)}


def secret_keys(res: ResourceSpec) -> list[str] | None:
    """The declared keys, or None when the whole path is synced (any key may be referenced)."""
    keys = (res.params or {}).get("keys")
    return [str(k) for k in keys] if isinstance(keys, list) else None


def resolver(ctx: ServiceContext) -> Resolver:
    """The resolver for variables and file contents of ``ctx.service``."""

    def resolve(path: Path) -> Resolved:
        root, rest = path[0], path[1:]
        if root == "metadata":
            return _metadata(ctx, rest)
        if root == "resources":
            return _resource(ctx, rest)
        raise Unresolved("expected 'metadata.<field>' or 'resources.<name>.<output>'")

    return resolve


def _metadata(ctx: ServiceContext, rest: Sequence[str]) -> str:
    meta = ctx.service.metadata
    if tuple(rest) == ("name",):
        return ctx.name
    if tuple(rest) == ("namespace",):
        return ctx.namespace
    if len(rest) == 2 and rest[0] in ("annotations", "labels"):
        values = meta.annotations if rest[0] == "annotations" else meta.labels
        if rest[1] in values:
            return values[rest[1]]
        raise Unresolved(f"metadata.{rest[0]} has no key '{rest[1]}'")
    raise Unresolved("metadata offers name, namespace, annotations.<key> and labels.<key>")


def _resource(ctx: ServiceContext, rest: Sequence[str]) -> Resolved:
    resources = ctx.service.spec.resources
    if not rest:
        raise Unresolved("expected 'resources.<name>.<output>'")
    name = rest[0]
    res = resources.get(name)
    if res is None:
        raise Unresolved(f"no resource '{name}' is declared in spec.resources")
    if len(rest) == 1:
        if res.type == "volume":
            raise Unresolved(f"a bare volume reference is only valid as a volume source "
                             f"(use '${{resources.{name}.claim_name}}' for the claim name)")
        raise Unresolved(f"resource '{name}' needs an output, e.g. '${{resources.{name}.<output>}}'")
    if len(rest) > 2:
        raise Unresolved("too many path segments (write '\\.' for a dot inside a name)")
    output = rest[1]
    if res.type == "secret":
        return _secret_key(ctx, name, res, output)
    outputs = _outputs(ctx, name, res)
    if output not in outputs:
        available = ", ".join(sorted(outputs))
        raise Unresolved(f"resource '{name}' (type {res.type}) has no output '{output}' (available: {available})")
    return outputs[output]


def _outputs(ctx: ServiceContext, name: str, res: ResourceSpec) -> dict[str, str]:
    if res.type == "service":
        return service_outputs(ctx, name, res)
    if res.type == "volume":
        return volume_outputs(ctx, name, res)
    if res.type == "external-service":
        found = external_outputs(ctx, name, res)
        if found is None:
            ns, ext = target(ctx, name, res)
            missing = f"LatticeExternalService {ns}/{ext}"
            raise Unresolved(f"{missing} does not exist yet", missing=missing)
        return found
    raise Unresolved(f"resource '{name}' has type '{res.type}', which Lattice does not provision (no outputs)")


def _secret_key(ctx: ServiceContext, name: str, res: ResourceSpec, key: str) -> SecretKeyRef:
    keys = secret_keys(res)
    if keys is not None and key not in keys:
        raise Unresolved(f"secret resource '{name}' has no key '{key}' (params.keys: {', '.join(sorted(keys))})")
    return SecretKeyRef(resource=name, secret=names.secret_name(ctx.name, name), key=key)
