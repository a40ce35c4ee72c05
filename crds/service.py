"""LatticeService: a Score-compatible workload plus bilateral mesh, ingress and secrets."""

from typing import Any, ClassVar

import attrs

from crds import checks
from crds import limits as lim
from crds._base import Condition, CrdInfo, FieldError, ObjectMeta, PrinterColumn, StrEnum, field
from crds.convert import LatticeObject


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
    BOTH = "both"

    @property
    def calls_out(self) -> bool:
        return self in _CALLS_OUT  # a plain str set: enum member lookups are slow in a hot loop

    @property
    def accepts_in(self) -> bool:
        return self in _ACCEPTS_IN


_CALLS_OUT = frozenset({"outbound", "both"})
_ACCEPTS_IN = frozenset({"inbound", "both"})


class Strategy(StrEnum):
    ROLLING = "rolling"
    CANARY = "canary"


class PathType(StrEnum):
    EXACT = "Exact"
    PATH_PREFIX = "PathPrefix"


class TlsMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class AccessMode(StrEnum):
    RWO = "ReadWriteOnce"
    RWX = "ReadWriteMany"
    ROX = "ReadOnlyMany"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class ServicePhase(StrEnum):
    PENDING = "Pending"
    COMPILING = "Compiling"
    READY = "Ready"
    FAILED = "Failed"


@attrs.define(kw_only=True)
class ResourceQuantities:
    """CPU and memory amounts."""

    cpu: str | None = field(None, doc="CPU, e.g. `100m`, `1`, `0.5`.", check=checks.cpu_quantity,
                            max_length=lim.SHORT)
    memory: str | None = field(None, doc="Memory, e.g. `256Mi`, `1Gi`.", check=checks.byte_quantity,
                               max_length=lim.SHORT)


@attrs.define(kw_only=True)
class ContainerResources:
    """Requests and limits of a container."""

    requests: ResourceQuantities | None = field(None, doc="Guaranteed resources.")
    limits: ResourceQuantities | None = field(None, doc="Maximum resources.")


@attrs.define(kw_only=True)
class FileMount:
    """A file written into the container. One of content, binaryContent or source is required."""

    content: str | None = field(None, doc="Text content; `${...}` templates are resolved (Score rules).",
                                max_length=lim.FILE_CONTENT)
    binary_content: str | None = field(None, doc="Base64-encoded binary content; never expanded.",
                                       check=checks.base64_text, max_length=lim.FILE_CONTENT)
    source: str | None = field(
        None, doc="Score: a path to a local file, relative to the workload file. Only `lattice render` and "
        "`lattice import score` can read it (they inline it as `content` or `binaryContent`); in the cluster "
        "there is no such file, so a LatticeService with `source` is refused.", max_length=lim.PATH)
    mode: str | None = field(None, doc="Octal file mode, e.g. `0644`.", check=checks.file_mode, max_length=8)
    no_expand: bool = field(False, doc="Take `content` byte for byte: no placeholders, no `$$` reduction.")
    reverse_expand: bool = field(False, doc="Lattice extension: leave `${...}` and `$$` literal and expand "
                                            "only `$${...}` (for files that are themselves templates).")

    def _validate(self) -> list[FieldError]:
        given = [n for n, v in (("content", self.content), ("binaryContent", self.binary_content),
                                ("source", self.source)) if v is not None]
        if not given:
            return [FieldError("", "must specify content, binaryContent, or source")]
        if self.source is not None:
            return [FieldError("source", f"'{self.source}' is a path to a file next to the Score file, which does "
                                         "not exist in the cluster: inline it as content (or binaryContent); "
                                         "`lattice render -f` and `lattice import score` do that for you")]
        if len(given) > 1:
            return [FieldError("", f"specify only one of content, binaryContent or source (got {', '.join(given)})")]
        if self.no_expand and self.reverse_expand:
            return [FieldError("noExpand", "noExpand and reverseExpand cannot both be true")]
        return []


@attrs.define(kw_only=True)
class VolumeMount:
    """A volume mounted at the map key (the mount path)."""

    source: str = field(doc="The volume resource, as `${resources.<name>}` (or its plain name).",
                        max_length=lim.PATH)
    path: str | None = field(None, doc="Sub-path within the volume.", max_length=lim.PATH)
    read_only: bool | None = field(None, doc="Mount read-only.")


