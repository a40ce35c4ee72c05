"""Provider-specific settings of a LatticeCluster (`spec.provider.config.<provider>`)."""

import ipaddress
import re

import attrs

from crds import checks
from crds._base import FieldError, StrEnum, field

_DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")


class AwsLoadBalancerType(StrEnum):
    NLB = "nlb"
    ELB = "elb"
    ALB = "alb"
    CLASSIC = "classic"


@attrs.define(kw_only=True)
class AwsConfig:
    region: str = field(doc="AWS region.")
    cp_instance_type: str = field(doc="Control-plane instance type.")
    worker_instance_type: str = field(doc="Worker instance type.")
    ssh_key_name: str = field(doc="EC2 key pair name.")
    cp_iam_instance_profile: str = field("control-plane.cluster-api-provider-aws.sigs.k8s.io",
                                         doc="Control-plane instance profile.")
    worker_iam_instance_profile: str = field("nodes.cluster-api-provider-aws.sigs.k8s.io",
                                             doc="Worker instance profile.")
    vpc_id: str | None = field(None, doc="Bring your own VPC.")
    subnet_ids: list[str] = field(factory=list, doc="Subnets of the VPC.")
    load_balancer_type: AwsLoadBalancerType = field(AwsLoadBalancerType.NLB, doc="API server load balancer type.")
    internal_load_balancer: bool = field(False, doc="Internal (not internet-facing) load balancer.")
    cp_root_volume_size_gb: int = field(80, doc="Control-plane root volume (GiB).", minimum=8)
    worker_root_volume_size_gb: int = field(80, doc="Worker root volume (GiB).", minimum=8)
    cp_root_volume_type: str = field("gp3", doc="Control-plane root volume type.")
    worker_root_volume_type: str = field("gp3", doc="Worker root volume type.")
    ami_id: str | None = field(None, doc="Machine image.")
    ssh_authorized_keys: list[str] = field(factory=list, doc="Extra SSH keys for root.")

    def _validate(self) -> list[FieldError]:
        if self.subnet_ids and not self.vpc_id:
            return [FieldError("subnetIds", "requires vpcId")]
        return []


class DockerBackend(StrEnum):
    DOCKER = "docker"
    IN_MEMORY = "inMemory"


@attrs.define(kw_only=True)
class DockerConfig:
    """Development clusters (CAPD `DevCluster`): real Docker containers, or Cluster API's in-memory backend."""

    backend: DockerBackend = field(
        DockerBackend.DOCKER,
        doc="`docker`: nodes are containers on the management host's Docker. `inMemory`: Cluster API's "
            "in-memory backend simulates machines and a partial workload API server (CI, `lattice dev up`; "
            "kubeadm only, nothing runs on the simulated nodes).",
    )


@attrs.define(kw_only=True)
class OpenStackConfig:
    external_network: str = field(doc="External network name.")
    cp_flavor: str = field(doc="Control-plane flavor.")
    worker_flavor: str = field(doc="Worker flavor.")
    image_name: str = field(doc="Image name.")
    ssh_key_name: str = field(doc="Key pair name.")
    cloud_name: str = field("openstack", doc="Entry in clouds.yaml.")
    dns_nameservers: list[str] = field(factory=lambda: list(_DEFAULT_DNS), doc="Subnet DNS servers.",
                                       check=checks.each(checks.ip_address))
    node_cidr: str = field("10.6.0.0/24", doc="Node subnet.", check=checks.cidr)
    api_server_load_balancer_flavor: str | None = field(None, doc="Octavia flavor.")
    managed_security_groups: bool = field(True, doc="Let CAPO manage security groups.")
    allow_all_in_cluster_traffic: bool | None = field(None, doc="Open in-cluster traffic.")
    cp_availability_zone: str | None = field(None, doc="Control-plane AZ.")
    worker_availability_zone: str | None = field(None, doc="Worker AZ.")
    cp_root_volume_size_gb: int | None = field(None, doc="Control-plane root volume (GiB).", minimum=1)
    cp_root_volume_type: str | None = field(None, doc="Control-plane root volume type.")
    worker_root_volume_size_gb: int | None = field(None, doc="Worker root volume (GiB).", minimum=1)
    worker_root_volume_type: str | None = field(None, doc="Worker root volume type.")
    ssh_authorized_keys: list[str] = field(factory=list, doc="Extra SSH keys for root.")

    def _validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        for role in ("cp", "worker"):
            vtype, size = getattr(self, f"{role}_root_volume_type"), getattr(self, f"{role}_root_volume_size_gb")
            if vtype is not None and size is None:
                message = f"requires {role}RootVolumeSizeGb (a root volume is only created with a size)"
                errors.append(FieldError(f"{role}RootVolumeType", message))
        return errors


