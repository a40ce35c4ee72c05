"""Field checks and cross-field rules of every kind, table-driven."""

from typing import Any

import pytest

import crds
from crds import checks
from crds.cluster_providers import parse_ipv4_range
from crds.external_service import parse_endpoint


@pytest.mark.parametrize("v", ["100m", "1", "0.5", "2", "250m", ".5"])
def test_cpu_ok(v: str) -> None:
    assert checks.cpu_quantity(v) is None


@pytest.mark.parametrize("v", ["1.5m", "abc", "", "1 m", "-1", "1e3"])
def test_cpu_bad(v: str) -> None:
    assert checks.cpu_quantity(v) == f"invalid quantity '{v}' (expected e.g. '100m', '1', '0.5')"


@pytest.mark.parametrize("v", ["128974848", "129M", "123Mi", "1Gi", "1.5Gi", "1E", "2k"])
def test_memory_ok(v: str) -> None:
    assert checks.byte_quantity(v) is None


@pytest.mark.parametrize("v", ["abc", "128Xi", "", "1gb", "Gi"])
def test_memory_bad(v: str) -> None:
    assert checks.byte_quantity(v) is not None


@pytest.mark.parametrize(("mode", "ok"), [("0644", True), ("644", True), ("0600", True), ("0999", False),
                                          ("12", False), ("12345", False), ("rw", False)])
def test_file_mode(mode: str, ok: bool) -> None:
    assert (checks.file_mode(mode) is None) is ok


_TYPE_FORM = "(expected 2-63 letters, digits and '-', starting and ending with a letter or digit, e.g. 'postgres')"


# Score's pattern: any case (the spec's own samples use `Resource-One`), digits first allowed.
@pytest.mark.parametrize(("t", "message"), [
    ("service", None), ("external-service", None), ("volume", None), ("secret", None), ("postgres", None),
    ("Resource-One", None), ("123db", None), ("kafka-topic", None),
    ("my-db-", f"invalid resource type 'my-db-' {_TYPE_FORM}"),
    ("postgres!", f"invalid resource type 'postgres!' {_TYPE_FORM}"),
    ("p", f"invalid resource type 'p' {_TYPE_FORM}"),
    ("", f"invalid resource type '' {_TYPE_FORM}"),
    ("my_db", f"invalid resource type 'my_db' {_TYPE_FORM}"),
])
def test_resource_type(t: str, message: str | None) -> None:
    assert checks.resource_type(t) == message


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.stripe.com", ("https", "api.stripe.com", 443, "https://api.stripe.com")),
    ("http://example.com/path", ("http", "example.com", 80, "http://example.com/path")),
    ("https://api.stripe.com:8443", ("https", "api.stripe.com", 8443, "https://api.stripe.com:8443")),
    ("https://user:pw@host.example:443/x", ("https", "host.example", 443, "https://host.example:443")),
    ("https://[::1]:8443", ("https", "::1", 8443, "https://[::1]:8443")),
    ("tcp://db.example.com:5432", ("tcp", "db.example.com", 5432, "tcp://db.example.com:5432")),
    ("grpc://svc.example.com:443", ("grpc", "svc.example.com", 443, "grpc://svc.example.com:443")),
    ("db.example.com:5432", ("tcp", "db.example.com", 5432, "tcp://db.example.com:5432")),
    ("10.0.0.1:6379", ("tcp", "10.0.0.1", 6379, "tcp://10.0.0.1:6379")),
])
def test_endpoint_ok(url: str, expected: tuple[str, str, int, str]) -> None:
    ep = parse_endpoint(url)
    assert ep is not None
    assert (ep.protocol, ep.host, ep.port, ep.url) == expected


@pytest.mark.parametrize("url", ["tcp://db.example.com", "tcp://[::1]", "tcp://[]:8080", "tcp://[::1:80",
                                 "https://", "host:0", "host:70000", "ftp://x:21", "", "::1:80"])
def test_endpoint_bad(url: str) -> None:
    assert parse_endpoint(url) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.101-102/24", ("10.0.0.101", "10.0.0.102", 24)),
    ("10.0.0.101-10.0.0.120/24", ("10.0.0.101", "10.0.0.120", 24)),
    ("10.0.0.120-101/24", None), ("10.0.0.1/24", None), ("bogus", None),
])
def test_ipv4_range(text: str, expected: tuple[str, str, int] | None) -> None:
    assert parse_ipv4_range(text) == expected