@attrs.define(kw_only=True)
class HttpHeader:
    name: str = field(doc="Header name.", max_length=lim.SHORT)
    value: str = field(doc="Header value.", max_length=lim.PATH)


@attrs.define(kw_only=True)
class HttpGetProbe:
    """An HTTP GET probe."""

    path: str = field("/", doc="Request path.", check=checks.http_path, max_length=lim.PATH)
    port: int | str = field(doc="Port number or name.", check=checks.int_or_name_port)
    scheme: str | None = field(None, doc="HTTP or HTTPS.", max_length=lim.SHORT)
    host: str | None = field(None, doc="Host to connect to (default: the pod IP).", max_length=lim.NAME)
    http_headers: list[HttpHeader] = field(factory=list, doc="Extra request headers.", max_items=lim.HEADERS)


@attrs.define(kw_only=True)
class ExecProbe:
    command: list[str] = field(doc="Command to run in the container.", min_items=1, max_items=lim.ARGS,
                               max_length=lim.ARG)


@attrs.define(kw_only=True)
class Probe:
    """A liveness, readiness or startup probe: httpGet or exec (given both, `exec` is used, as the Score
    specification prefers), plus optional timing."""

    http_get: HttpGetProbe | None = field(None, doc="HTTP GET check.")
    exec: ExecProbe | None = field(None, doc="Command check.")
    initial_delay_seconds: int | None = field(None, doc="Seconds before the first probe.", minimum=0)
    period_seconds: int | None = field(None, doc="Seconds between probes.", minimum=1)
    timeout_seconds: int | None = field(None, doc="Seconds before a probe times out.", minimum=1)
    failure_threshold: int | None = field(None, doc="Failures before giving up.", minimum=1)
    success_threshold: int | None = field(None, doc="Successes before passing.", minimum=1)

    def _validate(self) -> list[FieldError]:
        if self.http_get is None and self.exec is None:
            return [FieldError("", "must specify httpGet or exec")]
        return []


@attrs.define(kw_only=True)
class SecurityContext:
    """Container security settings."""

    capabilities: list[str] = field(factory=list, doc="Linux capabilities to add.", max_items=lim.CAPABILITIES,
                                    max_length=lim.SHORT)
    drop_capabilities: list[str] | None = field(None, doc="Capabilities to drop (default: ALL when adding).",
                                                max_items=lim.CAPABILITIES, max_length=lim.SHORT)
    privileged: bool | None = field(None, doc="Run privileged.")
    read_only_root_filesystem: bool | None = field(None, doc="Mount the root filesystem read-only.")
    run_as_non_root: bool | None = field(None, doc="Refuse to run as root.")
    run_as_user: int | None = field(None, doc="UID to run as.", minimum=0)
    run_as_group: int | None = field(None, doc="GID to run as.", minimum=0)
    allow_privilege_escalation: bool | None = field(None, doc="Allow setuid escalation.")


@attrs.define(kw_only=True)
class ContainerSpec:
    """One container of the workload (Score `containers.<name>`)."""

    image: str = field(doc="Image reference; `.` means supplied at deploy time.", check=checks.image,
                       max_length=lim.IMAGE)
    command: list[str] | None = field(None, doc="Entrypoint override.", max_items=lim.ARGS, max_length=lim.ARG)
    args: list[str] | None = field(None, doc="Arguments.", max_items=lim.ARGS, max_length=lim.ARG)
    variables: dict[str, str] = field(
        factory=dict, doc="Environment variables; values may use `${...}` templates.",
        check=checks.each_key(checks.env_name), max_items=lim.VARIABLES, max_key_length=lim.SHORT,
        max_length=lim.VARIABLE_VALUE,
    )
    resources: ContainerResources | None = field(None, doc="CPU and memory.")
    files: dict[str, FileMount] = field(
        factory=dict, doc="Files keyed by absolute path.", check=checks.each_key(checks.absolute_path),
        max_items=lim.FILES, max_key_length=lim.PATH,
    )
    volumes: dict[str, VolumeMount] = field(
        factory=dict, doc="Volumes keyed by mount path.", check=checks.each_key(checks.absolute_path),
        max_items=lim.VOLUMES, max_key_length=lim.PATH,
    )
    liveness_probe: Probe | None = field(None, doc="Restart the container when it fails.")
    readiness_probe: Probe | None = field(None, doc="Take the pod out of rotation when it fails.")
    startup_probe: Probe | None = field(None, doc="Hold other probes until it passes.")
    security: SecurityContext | None = field(None, doc="Security context.")


