"""hooks.controllers.cloudprovider: readiness from the cell's credentials observation."""

from __future__ import annotations

import copy

import pytest

from crds import KubeObject
from crds.cloud_provider import CredentialsObservation
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

AWS = """
apiVersion: lattice.dev/v1alpha1
kind: CloudProvider
metadata: {name: aws-prod, namespace: lattice-system}
spec:
  type: aws
  credentialsSecretRef: {name: aws-credentials}
"""


def observe(obj: KubeObject, observation: CredentialsObservation | None) -> KubeObject:
    obj = copy.deepcopy(obj)
    notes = obj["metadata"].setdefault("annotations", {})
    if observation is not None:
        notes["lattice.dev/credentials-observed"] = observation.to_annotation()
    return obj


def status_of(obj: KubeObject) -> KubeObject:
    mc = FakeMetacontroller(in_process())
    mc.apply(obj)
    meta = obj["metadata"]
    answer = mc.sync("CloudProvider", meta.get("namespace", "default"), meta["name"])
    assert answer["children"] == []
    status: KubeObject = answer["status"]
    return status


SECRET = "lattice-system/aws-credentials"


@pytest.mark.parametrize(("observation", "phase", "message"), [
    (None, "Pending", "waiting for the cell to check credentials Secret lattice-system/aws-credentials"),
    (CredentialsObservation("lattice-system/old", True, ("AccessKeyID",)), "Pending",
     "waiting for the cell to check credentials Secret lattice-system/aws-credentials"),
    (CredentialsObservation(SECRET, False), "Failed", "credentials Secret lattice-system/aws-credentials not found"),
    (CredentialsObservation(SECRET, True, ("AccessKeyID",)), "Failed",
     "credentials Secret lattice-system/aws-credentials lacks SecretAccessKey (aws reads AccessKeyID, "
     "SecretAccessKey)"),
    (CredentialsObservation(SECRET, True, ("AccessKeyID", "SecretAccessKey", "SessionToken"),
                            observed_at="2027-01-15T08:00:00Z"), "Ready",
     "credentials Secret lattice-system/aws-credentials has AccessKeyID, SecretAccessKey"),
])
def test_readiness_follows_what_the_cell_saw(observation: CredentialsObservation | None, phase: str,
                                              message: str) -> None:
    status = status_of(observe(docs(AWS)[0], observation))
    assert (status["phase"], status["message"]) == (phase, message)
    assert status["conditions"][0]["type"] == "Ready"
    if phase == "Ready":
        assert status["lastValidated"] == "2027-01-15T08:00:00Z"


def test_docker_needs_no_credentials_and_other_namespaces_are_refused() -> None:
    docker = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
              "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"}}
    assert status_of(docker)["phase"] == "Ready"
    elsewhere = copy.deepcopy(docker)
    elsewhere["metadata"]["namespace"] = "team-a"
    status = status_of(elsewhere)
    assert (status["phase"], status["message"]) == (
        "Failed", "CloudProviders are read from lattice-system only; this one is in team-a")
    foreign = docs(AWS)[0]
    foreign["spec"]["credentialsSecretRef"]["namespace"] = "team-a"
    assert status_of(foreign)["message"].startswith("credentialsSecretRef.namespace: the cell copies credentials")


def test_the_observation_round_trips_and_ignores_garbage() -> None:
    obs = CredentialsObservation(SECRET, True, ("b", "a"), observed_at="2027-01-15T08:00:00Z")
    assert CredentialsObservation.from_annotations({"lattice.dev/credentials-observed": obs.to_annotation()}) == \
        CredentialsObservation(SECRET, True, ("a", "b"), observed_at="2027-01-15T08:00:00Z")
    for junk in ("", "{", "[]", '{"secret": 3}'):
        assert CredentialsObservation.from_annotations({"lattice.dev/credentials-observed": junk}) is None
    assert obs.same_facts(CredentialsObservation(SECRET, True, ("a", "b")))