def _cluster(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "providerRef": "docker",
        "provider": {"kubernetes": {"version": "1.32.0"}, "config": {"docker": {}}},
        "nodes": {"controlPlane": 1},
    }
    base.update(spec)
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "metadata": {"name": "c"}, "spec": base}


@pytest.mark.parametrize(("spec", "errors"), [
    ({"nodes": {"controlPlane": 2}}, ["spec.nodes.controlPlane: must be odd for etcd quorum (got 2)"]),
    ({"nodes": {"controlPlane": 0}}, ["spec.nodes.controlPlane: must be >= 1, got 0"]),
    ({"nodes": {"controlPlane": 1, "workerPools": {"GPU": {"replicas": 1}}}},
     ["spec.nodes.workerPools: invalid worker pool id 'GPU' (expected to start with a lowercase letter, "
      "contain only [a-z0-9-] and not end with '-')"]),
    ({"nodes": {"controlPlane": 1, "workerPools": {"gpu": {"replicas": 1, "min": 3, "max": 2}}}},
     ["spec.nodes.workerPools.gpu.min: min (3) cannot exceed max (2)"]),
    ({"nodes": {"controlPlane": 1, "workerPools": {"gpu": {"replicas": 1, "min": 0, "max": 2}}}},
     ["spec.nodes.workerPools.gpu.min: scale-from-zero not supported (min must be >= 1)"]),
    ({"nodes": {"controlPlane": 1, "workerPools": {"gpu": {"replicas": 1, "min": 1}}}},
     ["spec.nodes.workerPools.gpu.max: min and max must both be set or both unset"]),
    ({"provider": {"kubernetes": {"version": "latest"}, "config": {}}},
     ["spec.provider.kubernetes.version: invalid Kubernetes version 'latest' "
      "(expected a release like '1.32.0' or 'v1.32.0')",
      "spec.provider.config: exactly one of aws, docker, openstack, proxmox is required (got none)"]),
    ({"provider": {"kubernetes": {"version": "v1.32.0"}, "config": {"docker": {}, "aws": {
        "region": "r", "cpInstanceType": "a", "workerInstanceType": "b", "sshKeyName": "k"}}}},
     ["spec.provider.config: exactly one of aws, docker, openstack, proxmox is required (got aws, docker)"]),
])
def test_cluster_rules(spec: dict[str, Any], errors: list[str]) -> None:
    assert sorted(str(e) for e in crds.parse(_cluster(**spec)).errors) == sorted(errors)


def test_proxmox_range_error_names_format() -> None:
    doc = _cluster(provider={"kubernetes": {"version": "1.32.0"}, "config": {"proxmox": {
        "controlPlaneEndpoint": "10.0.0.100", "ipv4Pool": {"range": "10.0.0.101", "gateway": "10.0.0.1"},
        "cpCores": 2, "cpMemoryMib": 4096, "cpDiskSizeGb": 20, "workerCores": 2, "workerMemoryMib": 4096,
        "workerDiskSizeGb": 20}}})
    assert [str(e) for e in crds.parse(doc).errors] == [
        "spec.provider.config.proxmox.ipv4Pool.range: invalid IP range '10.0.0.101' "
        "(expected e.g. '10.0.0.101-120/24' or '10.0.0.101-10.0.0.120/24')"
    ]


@pytest.mark.parametrize(("auth", "errors"), [
    ("token", ["spec.credentialsSecretRef: required for authMethod 'token' (a Secret with key 'token')"]),
    ("appRole", ["spec.credentialsSecretRef: required for authMethod 'appRole' "
                 "(a Secret with keys 'role_id' and 'secret_id')"]),
    ("kubernetes", []),
])
def test_secrets_provider_auth(auth: str, errors: list[str]) -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "SecretsProvider", "metadata": {"name": "v"},
           "spec": {"server": "https://vault:8200", "authMethod": auth}}
    assert [str(e) for e in crds.parse(doc).errors] == errors