@attrs.define(kw_only=True)
class SidecarSpec(ContainerSpec):
    """A sidecar: a container, optionally run as an init container."""

    init: bool = field(False, doc="Run to completion before the main containers.")


@attrs.define(kw_only=True)
class RateLimit:
    requests_per_interval: int = field(doc="Requests allowed per interval.", minimum=1)
    interval_seconds: int = field(60, doc="Interval length in seconds.", minimum=1)


@attrs.define(kw_only=True)
class IngressRateLimit(RateLimit):
    burst: int | None = field(
        None, minimum=0,
        doc="Extra requests allowed in a burst. Envoy Gateway's local limit has no burst setting: "
        "accepted for compatibility and reported as not enforced.",
    )


@attrs.define(kw_only=True)
class InboundPolicy:
    rate_limit: RateLimit | None = field(None, doc="Limit this caller's request rate.")


@attrs.define(kw_only=True)
class Retries:
    attempts: int = field(doc="Retry attempts (1-20).", minimum=1, maximum=20)
    per_try_timeout: str | None = field(None, doc="Timeout of each attempt, e.g. `5s`.", check=checks.duration,
                                        max_length=lim.SHORT)
    retry_on: list[str] = field(factory=list, doc="Conditions, e.g. `5xx`, `connect-failure`.", max_items=16,
                                max_length=lim.SHORT)


@attrs.define(kw_only=True)
class Timeout:
    request: str = field(doc="Whole-request timeout, e.g. `30s`.", check=checks.duration, max_length=lim.SHORT)


@attrs.define(kw_only=True)
class OutboundPolicy:
    retries: Retries | None = field(None, doc="Retry policy for calls to this dependency.")
    timeout: Timeout | None = field(None, doc="Timeouts for calls to this dependency.")


@attrs.define(kw_only=True)
class ResourceMetadata:
    """Resource metadata (Score allows extra keys; they are accepted and not used)."""

    __lattice_open__: ClassVar[bool] = True

    annotations: dict[str, str] = field(factory=dict, doc="Annotations.", max_items=lim.ANNOTATIONS,
                                        max_key_length=lim.NAME, max_length=lim.ANNOTATION_VALUE)


_SECRET_PARAMS = ("provider", "keys", "refreshInterval")
_VOLUME_PARAMS = ("size", "storageClass", "accessMode", "claimName")


