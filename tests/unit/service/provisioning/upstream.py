"""The upstream schemas of every kind a provisioner makes: Kubernetes' own (kubernetes-validate, strict)
and External Secrets' ExternalSecret and Password generator (the CRDs testbed/crds.sh lists)."""

from __future__ import annotations

import functools
from typing import Any

from tests.unit.service.support import assert_valid_k8s
from tests.unit.upstream_crds import SchemaIndex, crds_sh


@functools.cache
def eso() -> SchemaIndex:
    return SchemaIndex.from_files(p for p in crds_sh() if "external-secrets" in str(p))


def assert_valid(obj: dict[str, Any]) -> None:
    if obj["apiVersion"] in ("v1", "apps/v1"):
        assert_valid_k8s(obj)
    else:
        eso().assert_valid(obj)