def test_duplicate_service_ports() -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService", "metadata": {"name": "x"},
           "spec": {"containers": {"main": {"image": "nginx"}},
                    "service": {"ports": {"http": {"port": 80}, "web": {"port": 80}}}}}
    assert [str(e) for e in crds.parse(doc).errors] == [
        "spec.service.ports.web.port: duplicate service port number 80 (also used by 'http')"
    ]


def test_external_endpoint_errors() -> None:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeExternalService", "metadata": {"name": "x"},
           "spec": {"endpoints": {}}}
    assert [str(e) for e in crds.parse(doc).errors] == ["spec.endpoints: must have at least 1 entry"]
    doc["spec"]["endpoints"] = {"db": "tcp://db.example.com"}
    assert [str(e) for e in crds.parse(doc).errors] == [
        "spec.endpoints: invalid endpoint URL for 'db': 'tcp://db.example.com' (expected e.g. "
        "'https://api.stripe.com', 'tcp://db.example.com:5432', 'grpc://host:443' or 'host:port')"
    ]


def _proxmox(**extra: Any) -> dict[str, Any]:
    cfg = {"controlPlaneEndpoint": "10.0.0.100", "ipv4Pool": {"range": "10.0.0.101-120/24", "gateway": "10.0.0.1"},
           "cpCores": 2, "cpMemoryMib": 4096, "cpDiskSizeGb": 20, "workerCores": 2, "workerMemoryMib": 4096,
           "workerDiskSizeGb": 20, **extra}
    return _cluster(provider={"kubernetes": {"version": "1.32.0"}, "config": {"proxmox": cfg}})


@pytest.mark.parametrize(("extra", "errors"), [
    ({"controlPlaneEndpoint": "10.0.0.110"},
     ["spec.provider.config.proxmox.controlPlaneEndpoint: the virtual IP 10.0.0.110 must not be inside "
      "ipv4Pool.range (10.0.0.101-10.0.0.120): the pool hands its addresses to nodes"]),
    ({"templateTags": ["a"], "templateId": 9000, "sourceNode": "pve1"},
     ["spec.provider.config.proxmox.templateId: templateId and templateTags are mutually exclusive",
      "spec.provider.config.proxmox.sourceNode: sourceNode selects a template by id; with templateTags leave it "
      "unset (the template is looked up by its tags)"]),
    ({"vmidMin": 200}, ["spec.provider.config.proxmox.vmidMax: vmidMin and vmidMax must both be set or both unset"]),
    ({"ipv6Pool": {"range": "2001:db8::20-2001:db8::10/64", "gateway": "2001:db8::1"}},
     ["spec.provider.config.proxmox.ipv6Pool.range: invalid IPv6 range '2001:db8::20-2001:db8::10/64' "
      "(expected e.g. '2001:db8::10-2001:db8::20/64')"]),
])
def test_proxmox_rules(extra: dict[str, Any], errors: list[str]) -> None:
    assert [str(e) for e in crds.parse(_proxmox(**extra)).errors] == errors


def test_openstack_volume_type_needs_a_size() -> None:
    doc = _cluster(provider={"kubernetes": {"version": "1.32.0"}, "config": {"openstack": {
        "externalNetwork": "public", "cpFlavor": "a", "workerFlavor": "b", "imageName": "i", "sshKeyName": "k",
        "workerRootVolumeType": "ssd"}}})
    assert [str(e) for e in crds.parse(doc).errors] == [
        "spec.provider.config.openstack.workerRootVolumeType: requires workerRootVolumeSizeGb (a root volume is only "
        "created with a size)"]


def test_autoscaled_pool_needs_no_replicas() -> None:
    doc = _cluster(nodes={"controlPlane": 1, "workerPools": {"gpu": {"min": 1, "max": 3}}})
    assert crds.parse(doc).ok


def test_a_file_source_is_refused_in_the_cluster_with_what_to_do() -> None:
    from crds import parse_as
    from crds.service import FileMount

    _, errors = parse_as(FileMount, {"source": "config.yaml"})
    assert [str(e) for e in errors] == [
        "source: 'config.yaml' is a path to a file next to the Score file, which does not exist in the cluster: "
        "inline it as content (or binaryContent); `lattice render -f` and `lattice import score` do that for you"]