@attrs.define(kw_only=True)
class ResourceSpec:
    """A dependency (Score `resources.<name>`): service, external-service, volume, secret, or any type a
    provisioner serves (postgres, redis, dns, route, ...; see docs/score.md)."""

    type: str = field(doc="`service`, `external-service`, `volume`, `secret`, or a provisioned type such as "
                          "`postgres`.", check=checks.resource_type, max_length=lim.SHORT)
    class_: str | None = field(None, wire="class", check=checks.resource_class, max_length=lim.SHORT,
                               doc="Score resource class: selects a provisioner (e.g. a production one).")
    id: str | None = field(None, doc="Target name (services), shared id (volumes, provisioned resources: one "
                                     "instance per namespace, type, class and id) or store path (secrets).",
                           max_length=lim.PATH)
    metadata: ResourceMetadata | None = field(None, doc="Resource metadata.")
    params: dict[str, Any] | None = field(None, doc="Type-specific parameters (free-form).", free_form=True)
    direction: Direction = field(Direction.OUTBOUND, doc="For services: who calls whom.")
    namespace: str | None = field(
        None, check=checks.dns_label, max_length=lim.DNS_LABEL,
        doc="Namespace of the peer service (default: own). For an inbound `*` it limits callers to that "
        "namespace; unset, `*` accepts declaring callers from every namespace.",
    )
    inbound: InboundPolicy | None = field(None, doc="L7 policy applied to this caller.")
    outbound: OutboundPolicy | None = field(None, doc="L7 policy for calls to this dependency.")

    def _validate(self) -> list[FieldError]:
        if self.type == "secret":
            return self._validate_secret()
        if self.type == "volume":
            return self._validate_volume()
        return []

    def _validate_secret(self) -> list[FieldError]:
        errs: list[FieldError] = []
        p = self.params or {}
        if not self.id:
            errs.append(FieldError("id", "required for type 'secret' (the path in the secret store)"))
        provider = p.get("provider")
        if not isinstance(provider, str) or not provider:
            errs.append(FieldError("params.provider", "required for type 'secret' (a SecretsProvider name)"))
        keys = p.get("keys")
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)):
            errs.append(FieldError("params.keys", "expected a list of key names"))
        interval = p.get("refreshInterval")
        if interval is not None and (not isinstance(interval, str) or checks.duration(interval)):
            errs.append(FieldError("params.refreshInterval", f"invalid duration {interval!r} (expected e.g. '1h')"))
        errs.extend(_unknown_params(p, _SECRET_PARAMS, "secret"))
        return errs

    def _validate_volume(self) -> list[FieldError]:
        errs: list[FieldError] = []
        p = self.params or {}
        size = p.get("size")
        if size is not None and (not isinstance(size, str) or checks.byte_quantity(size)):
            errs.append(FieldError("params.size", f"invalid quantity {size!r} (expected e.g. '10Gi')"))
        claim = p.get("claimName")
        if claim is not None and (not isinstance(claim, str) or checks.dns_subdomain(claim)):
            errs.append(FieldError("params.claimName", f"invalid claim name {claim!r} (expected a DNS name)"))
        if claim is not None and (size is not None or self.id):
            errs.append(FieldError("params.claimName", "an existing claim cannot be combined with size or id"))
        mode = p.get("accessMode")
        if mode is not None and mode not in [m.value for m in AccessMode]:
            allowed = ", ".join(m.value for m in AccessMode)
            errs.append(FieldError("params.accessMode", f"invalid value {mode!r} (expected one of: {allowed})"))
        sc = p.get("storageClass")
        if sc is not None and not isinstance(sc, str):
            errs.append(FieldError("params.storageClass", "expected a string"))
        errs.extend(_unknown_params(p, _VOLUME_PARAMS, "volume"))
        return errs


def _unknown_params(params: dict[str, Any], known: tuple[str, ...], kind: str) -> list[FieldError]:
    return [
        FieldError(f"params.{k}", f"unknown parameter for type '{kind}' (known: {', '.join(known)})")
        for k in params
        if k not in known
    ]


@attrs.define(kw_only=True)
class ServicePort:
    port: int = field(doc="Service port.", check=checks.port)
    target_port: int | None = field(None, doc="Container port (default: port).", check=checks.port)
    protocol: Protocol | None = field(None, doc="TCP (default), UDP or SCTP.")


@attrs.define(kw_only=True)
class ServiceSpec:
    """Ports exposed through a ClusterIP Service."""

    ports: dict[str, ServicePort] = field(
        factory=dict, doc="Ports keyed by name.", check=checks.each_key(checks.dns_label), max_items=lim.PORTS,
        max_key_length=lim.DNS_LABEL,
    )

    def _validate(self) -> list[FieldError]:
        seen: dict[tuple[int, str], str] = {}
        errs: list[FieldError] = []
        for name in sorted(self.ports):
            p = self.ports[name]
            key = (p.port, str(p.protocol or "TCP"))
            if key in seen:
                errs.append(FieldError(f"ports.{name}.port",
                                       f"duplicate service port number {p.port} (also used by '{seen[key]}')"))
            seen[key] = name
        return errs


@attrs.define(kw_only=True)
class Replicas:
    min: int = field(1, doc="Minimum (and initial) replicas.", minimum=0)
    max: int | None = field(None, doc="Maximum replicas; enables a HorizontalPodAutoscaler.", minimum=1)

    def _validate(self) -> list[FieldError]:
        if self.max is not None and self.min > self.max:
            return [FieldError("min", f"min replicas ({self.min}) cannot exceed max replicas ({self.max})")]
        return []


