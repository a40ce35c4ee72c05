"""hooks.controllers.cedarpolicy: Valid/Invalid status of Cedar text, failures counted."""

from __future__ import annotations

import pytest

from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers import cedarpolicy
from hooks.controllers.definition import HookConfig
from tests.unit.hooks.support import FakeMetacontroller, in_process

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))
API = "lattice.dev/v1alpha1"


@pytest.mark.parametrize(("policies", "phase"), [
    ('permit(principal, action, resource);', "Valid"),
    ('permit(principal, action, resource', "Invalid"),
])
def test_cedar_policy_status(policies: str, phase: str) -> None:
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply({"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "p", "namespace": "lattice-system"},
              "spec": {"policies": policies}})
    answer = mc.sync("CedarPolicy", "lattice-system", "p")
    assert answer["status"]["phase"] == phase
    assert answer["children"] == [] and answer["resyncAfterSeconds"] > 0


def test_cedar_policy_failure_is_counted() -> None:
    raw = {"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "p", "namespace": "lattice-system"},
           "spec": {"policies": "permit(principal"}}
    assert cedarpolicy.CONTROLLER.run_sync(wire.SyncRequest(parent=raw), CFG).failure == "InvalidPolicy"
