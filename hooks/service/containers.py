"""One container of the pod template: env, ports, resources, probes and security context.

Environment variables are sorted by name. A value that is exactly one secret key becomes a
``secretKeyRef``; a value mixing text and secret keys uses hidden variables
``LATTICE_SECRET_<n>`` (listed first, so Kubernetes can expand ``$(LATTICE_SECRET_<n>)`` in it).
Kubernetes expands ``$(VAR)`` and reduces ``$$`` in every env value, so literal text is escaped
(``$(`` -> ``$$(``, ``$$`` -> ``$$$$``) and reaches the process exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from crds import KubeObject
from crds.service import ContainerResources, Probe, ResourceQuantities, SecurityContext, ServiceSpec
from hooks import names
from hooks.service.expansion import ExpandedContainer
from hooks.service.templates import Expanded, SecretKeyRef

# Kubernetes rejects allowPrivilegeEscalation: false together with these.
_ESCALATING_CAPS = ("SYS_ADMIN", "CAP_SYS_ADMIN")
_IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


_ESCAPED_DOLLAR = re.compile(r"\$(?=[$(])")  # a '$' that Kubernetes would read as '$$' or '$('


def escape_env(text: str) -> str:
    """Escape literal text for Kubernetes ``$(VAR)`` expansion (only ``$$`` and ``$(`` change)."""
    return _ESCAPED_DOLLAR.sub("$$", text) if "$" in text else text


def env_vars(env: Mapping[str, Expanded]) -> list[KubeObject]:
    mixed = sorted({r for v in env.values() if not _single_secret(v) for r in v.secret_refs},
                   key=lambda r: (r.secret, r.key))
    hidden = {ref: names.secret_env_name(i) for i, ref in enumerate(mixed)}
    out: list[KubeObject] = [{"name": n, "valueFrom": _secret_key_ref(r)} for r, n in hidden.items()]
    for name in sorted(env):
        value = env[name]
        single = _single_secret(value)
        if single is not None:
            out.append({"name": name, "valueFrom": _secret_key_ref(single)})
            continue
        text = "".join(escape_env(p) if isinstance(p, str) else f"$({hidden[p]})" for p in value.parts)
        out.append({"name": name, "value": text})
    return out


def _single_secret(value: Expanded) -> SecretKeyRef | None:
    if len(value.parts) == 1 and isinstance(value.parts[0], SecretKeyRef):
        return value.parts[0]
    return None


def _secret_key_ref(ref: SecretKeyRef) -> KubeObject:
    return {"secretKeyRef": {"name": ref.secret, "key": ref.key}}


def container_ports(service: ServiceSpec | None) -> list[KubeObject]:
    """Every service port, by name; the port name is kept when Kubernetes accepts it (IANA)."""
    out: list[KubeObject] = []
    for name in sorted(service.ports if service else {}):
        assert service is not None
        p = service.ports[name]
        port: KubeObject = {"containerPort": p.target_port or p.port, "protocol": str(p.protocol or "TCP")}
        if len(name) <= 15 and _IANA_SVC_NAME.match(name):
            port = {"name": name, **port}
        out.append(port)
    return out


def resources(r: ContainerResources | None) -> KubeObject:
    out: KubeObject = {}
    for key, q in (("requests", r.requests if r else None), ("limits", r.limits if r else None)):
        amounts = _quantities(q)
        if amounts:
            out[key] = amounts
    return out


def _quantities(q: ResourceQuantities | None) -> dict[str, str]:
    if q is None:
        return {}
    return {k: v for k, v in (("cpu", q.cpu), ("memory", q.memory)) if v is not None}


def probe(p: Probe) -> KubeObject:
    out: KubeObject = {}
    if p.exec is not None:  # given both, exec wins: the Score specification prefers it
        out["exec"] = {"command": list(p.exec.command)}
    elif p.http_get is not None:
        h = p.http_get
        get: KubeObject = {"path": h.path, "port": h.port}
        if h.scheme:
            get["scheme"] = h.scheme.upper()
        if h.host:
            get["host"] = h.host
        if h.http_headers:
            get["httpHeaders"] = [{"name": x.name, "value": x.value} for x in h.http_headers]
        out["httpGet"] = get
    timing = (
        ("initialDelaySeconds", p.initial_delay_seconds), ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds), ("failureThreshold", p.failure_threshold),
        ("successThreshold", p.success_threshold),
    )
    out.update({k: v for k, v in timing if v is not None})
    return out


def security_context(sc: SecurityContext | None) -> KubeObject:
    """The spec's fields, plus secure defaults (see docs/service-compiler.md).

    Adding capabilities drops ALL others unless ``dropCapabilities`` says otherwise;
    ``allowPrivilegeEscalation`` defaults to false unless privileged or adding SYS_ADMIN.
    """
    sc = sc or SecurityContext()
    out: KubeObject = {}
    if sc.capabilities or sc.drop_capabilities is not None:
        caps: KubeObject = {}
        if sc.capabilities:
            caps["add"] = list(sc.capabilities)
        caps["drop"] = list(sc.drop_capabilities) if sc.drop_capabilities is not None else ["ALL"]
        out["capabilities"] = caps
    escalation = sc.allow_privilege_escalation
    if escalation is None and not sc.privileged and not set(sc.capabilities) & set(_ESCALATING_CAPS):
        escalation = False
    fields = (
        ("allowPrivilegeEscalation", escalation), ("privileged", sc.privileged),
        ("readOnlyRootFilesystem", sc.read_only_root_filesystem), ("runAsNonRoot", sc.run_as_non_root),
        ("runAsUser", sc.run_as_user), ("runAsGroup", sc.run_as_group),
    )
    out.update({k: v for k, v in fields if v is not None})
    return out


def container(rc: ExpandedContainer, *, ports: list[KubeObject], mounts: list[KubeObject]) -> KubeObject:
    """The container dict; init containers get no probes (Kubernetes forbids them there)."""
    c = rc.spec
    out: KubeObject = {"name": rc.name, "image": c.image}
    if c.command is not None:
        out["command"] = list(c.command)
    if c.args is not None:
        out["args"] = list(c.args)
    env = env_vars(rc.env)
    if env:
        out["env"] = env
    if ports:
        out["ports"] = ports
    res = resources(c.resources)
    if res:
        out["resources"] = res
    if not rc.is_init:
        for key, p in (("livenessProbe", c.liveness_probe), ("readinessProbe", c.readiness_probe),
                       ("startupProbe", c.startup_probe)):
            if p is not None:
                out[key] = probe(p)
    out["securityContext"] = security_context(c.security)
    if mounts:
        out["volumeMounts"] = sorted(mounts, key=lambda m: str(m["mountPath"]))
    return out
