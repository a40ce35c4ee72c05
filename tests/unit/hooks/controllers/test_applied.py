"""Ready only once every child is observed as desired: the hash stamp and its check."""

from __future__ import annotations

from typing import Any

from hooks.controllers.applied import DESIRED_HASH, desired_hash, not_applied, pending_message, stamp
from hooks.wire import group_key

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"}, "spec": {"resources": {}}}


def _observed(*objs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for o in objs:
        meta = {"namespace": "ns", **o["metadata"]}
        out.setdefault(group_key(o["apiVersion"], o["kind"]), {})[f"{meta['namespace']}/{meta['name']}"] = {
            **o, "metadata": {**meta, "uid": "u1", "resourceVersion": "7"}}
    return out


def test_stamp_adds_a_hash_of_the_content_and_leaves_the_input_alone() -> None:
    (stamped,) = stamp([CM])
    assert "annotations" not in CM["metadata"]
    assert stamped["metadata"]["annotations"][DESIRED_HASH] == desired_hash(CM) == desired_hash(stamped)
    changed = {**CM, "data": {"k": "w"}}
    assert desired_hash(changed) != desired_hash(CM)
    # Other annotations count, key order does not.
    assert desired_hash({**CM, "metadata": {**CM["metadata"], "annotations": {"x": "1"}}}) != desired_hash(CM)
    assert desired_hash({"data": {"k": "v"}, "metadata": CM["metadata"], "kind": "ConfigMap",
                         "apiVersion": "v1"}) == desired_hash(CM)


def test_not_applied_until_observed_with_the_desired_hash() -> None:
    desired = stamp([CM])
    assert not_applied(desired, {}, namespace="ns") == ["ConfigMap a"]
    assert not_applied(desired, _observed(*desired), namespace="ns") == []
    stale = stamp([{**CM, "data": {"k": "old"}}])
    assert not_applied(desired, _observed(*stale), namespace="ns") == ["ConfigMap a"]


def test_on_delete_children_need_only_exist_and_the_namespace_defaults_to_the_parents() -> None:
    desired = stamp([PVC])
    old = stamp([{**PVC, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}])
    pvc_group = group_key("v1", "PersistentVolumeClaim")
    assert not_applied(desired, _observed(*old), namespace="ns") == ["PersistentVolumeClaim d"]
    assert not_applied(desired, _observed(*old), on_delete={pvc_group}, namespace="ns") == []
    assert not_applied(desired, {}, on_delete={pvc_group}, namespace="ns") == ["PersistentVolumeClaim d"]


def test_pending_message_names_the_first_five() -> None:
    msg = pending_message("compiled 7 objects", [f"ConfigMap c{i}" for i in range(7)])
    assert msg.startswith("compiled 7 objects; waiting for 7 to be applied: ConfigMap c0, ")
    assert "ConfigMap c4 and 2 more" in msg and "c5" not in msg
