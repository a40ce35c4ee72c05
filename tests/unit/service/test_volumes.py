"""hooks.service.volumes: owned and shared claims, mounts, RWO co-location."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.service.volumes import plan_volumes

from .support import assert_valid_k8s, gateway_ctx, main, make_ctx


def _owner(volume_id: str, mode: str, name: str = "owner") -> dict[str, Any]:
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"containers": {"main": {"image": "x"}},
                     "resources": {"media": {"type": "volume", "id": volume_id,
                                             "params": {"size": "1Gi", "accessMode": mode}}}}}


def test_gateway_volumes() -> None:
    plan = plan_volumes(gateway_ctx())
    assert plan.errors == []
    (pvc,) = plan.claims
    assert pvc == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "api-gateway-local-cache", "namespace": "platform",
                     "labels": {"app.kubernetes.io/name": "api-gateway-local-cache",
                                "app.kubernetes.io/managed-by": "lattice"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                 "storageClassName": "fast-ssd"},
    }
    assert_valid_k8s(pvc)
    assert plan.pod_volumes == [
        {"name": "vol-local-cache", "persistentVolumeClaim": {"claimName": "api-gateway-local-cache"}},
        {"name": "vol-shared-assets", "persistentVolumeClaim": {"claimName": "vol-shared-assets"}},
    ]
    assert plan.mounts == {"main": [
        {"name": "vol-local-cache", "mountPath": "/data/cache"},
        {"name": "vol-shared-assets", "mountPath": "/data/shared", "subPath": "api", "readOnly": True},
    ]}
    assert plan.affinity is None  # the owner (asset-store) declares ReadWriteMany
    assert plan.pod_labels == {}


def test_owner_with_id_labels_its_pods_and_owns_the_shared_claim() -> None:
    spec = main({"resources": {"media": {"type": "volume", "id": "media", "params": {"size": "5Gi"}}}},
                volumes={"/media": {"source": "${resources.media}"}})
    plan = plan_volumes(make_ctx(spec))
    assert [c["metadata"]["name"] for c in plan.claims] == ["vol-media"]
    assert plan.pod_labels == {"lattice.dev/volume-owner-media": "true"}
    assert plan.affinity is None


def test_shared_claim_name_is_the_same_across_services() -> None:
    ref = main({"resources": {"m": {"type": "volume", "id": "media"}}}, volumes={"/m": {"source": "${resources.m}"}})
    a = plan_volumes(make_ctx(ref, name="a"))
    b = plan_volumes(make_ctx(ref, name="b"))
    owner = plan_volumes(make_ctx(_owner("media", "ReadWriteMany")["spec"], name="owner"))
    assert a.pod_volumes == b.pod_volumes == [{"name": "vol-m", "persistentVolumeClaim": {"claimName": "vol-media"}}]
    assert owner.claims[0]["metadata"]["name"] == "vol-media"
    assert a.claims == b.claims == []


RWO_AFFINITY = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
    "labelSelector": {"matchLabels": {"lattice.dev/volume-owner-media": "true"}},
    "topologyKey": "kubernetes.io/hostname",
    "namespaces": ["shop"],
}]}}


@pytest.mark.parametrize(("declared", "owner_mode", "expected"), [
    pytest.param(None, None, RWO_AFFINITY, id="default-rwo-owner-unknown"),
    pytest.param("ReadWriteMany", None, None, id="declared-rwx-owner-unknown"),
    pytest.param("ReadWriteMany", "ReadWriteOnce", RWO_AFFINITY, id="owner-rwo-wins"),
    pytest.param(None, "ReadWriteMany", None, id="owner-rwx-wins"),
])
def test_rwo_sharing_requires_affinity_to_the_owner(declared: str | None, owner_mode: str | None,
                                                    expected: dict[str, Any] | None) -> None:
    params = {"accessMode": declared} if declared else {}
    spec = main({"resources": {"m": {"type": "volume", "id": "media", "params": params}}},
                volumes={"/m": {"source": "${resources.m}"}})
    services = [_owner("media", owner_mode)] if owner_mode else []
    assert plan_volumes(make_ctx(spec, services=services)).affinity == expected


def test_unmounted_volumes_get_no_pod_volume_but_owned_claims_exist() -> None:
    spec = main({"resources": {"cache": {"type": "volume", "params": {"size": "1Gi"}},
                               "other": {"type": "volume", "id": "x"}}})
    plan = plan_volumes(make_ctx(spec))
    assert [c["metadata"]["name"] for c in plan.claims] == ["api-cache"]
    assert plan.pod_volumes == []
    assert plan.affinity is None


def test_sidecars_mount_too() -> None:
    spec = main({"resources": {"cache": {"type": "volume", "params": {"size": "1Gi"}}},
                 "sidecars": {"backup": {"image": "b", "volumes": {"/c": {"source": "${resources.cache}",
                                                                          "readOnly": False}}}}})
    assert plan_volumes(make_ctx(spec)).mounts["backup"] == [
        {"name": "vol-cache", "mountPath": "/c", "readOnly": False}]


@pytest.mark.parametrize(("source", "message"), [
    ("/data", "expected '${resources.<name>}' naming a volume resource, got '/data'"),
    ("${resources.cache.claim_name}", "expected '${resources.<name>}' naming a volume resource, got "
                                      "'${resources.cache.claim_name}'"),
    ("${metadata.name}", "expected '${resources.<name>}' naming a volume resource, got '${metadata.name}'"),
    ("${resources.nope}", "unknown reference '${resources.nope}': no resource 'nope' is declared in spec.resources"),
    ("${resources.db}", "'${resources.db}' names resource 'db' of type 'service', expected type 'volume'"),
])
def test_source_errors(source: str, message: str) -> None:
    spec = main({"resources": {"cache": {"type": "volume", "params": {"size": "1Gi"}}, "db": {"type": "service"}}},
                volumes={"/data": {"source": source}})
    (error,) = plan_volumes(make_ctx(spec)).errors
    assert str(error) == f"spec.containers.main.volumes./data.source: {message}"
