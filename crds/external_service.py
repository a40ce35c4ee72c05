"""LatticeExternalService: controlled egress to endpoints outside the mesh."""

import ipaddress
import re
from typing import ClassVar

import attrs

from crds import checks
from crds._base import Condition, CrdInfo, FieldError, ObjectMeta, Phase, PrinterColumn, StrEnum, field
from crds.convert import LatticeObject


class Resolution(StrEnum):
    DNS = "dns"
    STATIC = "static"


@attrs.frozen
class Endpoint:
    """A parsed endpoint URL."""

    protocol: str  # https, http, tcp, grpc
    host: str
    port: int
    url: str

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


_DEFAULT_PORTS = {"https": 443, "http": 80}
_URL = re.compile(r"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?(?P<rest>.*)$")


def parse_endpoint(raw: str) -> Endpoint | None:
    """Parse `https://host[:port]`, `http://...`, `tcp://host:port`, `grpc://host:port` or `host:port`."""
    m = _URL.match(raw.strip())
    if not m or not raw.strip():
        return None
    scheme = (m.group("scheme") or "tcp").lower()
    if scheme not in ("https", "http", "tcp", "grpc"):
        return None
    rest = m.group("rest").split("/", 1)[0].split("?", 1)[0]
    rest = rest.rsplit("@", 1)[-1]  # credentials never become part of the host
    host, port_text = _split_host_port(rest)
    if host is None or not host:
        return None
    if port_text is None:
        if scheme not in _DEFAULT_PORTS:
            return None
        port = _DEFAULT_PORTS[scheme]
    else:
        if not port_text.isdigit():
            return None
        port = int(port_text)
    if not 1 <= port <= 65535:
        return None
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    elif not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", host):
        return None
    shown = f"[{host}]" if ":" in host else host
    url = raw.strip() if scheme in _DEFAULT_PORTS and port_text is None else f"{scheme}://{shown}:{port}"
    return Endpoint(scheme, host.lower(), port, url)


def _split_host_port(rest: str) -> tuple[str | None, str | None]:
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None, None
        host, tail = rest[1:end], rest[end + 1 :]
        if not tail:
            return host, None
        if not tail.startswith(":"):
            return None, None
        return host, tail[1:]
    if rest.count(":") > 1:
        return None, None  # bare IPv6 must be bracketed
    if ":" in rest:
        host, port = rest.split(":", 1)
        return host, port
    return rest, None


def _check_endpoints(v: dict[str, str]) -> str | None:
    bad = [k for k, url in v.items() if parse_endpoint(url) is None]
    if not bad:
        return None
    k = bad[0]
    return (
        f"invalid endpoint URL for '{k}': '{v[k]}' (expected e.g. 'https://api.stripe.com', "
        "'tcp://db.example.com:5432', 'grpc://host:443' or 'host:port')"
    )


@attrs.define(kw_only=True)
class LatticeExternalServiceSpec:
    endpoints: dict[str, str] = field(
        doc="Endpoint URLs keyed by name (a DNS label: it names the port).", min_items=1,
        check=(checks.each_key(checks.dns_label), _check_endpoints),
    )
    allowed_requesters: list[str] = field(
        factory=list,
        doc="Services (in this namespace) allowed to call it; `*` allows every declaring service.",
        aliases=("allowed_requesters",),
    )
    resolution: Resolution = field(Resolution.DNS, doc="`dns` or `static`.")
    description: str | None = field(None, doc="What this is.")

    def parsed_endpoints(self) -> dict[str, Endpoint]:
        out = {}
        for name in sorted(self.endpoints):
            ep = parse_endpoint(self.endpoints[name])
            if ep is not None:
                out[name] = ep
        return out

    def _validate(self) -> list[FieldError]:
        if self.resolution is Resolution.STATIC:
            hosts = [k for k, e in self.parsed_endpoints().items() if not e.is_ip]
            if hosts:
                return [FieldError(f"endpoints.{hosts[0]}", "resolution 'static' needs IP addresses, not hostnames")]
        return []


@attrs.define(kw_only=True)
class LatticeExternalServiceStatus:
    phase: Phase = field(Phase.PENDING, doc="Pending, Ready or Failed.")
    message: str | None = field(None, doc="Detail.")
    conditions: list[Condition] = field(factory=list, doc="Conditions (Ready).")
    observed_generation: int | None = field(None, doc="Generation last acted on.")


@attrs.define(kw_only=True)
class LatticeExternalService(LatticeObject):
    """An endpoint outside the mesh that named services may call."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="LatticeExternalService",
        plural="latticeexternalservices",
        singular="latticeexternalservice",
        short_names=("lext",),
        namespaced=True,
        columns=(
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Resolution", ".spec.resolution"),
            PrinterColumn("Description", ".spec.description"),
        ),
        doc="An endpoint outside the mesh that named services may call.",
    )

    spec: LatticeExternalServiceSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("LatticeExternalService")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: LatticeExternalServiceStatus | None = field(None, doc="Observed state.")