@attrs.define(kw_only=True)
class Canary:
    interval: str | None = field(None, doc="Time between steps, e.g. `1m`.", check=checks.duration,
                                 max_length=lim.SHORT)
    threshold: int | None = field(None, doc="Failed checks before rollback.", minimum=1)
    max_weight: int | None = field(None, doc="Maximum canary traffic percentage.", minimum=1, maximum=100)
    step_weight: int | None = field(None, doc="Traffic percentage added per step.", minimum=1, maximum=100)


@attrs.define(kw_only=True)
class DeploySpec:
    strategy: Strategy = field(Strategy.ROLLING, doc="`rolling` or `canary`.")
    canary: Canary | None = field(None, doc="Canary settings (strategy canary).")


@attrs.define(kw_only=True)
class IngressPath:
    path: str = field(doc="Path to match.", check=checks.http_path, max_length=lim.PATH)
    path_type: PathType = field(PathType.PATH_PREFIX, doc="`Exact` or `PathPrefix`.")


@attrs.define(kw_only=True)
class IssuerRef:
    name: str = field(doc="cert-manager issuer name.", max_length=lim.NAME)
    kind: str = field("ClusterIssuer", doc="`ClusterIssuer` or `Issuer`.", max_length=lim.SHORT)


@attrs.define(kw_only=True)
class IngressTls:
    mode: TlsMode = field(TlsMode.AUTO, doc="`auto` (cert-manager) or `manual` (bring a Secret).")
    secret_name: str | None = field(None, doc="TLS Secret (manual mode; auto mode default `<svc>-tls`).",
                                    check=checks.dns_subdomain, max_length=lim.NAME)
    issuer_ref: IssuerRef | None = field(None, doc="cert-manager issuer (auto mode).")

    def _validate(self) -> list[FieldError]:
        if self.mode is TlsMode.MANUAL and not self.secret_name:
            return [FieldError("secretName", "required when mode is 'manual'")]
        if self.mode is TlsMode.AUTO and self.issuer_ref is None:
            return [FieldError("issuerRef", "required when mode is 'auto' (cert-manager needs an issuer)")]
        return []


@attrs.define(kw_only=True)
class IngressSpec:
    """External exposure through Gateway API."""

    hosts: list[str] = field(doc="Hostnames.", min_items=1, check=checks.each(checks.hostname),
                             max_items=lim.HOSTS, max_length=lim.NAME)
    paths: list[IngressPath] = field(factory=list, doc="Paths (default: `PathPrefix /`).", max_items=lim.ROUTE_PATHS)
    tls: IngressTls | None = field(None, doc="TLS settings.")
    rate_limit: IngressRateLimit | None = field(None, doc="Per-client request rate limit at the gateway.")
    gateway_class: str = field("eg", doc="GatewayClass name (Envoy Gateway by default).", max_length=lim.NAME)


@attrs.define(kw_only=True)
class LatticeServiceSpec:
    containers: dict[str, ContainerSpec] = field(
        doc="Containers keyed by name (at least one).", min_items=1, check=checks.each_key(checks.dns_label),
        max_items=lim.CONTAINERS, max_key_length=lim.DNS_LABEL,
    )
    resources: dict[str, ResourceSpec] = field(factory=dict, doc="Dependencies keyed by name.",
                                               max_items=lim.RESOURCES, max_key_length=lim.NAME)
    service: ServiceSpec | None = field(None, doc="Exposed ports.")
    replicas: Replicas = field(factory=Replicas, doc="Replica range.")
    deploy: DeploySpec = field(factory=DeploySpec, doc="Rollout strategy.")
    ingress: IngressSpec | None = field(None, doc="External exposure.")
    sidecars: dict[str, SidecarSpec] = field(
        factory=dict, doc="Sidecar and init containers.", check=checks.each_key(checks.dns_label),
        max_items=lim.CONTAINERS, max_key_length=lim.DNS_LABEL,
    )
    workload_metadata: dict[str, Any] = field(
        factory=dict, free_form=True,
        doc="Score workload `metadata` keys other than `name` and `annotations` (free-form), readable as "
        "`${metadata.<key>...}`. The workload's annotations are the object's own `metadata.annotations`.")
    sysctls: dict[str, str] = field(factory=dict, doc="Pod sysctls.", max_items=lim.SYSCTLS,
                                    max_key_length=lim.SHORT, max_length=lim.SHORT)
    host_network: bool | None = field(None, doc="Use the node's network namespace.")
    share_process_namespace: bool | None = field(None, doc="Share one PID namespace across containers.")

    def _validate(self) -> list[FieldError]:
        errs: list[FieldError] = []
        clash = sorted(set(self.containers) & set(self.sidecars))
        errs += [FieldError(f"sidecars.{n}", "name already used by a container") for n in clash]
        if self.ingress is not None and (self.service is None or not self.service.ports):
            errs.append(FieldError("ingress", "requires service.ports (the route needs a backend port)"))
        references = self.template_references()
        if references > lim.TEMPLATE_REFERENCES:
            errs.append(FieldError("", f"has {references:,} `${{...}}` references in its variables and files; "
                                       f"at most {lim.TEMPLATE_REFERENCES:,} are allowed"))
        return errs

    def template_references(self) -> int:
        """How many `${` the expanded texts hold (an upper bound of the references: escapes count)."""
        count = 0
        for c in [*self.containers.values(), *self.sidecars.values()]:
            count += sum(v.count("${") for v in c.variables.values())
            count += sum((f.content or "").count("${") for f in c.files.values())
        return count


