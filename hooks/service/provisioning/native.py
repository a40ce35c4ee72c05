"""Lattice's own resource types and the built-in provisioners written in Python (they read the
service and its related objects, which a template cannot).

Lattice's own types (never served by a Provisioner):

- service: ``host`` = ``<name>.<ns>.svc.<clusterDomain>``, ``port`` = the port named ``http``, else
  the first by name, else 80; ``url`` = ``http://host:port``; ``name`` = the Service name as a
  caller in this namespace writes it (``<name>``, or ``<name>.<ns>`` for another namespace). A
  service that does not exist yet is resolved from its declaration with port 80.
- external-service: the endpoint named ``default``, else the first by name (``host``, ``port``,
  ``url``); one that does not exist yet is reported as missing.
- volume: ``claim_name`` when a claim backs it. secret: every key (``params.keys`` when given).

Built-in provisioners (class unset or ``default``):

- service-port: params ``workload``, ``port`` (a port name or number of that LatticeService);
  outputs ``hostname`` (its Service name) and ``port`` (the *Service* port; score-k8s gives the
  container port).
- dns: ``host`` = ``<svc>-<hash>.localhost`` (deterministic), ``url`` = ``http://<host>``.
- route: params ``host``, ``path``, ``port`` (a port name or number of this service): an
  HTTPRoute through the service's Gateway (``hooks.mesh.ingress``); no outputs.
- environment: any key, read from ``params.<key>`` (in a cluster there is no process environment;
  ``lattice import score`` fills the params from the importing shell's environment).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from crds import FieldError
from crds.service import LatticeService, ResourceSpec
from hooks import names
from hooks.context import Key, Route, ServiceContext
from hooks.service.provisioning.outputs import Outputs
from hooks.service.templates import Resolved, SecretKeyRef, Unresolved

DEFAULT_PORT = 80
CORE_TYPES = ("service", "external-service", "volume", "secret")
DNS_DOMAIN = "localhost"
_ROUTE_HOST = re.compile(r"^[a-z0-9_.-]{1,253}$")


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


def core_outputs(ctx: ServiceContext, name: str, res: ResourceSpec) -> Outputs:
    if res.type == "service":
        ns, svc = target(ctx, name, res)
        host = f"{svc}.{ns}.svc.{ctx.cluster.cluster_domain}"
        port = service_port(ctx.services.get((ns, svc)))
        short = svc if ns == ctx.namespace else f"{svc}.{ns}"
        return Outputs(res.type, {"host": host, "port": str(port), "url": f"http://{host}:{port}", "name": short})
    if res.type == "external-service":
        return _external(ctx, name, res)
    if res.type == "volume":
        claim = volume_claim(ctx, name, res)
        return Outputs(res.type, {"claim_name": claim} if claim else {})
    return _secret(ctx, name, res)


def volume_claim(ctx: ServiceContext, name: str, res: ResourceSpec) -> str | None:
    """The claim behind a volume resource, or None for an emptyDir (no size, id or claimName)."""
    p = res.params or {}
    if isinstance(p.get("claimName"), str):
        return str(p["claimName"])
    if p.get("size") is None and not res.id:
        return None
    return names.pvc_name(ctx.name, name, res.id)


def _external(ctx: ServiceContext, name: str, res: ResourceSpec) -> Outputs:
    key = target(ctx, name, res)
    ext = ctx.external_services.get(key)
    endpoints = ext.spec.parsed_endpoints() if ext is not None else {}
    if not endpoints:
        missing = f"LatticeExternalService {key[0]}/{key[1]}"
        return Outputs(res.type, error=Unresolved(f"{missing} does not exist yet", missing=missing))
    ep = endpoints.get("default") or endpoints[sorted(endpoints)[0]]
    return Outputs(res.type, {"host": ep.host, "port": str(ep.port), "url": ep.url})


def secret_keys(res: ResourceSpec) -> list[str] | None:
    """The declared keys, or None when the whole path is synced (any key may be referenced)."""
    keys = (res.params or {}).get("keys")
    return [str(k) for k in keys] if isinstance(keys, list) else None


def _secret(ctx: ServiceContext, name: str, res: ResourceSpec) -> Outputs:
    secret = names.secret_name(ctx.name, name)
    keys = secret_keys(res)
    if keys is not None:
        return Outputs(res.type, {k: SecretKeyRef(name, secret, k) for k in keys})
    return Outputs(res.type, any_key=lambda k: SecretKeyRef(name, secret, k))


# ---- built-in provisioners written in Python ---------------------------------------------------


@attrs.frozen
class NativeResult:
    outputs: Outputs
    errors: list[FieldError] = attrs.field(factory=list)
    routes: list[Route] = attrs.field(factory=list)


NativeFn = Callable[[ServiceContext, str, ResourceSpec, Mapping[str, Any]], NativeResult]


def _hash(*parts: str, n: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _service_port(ctx: ServiceContext, name: str, res: ResourceSpec, params: Mapping[str, Any]) -> NativeResult:
    field = f"spec.resources.{name}.params"
    workload, port = params.get("workload"), params.get("port")
    errors = []
    if not isinstance(workload, str) or not workload:
        errors.append(FieldError(f"{field}.workload", "required: the name of the LatticeService to call"))
    if not isinstance(port, str | int) or port == "":
        errors.append(FieldError(f"{field}.port", "required: a port name or number of that service"))
    if errors:
        return NativeResult(Outputs(res.type, error=Unresolved(f"resource '{name}' is not valid")), errors)
    key = (ctx.namespace, str(workload))
    peer = ctx.services.get(key) if key != ctx.key else ctx.service
    if peer is None:
        missing = f"LatticeService {key[0]}/{key[1]}"
        return NativeResult(Outputs(res.type, error=Unresolved(f"{missing} does not exist yet", missing=missing)))
    ports = peer.spec.service.ports if peer.spec.service else {}
    found = [p.port for n, p in sorted(ports.items()) if n == str(port) or str(p.port) == str(port)]
    if not found:
        known = ", ".join(f"{n} ({p.port})" for n, p in sorted(ports.items())) or "none"
        return NativeResult(Outputs(res.type, error=Unresolved(f"resource '{name}' is not valid")),
                            [FieldError(f"{field}.port", f"LatticeService {key[0]}/{key[1]} has no port '{port}' "
                                                         f"(ports: {known})")])
    return NativeResult(Outputs(res.type, {"hostname": str(workload), "port": found[0]}))


def dns_host(ctx: ServiceContext, name: str) -> str:
    return f"{ctx.name}-{_hash(ctx.namespace, ctx.name, name)}.{DNS_DOMAIN}"


def _dns(ctx: ServiceContext, name: str, res: ResourceSpec, params: Mapping[str, Any]) -> NativeResult:
    host = dns_host(ctx, name)
    return NativeResult(Outputs(res.type, {"host": host, "url": f"http://{host}"}))


def _route(ctx: ServiceContext, name: str, res: ResourceSpec, params: Mapping[str, Any]) -> NativeResult:
    field = f"spec.resources.{name}.params"
    errors: list[FieldError] = []
    host, path, port = params.get("host"), params.get("path", "/"), params.get("port")
    if not isinstance(host, str) or not _ROUTE_HOST.match(host):
        errors.append(FieldError(f"{field}.host",
                                 f"expected a host name (e.g. '${{resources.dns.host}}'), got {host!r}"))
    if not isinstance(path, str) or not path.startswith("/") or (len(path) > 1 and path.endswith("/")):
        errors.append(FieldError(f"{field}.path", f"expected a path starting with '/' and not ending with '/', "
                                                  f"got {path!r}"))
    ports = ctx.service.spec.service.ports if ctx.service.spec.service else {}
    number = next((p.port for n, p in sorted(ports.items()) if n == str(port) or str(p.port) == str(port)), None)
    if number is None:
        known = ", ".join(f"{n} ({p.port})" for n, p in sorted(ports.items())) or "none: declare service.ports"
        errors.append(FieldError(f"{field}.port", f"expected a port name or number of this service, got "
                                                  f"{port!r} (ports: {known})"))
    outputs = Outputs(res.type, {})
    if errors or number is None:
        return NativeResult(outputs, errors)
    return NativeResult(outputs, routes=[Route(name, str(host), str(path), number)])


def _environment(ctx: ServiceContext, name: str, res: ResourceSpec, params: Mapping[str, Any]) -> NativeResult:
    def value(key: str) -> Resolved:
        if key in params:
            v = params[key]
            return v if isinstance(v, str) else str(v)
        raise Unresolved(f"environment resource '{name}' has no value for '{key}': set spec.resources.{name}.params."
                         f"{key} (a cluster has no process environment; `lattice import score` fills the params "
                         "from your shell's environment)")

    return NativeResult(Outputs(res.type, {k: v for k, v in params.items() if isinstance(v, str)}, any_key=value))


NATIVE: dict[str, tuple[NativeFn, str]] = {
    "service-port": (_service_port, "the port of another LatticeService in this namespace"),
    "dns": (_dns, f"a host name under .{DNS_DOMAIN} (development only: a platform provisioner sets real ones)"),
    "route": (_route, "an HTTPRoute from the service's Gateway to one of its ports"),
    "environment": (_environment, "values given as params"),
}

# Types people use that Lattice expresses otherwise: the error says how.
HINTS = {
    "horizontal-pod-autoscaler": "Lattice scales with spec.replicas (min/max make a HorizontalPodAutoscaler)",
}
