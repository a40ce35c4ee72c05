"""Names of the Cluster API objects and the template hash."""

from __future__ import annotations

from hooks.cluster import names


def test_names() -> None:
    assert names.namespace("prod") == "capi-prod"
    assert names.control_plane("prod") == "prod-control-plane"
    assert names.pool("prod", "gpu") == "prod-pool-gpu"
    assert names.bootstrap_secret("prod") == "prod-lattice-bootstrap"
    assert names.credentials_secret("prod") == "prod-provider-credentials"
    # the control plane's name is a label value
    assert len(names.control_plane("x" * names.NAME_MAX)) == names.LABEL_VALUE_MAX


def test_template_hash_is_stable_and_order_free() -> None:
    a = {"instanceType": "m5.large", "rootVolume": {"size": 80, "type": "gp3"}}
    b = {"rootVolume": {"type": "gp3", "size": 80}, "instanceType": "m5.large"}
    assert names.templated("p-pool-x", a) == names.templated("p-pool-x", b) == "p-pool-x-" + names.spec_hash(a)
    assert len(names.spec_hash(a)) == names.HASH_LEN
    assert names.spec_hash(a) != names.spec_hash({**a, "instanceType": "m5.xlarge"})
    # a fixed value: a change here renames every template and rolls every machine of every cluster
    assert names.spec_hash({"a": 1}) == "015abd7f"
