"""lattice_tunnel.distributed: what a child gets of its parent's lattice-system (pure)."""

from __future__ import annotations

from lattice_tunnel import distributed

CLOUD = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
         "metadata": {"name": "aws-prod", "namespace": "lattice-system", "uid": "x", "resourceVersion": "9",
                      "labels": {"team": "infra", "lattice.dev/inherited": "true"}},
         "spec": {"type": "aws", "credentialsSecretRef": {"name": "aws-creds"}}, "status": {"phase": "Ready"}}
POLICY = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy",
          "metadata": {"name": "allow", "namespace": "lattice-system",
                       "labels": {"lattice.dev/original-name": "allow-root"}},
          "spec": {"policies": "permit(principal, action, resource);"}}


def test_copies_keep_spec_and_labels_and_say_where_they_came_from() -> None:
    kind = distributed.BY_KIND["CloudProvider"]
    copy = distributed.copy_for_child(CLOUD, kind, "mgmt")
    assert copy == {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
                    "metadata": {"name": "aws-prod", "namespace": "lattice-system",
                                 "labels": {"team": "infra", "lattice.dev/inherited": "true",
                                            "lattice.dev/origin-cluster": "mgmt",
                                            "lattice.dev/original-name": "aws-prod"}},
                    "spec": CLOUD["spec"]}


def test_policies_are_renamed_after_the_origin_and_keep_their_first_name_across_hops() -> None:
    copy = distributed.copy_for_child(POLICY, distributed.BY_KIND["CedarPolicy"], "mid")
    assert copy["metadata"]["name"] == "mid--allow-root"
    assert copy["metadata"]["labels"]["lattice.dev/original-name"] == "allow-root"


def test_what_propagates_and_the_secrets_it_needs() -> None:
    cedar, oidc = distributed.BY_KIND["CedarPolicy"], distributed.BY_KIND["OIDCProvider"]
    assert distributed.propagates({"spec": {}}, cedar)  # the CRD's defaults: propagate, enabled
    assert not distributed.propagates({"spec": {"propagate": False}}, cedar)
    assert not distributed.propagates({"spec": {"enabled": False}}, cedar)
    assert not distributed.propagates({"spec": {"propagate": False}}, oidc)
    oidc_obj = {"spec": {"clientSecret": {"name": "oidc", "key": "client-secret"}}}
    elsewhere = {"spec": {"credentialsSecretRef": {"name": "x", "namespace": "other"}}}
    assert distributed.referenced_secrets([CLOUD, oidc_obj, elsewhere]) == {"aws-creds", "oidc"}


def test_sets_travel_in_apply_order() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-creds"}, "data": {}}
    decoded = distributed.decode(distributed.encode([POLICY, CLOUD, secret]))
    assert [k.kind for k, _ in decoded] == ["Secret", "CloudProvider", "CedarPolicy"]