_RANGE = re.compile(r"^(?P<start>\d+\.\d+\.\d+\.\d+)-(?P<end>\d+(\.\d+\.\d+\.\d+)?)/(?P<prefix>\d+)$")


def parse_ipv4_range(v: str) -> tuple[str, str, int] | None:
    """`10.0.0.101-102/24` or `10.0.0.101-10.0.0.120/24` → (start, end, prefix)."""
    m = _RANGE.match(v)
    if not m:
        return None
    start, end_text, prefix = m.group("start"), m.group("end"), int(m.group("prefix"))
    end = end_text if "." in end_text else ".".join([*start.split(".")[:3], end_text])
    try:
        a, b = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
    except ValueError:
        return None
    if b < a or not 1 <= prefix <= 32:
        return None
    return str(a), str(b), prefix


def _check_range(v: str) -> str | None:
    if parse_ipv4_range(v):
        return None
    return f"invalid IP range '{v}' (expected e.g. '10.0.0.101-120/24' or '10.0.0.101-10.0.0.120/24')"


@attrs.define(kw_only=True)
class IpPool:
    range: str = field(doc="Addresses, e.g. `10.0.0.101-120/24`.", check=_check_range)
    gateway: str = field(doc="Gateway address.", check=checks.ip_address)


def parse_ipv6_range(v: str) -> tuple[str, str, int] | None:
    """`2001:db8::10-2001:db8::20/64` → (start, end, prefix)."""
    addresses, _, prefix_text = v.partition("/")
    start_text, _, end_text = addresses.partition("-")
    try:
        a, b = ipaddress.IPv6Address(start_text), ipaddress.IPv6Address(end_text)
        prefix = int(prefix_text)
    except ValueError:
        return None
    if b < a or not 1 <= prefix <= 128:
        return None
    return str(a), str(b), prefix


def _check_range6(v: str) -> str | None:
    if parse_ipv6_range(v):
        return None
    return f"invalid IPv6 range '{v}' (expected e.g. '2001:db8::10-2001:db8::20/64')"


@attrs.define(kw_only=True)
class Ipv6Pool:
    range: str = field(doc="Addresses, e.g. `2001:db8::10-2001:db8::20/64`.", check=_check_range6)
    gateway: str = field(doc="Gateway address.", check=checks.ip_address)