@attrs.define(kw_only=True)
class ResolvedDependency:
    """An agreed (bilateral) edge."""

    resource: str = field(doc="The resource key declaring it.")
    kind: str = field(doc="`LatticeService` or `LatticeExternalService`.")
    name: str = field(doc="Peer name.")
    namespace: str = field(doc="Peer namespace.")
    direction: Direction = field(doc="`outbound` (we call it) or `inbound` (it calls us).")


@attrs.define(kw_only=True)
class OneSidedDeclaration:
    """A declaration the peer has not matched: no traffic flows until the peer adds `fix`."""

    resource: str = field(doc="Our resource key declaring it.")
    direction: Direction = field(doc="`outbound` (we call the peer) or `inbound` (we accept the peer).")
    kind: str = field(doc="`LatticeService` or `LatticeExternalService`.")
    name: str = field(doc="Peer name.")
    namespace: str = field(doc="Peer namespace.")
    missing: str = field(doc="What the peer lacks, in words.")
    fix: str = field(doc="The YAML the peer must add (under its `spec`).")


@attrs.define(kw_only=True)
class LatticeServiceStatus:
    phase: ServicePhase = field(ServicePhase.PENDING, doc="Pending, Compiling, Ready or Failed.")
    message: str | None = field(None, doc="Why the service is in this phase.")
    conditions: list[Condition] = field(factory=list, doc="Conditions (Ready).")
    last_compiled_at: str | None = field(None, doc="When the children were last generated.")
    observed_generation: int | None = field(None, doc="Generation last acted on.")
    resolved_dependencies: list[ResolvedDependency] = field(factory=list, doc="Agreed edges.")
    one_sided: list[OneSidedDeclaration] = field(
        factory=list, doc="Declarations the peer has not matched (also the `MeshAgreed` condition).")


@attrs.define(kw_only=True)
class LatticeService(LatticeObject):
    """A workload with its dependencies, compiled into locked-down Kubernetes objects."""

    __crd__: ClassVar[CrdInfo] = CrdInfo(
        kind="LatticeService",
        plural="latticeservices",
        singular="latticeservice",
        short_names=("ls",),
        namespaced=True,
        columns=(
            PrinterColumn("Phase", ".status.phase"),
            PrinterColumn("Strategy", ".spec.deploy.strategy"),
            PrinterColumn("Mesh", '.status.conditions[?(@.type=="MeshAgreed")].reason',
                          description="AllAgreed, or OneSided when a declaration is not matched by its peer."),
            PrinterColumn("Message", ".status.message", description="Why the service is in this phase."),
        ),
        doc="A workload with its dependencies, compiled into locked-down Kubernetes objects.",
    )

    spec: LatticeServiceSpec = field(doc="Desired state.")
    api_version: str = field("lattice.dev/v1alpha1")
    kind: str = field("LatticeService")
    metadata: ObjectMeta = field(factory=ObjectMeta)
    status: LatticeServiceStatus | None = field(None, doc="Observed state.")
