"""The Metacontroller objects: generated from the controller definitions, in sync with manifests/."""

from __future__ import annotations

from pathlib import Path

import yaml

from hooks.controllers import CONTROLLERS
from hooks.controllers.definition import Composite
from hooks.controllers_manifest import IN_CLUSTER_URL, controller_objects, stale_files

ROOT = Path(__file__).resolve().parents[3]


def test_manifests_are_up_to_date() -> None:
    stale = [str(p.relative_to(ROOT)) for p in stale_files()]
    assert stale == [], "run: .venv/bin/python -m hooks.controllers_manifest"


def test_kustomization_includes_the_crds_base() -> None:
    kustomization = yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())
    assert "../crds" in kustomization["resources"]
    assert "metacontroller-controllers.yaml" in kustomization["resources"]
    crds_base = yaml.safe_load((ROOT / "crds" / "Kustomization").read_text())
    assert sorted(crds_base["resources"]) == sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))


def test_every_hook_is_v2_at_the_given_url() -> None:
    objs = controller_objects("http://127.0.0.1:8123")
    assert len(objs) == len(CONTROLLERS)
    for obj, controller in zip(objs, CONTROLLERS, strict=True):
        assert obj["metadata"]["name"] == f"lattice-{controller.name}"
        hooks = obj["spec"]["hooks"]
        assert set(hooks) >= {"sync"}
        assert ("customize" in hooks) == (controller.customize is not None)
        for hook, spec in hooks.items():
            assert spec["version"] == "v2"
            assert spec["webhook"]["url"] == f"http://127.0.0.1:8123/hooks/{controller.name}/{hook}"


def test_composites_generate_selectors_and_ignore_their_own_status() -> None:
    for obj in controller_objects(IN_CLUSTER_URL):
        if obj["kind"] != "CompositeController":
            continue
        spec = obj["spec"]
        assert spec["generateSelector"] is True
        assert spec["parentResource"]["ignoreStatusChanges"] is True
        assert spec["resyncPeriodSeconds"] > 0
        for child in spec["childResources"]:
            assert child["updateStrategy"]["method"] in ("InPlace", "OnDelete", "Recreate")


def test_claims_are_never_updated_in_place() -> None:
    (service,) = [c for c in CONTROLLERS if isinstance(c, Composite) and c.name == "latticeservice"]
    methods = {r.kind.kind: r.update for r in service.children}
    assert methods["PersistentVolumeClaim"] == "OnDelete"
    assert methods["AuthorizationPolicy"] == methods["CiliumNetworkPolicy"] == "InPlace"
