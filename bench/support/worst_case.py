"""The largest LatticeService the limits allow (crds/limits.py), built to cost the most to compile.

Every count at its limit where the 1 MiB spec leaves room: 16 containers and 16 sidecars, 256
resources (224 outbound services and 32 volumes), 4,096 template references spread over the
variables (each expanding to a service URL), files, 64 ports, 64 ingress hosts and paths, 64
sysctls; the rest of the spec budget is padding of `$$` escapes in variable values, so the JSON
is just under ``MAX_SPEC_BYTES``. Shared by bench/hook_worst_case.py and the tests that check it is valid.
"""

from __future__ import annotations

from typing import Any

import orjson

from crds import limits

SERVICES = limits.RESOURCES - 32
VOLUMES = 32


def worst_case_service(name: str = "worst", namespace: str = "bench", resource_version: str = "1") -> dict[str, Any]:
    containers = limits.CONTAINERS * 2  # main containers and sidecars
    files = 4  # each with one reference
    refs_per_container = limits.TEMPLATE_REFERENCES // containers - files
    resources: dict[str, Any] = {f"peer-{i:03d}": {"type": "service", "direction": "outbound"}
                                 for i in range(SERVICES)}
    resources |= {f"data-{i:02d}": {"type": "volume", "params": {"size": "1Gi"}} for i in range(VOLUMES)}

    def container(c: int, pad: int) -> dict[str, Any]:
        # Padding of `$$` escapes: each costs the scan and the env escaping more than plain text.
        variables = {f"PEER_{v:03d}": f"${{resources.peer-{(c * refs_per_container + v) % SERVICES:03d}.url}}/"
                     + "$$" * (pad // 2) for v in range(refs_per_container)}
        return {
            "image": f"registry.example.com/bench/app-{c}:1.0.0",
            "args": ["--flag"] * 8,
            "variables": variables,
            "files": {f"/etc/app/conf-{f}.yaml": {"content": f"name: ${{metadata.name}}\nindex: {f}\n"}
                      for f in range(files)},
            "volumes": {f"/data/{v}": {"source": f"${{resources.data-{(c + v) % VOLUMES:02d}}}"} for v in range(2)},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        }

    def spec(pad: int) -> dict[str, Any]:
        mains = {f"main-{c:02d}": container(c, pad) for c in range(limits.CONTAINERS)}
        sidecars = {f"side-{c:02d}": container(limits.CONTAINERS + c, pad) for c in range(limits.CONTAINERS)}
        return {
            "containers": mains,
            "sidecars": sidecars,
            "resources": resources,
            "service": {"ports": {f"p-{i:02d}": {"port": 8000 + i} for i in range(limits.PORTS)}},
            "replicas": {"min": 2, "max": 10},
            "ingress": {
                "hosts": [f"h{i:02d}.bench.example.com" for i in range(limits.HOSTS)],
                "paths": [{"path": f"/api/v{i}"} for i in range(limits.ROUTE_PATHS)],
                "tls": {"mode": "auto", "issuerRef": {"name": "letsencrypt"}},
            },
            "sysctls": {f"net.ipv4.conf.k{i}": "1" for i in range(limits.SYSCTLS)},
        }

    low, high = 0, limits.VARIABLE_VALUE // 2  # the largest padding that keeps the spec within the limit
    while low < high:
        mid = (low + high + 1) // 2
        if len(orjson.dumps(spec(mid))) <= limits.MAX_SPEC_BYTES:
            low = mid
        else:
            high = mid - 1
    return {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1,
                     "resourceVersion": resource_version},
        "spec": spec(low),
    }


def peers(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Every service the worst case calls, each accepting it: the mesh compiles every edge."""
    ns, name = service["metadata"]["namespace"], service["metadata"]["name"]
    return [{
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
        "metadata": {"name": f"peer-{i:03d}", "namespace": ns, "uid": f"uid-peer-{i}", "generation": 1,
                     "resourceVersion": "1"},
        "spec": {"containers": {"main": {"image": "registry.example.com/bench/peer:1"}},
                 "service": {"ports": {"http": {"port": 8080}}},
                 "resources": {name: {"type": "service", "direction": "inbound"}}},
    } for i in range(SERVICES)]


def sync_body(service: dict[str, Any], related: list[dict[str, Any]]) -> bytes:
    """A Metacontroller v2 sync request for ``service`` with ``related`` LatticeServices."""
    group = "LatticeService.lattice.dev/v1alpha1"
    objects = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in related}
    return orjson.dumps({"parent": service, "children": {}, "related": {group: objects} if objects else {}})