@attrs.define(kw_only=True)
class ProxmoxConfig:
    control_plane_endpoint: str = field(doc="Virtual IP of the API server (kube-vip).", check=checks.ip_address)
    ipv4_pool: IpPool = field(doc="Node addresses.")
    cp_cores: int = field(doc="Control-plane cores.", minimum=1)
    cp_memory_mib: int = field(doc="Control-plane memory (MiB).", minimum=512)
    cp_disk_size_gb: int = field(doc="Control-plane disk (GB).", minimum=1)
    worker_cores: int = field(doc="Worker cores.", minimum=1)
    worker_memory_mib: int = field(doc="Worker memory (MiB).", minimum=512)
    worker_disk_size_gb: int = field(doc="Worker disk (GB).", minimum=1)
    source_node: str | None = field(None,
                                    doc="Node holding the template (default: the CloudProvider's `proxmox.node`).")
    template_id: int | None = field(None, minimum=100,
                                    doc="VM template id on `sourceNode` (default 9000 unless templateTags is set).")
    template_tags: list[str] = field(factory=list,
                                     doc="Select the template by tags instead of sourceNode + templateId.")
    snap_name: str | None = field(None, doc="Snapshot to clone from.")
    target_node: str | None = field(None, doc="Node to place VMs on.")
    pool: str | None = field(None, doc="Proxmox resource pool.")
    description: str | None = field(None, doc="VM description.")
    tags: list[str] = field(factory=list, doc="VM tags.")
    allowed_nodes: list[str] = field(factory=list, doc="Nodes VMs may be placed on.")
    dns_servers: list[str] = field(factory=lambda: list(_DEFAULT_DNS), doc="DNS servers.",
                                   check=checks.each(checks.ip_address))
    ssh_authorized_keys: list[str] = field(factory=list, doc="SSH keys for root.")
    virtual_ip_network_interface: str = field("ens18", doc="Interface kube-vip binds to.")
    kube_vip_image: str = field("ghcr.io/kube-vip/kube-vip:v0.8.0", doc="kube-vip image.", check=checks.image)
    ipv6_pool: Ipv6Pool | None = field(None, doc="IPv6 node addresses.")
    bridge: str = field("vmbr0", doc="Network bridge.")
    vlan: int | None = field(None, doc="VLAN tag.", minimum=1, maximum=4094)
    network_model: str = field("virtio", doc="NIC model.")
    memory_adjustment: int | None = field(None, doc="Scheduler memory adjustment (percent).", minimum=0)
    vmid_min: int | None = field(None, doc="Lowest VM id.", minimum=100)
    vmid_max: int | None = field(None, doc="Highest VM id.", minimum=100)
    skip_cloud_init_status: bool | None = field(None, doc="Skip the cloud-init status check.")
    skip_qemu_guest_agent: bool | None = field(None, doc="Skip the guest agent check.")
    cp_sockets: int = field(1, doc="Control-plane sockets.", minimum=1)
    worker_sockets: int = field(1, doc="Worker sockets.", minimum=1)

    def _validate(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.vmid_min is not None and self.vmid_max is not None and self.vmid_min > self.vmid_max:
            errors.append(FieldError("vmidMin", f"vmidMin ({self.vmid_min}) cannot exceed vmidMax ({self.vmid_max})"))
        if (self.vmid_min is None) != (self.vmid_max is None):
            errors.append(FieldError("vmidMin" if self.vmid_min is None else "vmidMax",
                                     "vmidMin and vmidMax must both be set or both unset"))
        if self.template_tags and self.template_id is not None:
            errors.append(FieldError("templateId", "templateId and templateTags are mutually exclusive"))
        if self.template_tags and self.source_node is not None:
            errors.append(FieldError("sourceNode", "sourceNode selects a template by id; with templateTags leave it "
                                                   "unset (the template is looked up by its tags)"))
        parsed = parse_ipv4_range(self.ipv4_pool.range)
        if parsed is not None and _in_range(self.control_plane_endpoint, parsed[0], parsed[1]):
            errors.append(FieldError("controlPlaneEndpoint",
                                     f"the virtual IP {self.control_plane_endpoint} must not be inside ipv4Pool.range "
                                     f"({parsed[0]}-{parsed[1]}): the pool hands its addresses to nodes"))
        return errors


def _in_range(address: str, start: str, end: str) -> bool:
    try:
        a = ipaddress.ip_address(address)
    except ValueError:
        return False
    return a.version == 4 and ipaddress.IPv4Address(start) <= a <= ipaddress.IPv4Address(end)


@attrs.define(kw_only=True)
class ProviderConfig:
    """Exactly one provider block."""

    aws: AwsConfig | None = field(None, doc="Amazon Web Services (CAPA).")
    docker: DockerConfig | None = field(None, doc="Docker (CAPD), for development and CI.")
    openstack: OpenStackConfig | None = field(None, doc="OpenStack (CAPO).")
    proxmox: ProxmoxConfig | None = field(None, doc="Proxmox (CAPMOX).")

    @property
    def provider_type(self) -> str:
        for name in ("aws", "docker", "openstack", "proxmox"):
            if getattr(self, name) is not None:
                return name
        return "docker"

    def _validate(self) -> list[FieldError]:
        given = [n for n in ("aws", "docker", "openstack", "proxmox") if getattr(self, n) is not None]
        if len(given) != 1:
            what = "none" if not given else ", ".join(given)
            return [FieldError("", f"exactly one of aws, docker, openstack, proxmox is required (got {what})")]
        return []
