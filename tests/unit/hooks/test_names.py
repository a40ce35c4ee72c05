"""hooks.names: the names other compilers rely on."""

from hooks import names


def test_names() -> None:
    assert names.secret_name("api", "db-creds") == "api-db-creds"
    assert names.pvc_name("api", "cache", None) == "api-cache"
    assert names.pvc_name("api", "cache", "shared") == "vol-shared"
    assert names.files_configmap_name("api") == "api-files"
    assert names.files_secret_name("api") == "api-files"
    assert names.waypoint_name("shop") == "shop-waypoint"
    assert names.volume_owner_label("media") == "lattice.dev/volume-owner-media"
    assert names.pod_volume_name("cache") == "vol-cache"
    assert names.secret_env_name(3) == "LATTICE_SECRET_3"
    assert names.service_account_name("api") == "api"


def test_dns_checks() -> None:
    assert names.is_dns_label("a-1")
    assert not names.is_dns_label("a.b")
    assert not names.is_dns_label("a" * 64)
    assert names.is_dns_subdomain("a.b-c")
    assert not names.is_dns_subdomain("A")
