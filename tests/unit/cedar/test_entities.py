"""lattice_cedar.entities and schema: the entities a request carries, typed by the Lattice schema."""

from __future__ import annotations

from lattice_cedar import entities, schema


def test_cluster_attributes_come_from_labels_with_defaults() -> None:
    labels = {"lattice.dev/region": "eu", "region": "ignored", "environment": "prod", "team": "pay"}
    cluster = entities.cluster_entity("c1", labels)
    assert cluster["uid"] == {"type": schema.CLUSTER, "id": "c1"}
    assert cluster["attrs"] == {"name": "c1", "region": "eu", "tier": "standard", "environment": "prod"}
    assert cluster["tags"] == labels


def test_users_are_members_of_their_groups_and_services_have_namespaced_ids() -> None:
    user, *groups = entities.user_entities("alice", ["ops", "dev", "ops"])
    assert user["parents"] == [{"type": schema.GROUP, "id": "dev"}, {"type": schema.GROUP, "id": "ops"}]
    assert [g["uid"]["id"] for g in groups] == ["dev", "ops"]
    assert entities.service_entity("shop", "api")["uid"]["id"] == "shop/api"
    assert entities.secret_path_entity("vault", "a/b")["uid"]["id"] == "vault:a/b"
    assert schema.parsed_schema() is schema.parsed_schema()  # parsed once
