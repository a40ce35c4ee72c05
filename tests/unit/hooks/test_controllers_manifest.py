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


def test_metacontroller_ships_server_side_apply_and_only_lattices_controllers() -> None:
    from hooks.controllers_manifest import LABELS, METACONTROLLER_FLAGS, metacontroller_objects

    flags = dict(f.split("=", 1) for f in METACONTROLLER_FLAGS)
    assert flags["--apply-strategy"] == "server-side-apply"
    assert flags["--target-label-selector"] == "app.kubernetes.io/part-of=lattice"
    assert LABELS["app.kubernetes.io/part-of"] == "lattice"
    for name in ("--client-go-qps", "--client-go-burst", "--workers", "--discovery-interval"):
        assert name in flags, f"{name} is left at Metacontroller's default"
    (sts,) = [o for o in metacontroller_objects() if o["kind"] == "StatefulSet"]
    assert sts["spec"]["replicas"] == 1
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[: len(METACONTROLLER_FLAGS)] == list(METACONTROLLER_FLAGS)


def test_metacontroller_role_covers_every_controller_and_nothing_more() -> None:
    from hooks.controllers.definition import Decorator
    from hooks.controllers_manifest import metacontroller_rules

    granted: dict[tuple[str, str], set[str]] = {}
    for rule in metacontroller_rules():
        assert "*" not in rule["apiGroups"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])

    def has(api_version: str, resource: str, *verbs: str) -> bool:
        return set(verbs) <= granted.get((api_version.rpartition("/")[0], resource), set())

    for c in CONTROLLERS:
        owners = [c.parent] if isinstance(c, Composite) else [t.kind for t in c.targets]
        for k in owners:
            assert has(k.api_version, k.resource, "get", "list", "watch", "update")
        if isinstance(c, Composite):
            assert has(c.parent.api_version, c.parent.resource + "/status", "update")
        for r in c.children if isinstance(c, Composite) else c.attachments:
            assert has(r.kind.api_version, r.kind.resource, "create", "update", "patch", "delete", "watch")
        for k in c.related:
            assert has(k.api_version, k.resource, "get", "list", "watch")
        assert isinstance(c, Composite | Decorator)
    assert ("", "secrets") not in granted and ("", "pods") not in granted
    # RoleBindings of the cell's Secret ClusterRoles: `bind` on those two names, never `escalate`,
    # never Roles (whose rules it would have to hold) or other ClusterRoles.
    rbac_group = "rbac.authorization.k8s.io"
    assert granted[(rbac_group, "clusterroles")] == {"bind"}
    assert (rbac_group, "roles") not in granted and not any("escalate" in v for v in granted.values())
    bind = next(r for r in metacontroller_rules() if r["resources"] == ["clusterroles"])
    assert bind["resourceNames"] == ["lattice-cell-cluster-secrets", "lattice-cell-credentials-copy"]


def test_customize_relates_only_declared_kinds() -> None:
    """The RBAC above grants reads on ``related`` only: every rule a customize hook answers for the
    examples names a declared kind."""
    from hooks.controllers.definition import HookConfig
    from hooks.wire import CustomizeRequest

    parents = [d for p in sorted((ROOT / "examples").rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    parents += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lattice-system"}}]
    for c in CONTROLLERS:
        if c.customize is None:
            continue
        kinds = {c.parent.kind} if isinstance(c, Composite) else {t.kind.kind for t in c.targets}
        for parent in (p for p in parents if p.get("kind") in kinds):
            for rule in c.customize(CustomizeRequest(parent=parent), HookConfig()).related_resources:
                assert (rule.api_version, rule.resource) in {(k.api_version, k.resource) for k in c.related}, \
                    (c.name, rule)


def test_external_hooks_component_rewrites_every_hook_url(tmp_path: Path) -> None:
    from hooks.controllers_manifest import HOOKS_URL_CONFIGMAP, external_hooks_component, write_overlay

    component = external_hooks_component()
    (replacement,) = component["replacements"]
    assert replacement["source"] == {"kind": "ConfigMap", "name": HOOKS_URL_CONFIGMAP, "fieldPath": "data.url"}
    paths = {(t["select"]["name"], p) for t in replacement["targets"] for p in t["fieldPaths"]}
    for obj in controller_objects(IN_CLUSTER_URL):
        for hook in obj["spec"]["hooks"]:
            assert (obj["metadata"]["name"], f"spec.hooks.{hook}.webhook.url") in paths
    overlay = yaml.safe_load((write_overlay(tmp_path / "o", "http://127.0.0.1:9/") / "kustomization.yaml").read_text())
    assert overlay["configMapGenerator"][0]["literals"] == ["url=http://127.0.0.1:9"]
    assert overlay["resources"][0].endswith("manifests") and not Path(overlay["resources"][0]).is_absolute()
    assert [Path(c).name for c in overlay["components"]] == ["external-hooks", "external-metacontroller"]
