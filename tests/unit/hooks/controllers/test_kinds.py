"""hooks.controllers.kinds: every kind is spelled the way the compilers emit it."""

from __future__ import annotations

from hooks.controllers import CONTROLLERS, kinds
from hooks.controllers.definition import Composite, Kind


def test_every_child_kind_is_declared_here_and_group_keys_are_unique() -> None:
    declared = {v.group_key: v for v in vars(kinds).values() if isinstance(v, Kind)}
    assert len(declared) == len([v for v in vars(kinds).values() if isinstance(v, Kind)])
    for c in CONTROLLERS:
        rules = c.children if isinstance(c, Composite) else c.attachments
        for rule in rules:
            assert declared[rule.kind.group_key] == rule.kind


def test_cluster_scoped_kinds() -> None:
    assert not kinds.NAMESPACE.namespaced and not kinds.LATTICE_CLUSTER.namespaced
    assert not kinds.CLUSTER_SECRET_STORE.namespaced and kinds.EXTERNAL_SECRET.namespaced
    assert kinds.DEPLOYMENT.group_key == "Deployment.apps/v1" and kinds.SERVICE.group_key == "Service.v1"
