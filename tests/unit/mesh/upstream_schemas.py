"""Validate generated objects against the upstream CRDs the mesh compilers generate (Cilium, Istio,
Gateway API, cert-manager, Envoy Gateway) with the shared offline check of
``tests/unit/upstream_crds.py``: the OpenAPI schema after defaulting, plus every field the apiserver
would silently prune.

The CRD files come from ``testbed/crds.sh`` (the Go module cache; both Gateway API channels, the
experimental one winning, and Envoy Gateway's BackendTrafficPolicy). A kind without a schema fails
the calling test.
"""

from __future__ import annotations

import functools
from typing import Any

from tests.unit.upstream_crds import SchemaIndex, crds_sh

# The CRD files holding the kinds the mesh compilers generate.
_WANTED = ("ciliumnetworkpolicies", "customresourcedefinitions.gen", "httproutes", "_gateways.",
           "cert-manager.io_certificates.", "backendtrafficpolicies")


@functools.cache
def index() -> SchemaIndex:
    paths = [p for channel in ("standard", "experimental")
             for p in crds_sh(env={"LATTICE_GATEWAY_API_CHANNEL": channel})]
    return SchemaIndex.from_files(p for p in paths if any(part in p.name for part in _WANTED))


def errors(obj: dict[str, Any]) -> list[str]:
    return index().errors(obj)


def assert_valid(obj: dict[str, Any]) -> None:
    index().assert_valid(obj)
