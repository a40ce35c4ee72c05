"""Who gets through the API proxy and as whom: OIDC tokens from Hydra and ServiceAccount tokens
from the root's kube-apiserver, Cedar decisions (user, group, forbid, live edits), every kind of
bad token, identity headers, discovery and /kubeconfig — against the real fleet."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fleet_procs import DEMO, CraftedIssuer, Fleet, prepare_access, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PODS = "/clusters/grandchild/api/v1/namespaces/demo/pods"
DISCOVERY = "/clusters/grandchild/api"


@pytest.fixture(scope="module")
def crafted(fleet: Fleet) -> Iterator[CraftedIssuer]:
    prepare_access(fleet)
    issuer = CraftedIssuer(fleet.workdir / "crafted")
    fleet.planes["root"].apply(issuer.provider())
    with fleet.http() as c:
        wait_until(lambda: any(p["name"] == "crafted" for p in c.get("/auth/providers").json()["oidc"]), 10,
                   "the crafted provider")
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def tokens(fleet: Fleet, crafted: CraftedIssuer) -> dict[str, str]:
    people = {"alice": ["platform"], "bob": ["platform"], "carol": ["sre"], "dave": [], "eve": ["sre"],
              "frank": []}
    return {name: fleet.hydra.id_token(name, {"email": f"{name}@example.com", "groups": groups})
            for name, groups in people.items()}


def get(fleet: Fleet, token: str | None, path: str, **headers: str) -> httpx.Response:
    with fleet.http(token) as c:
        return c.get(path, headers=headers)


def message(r: httpx.Response) -> str:
    return str(r.json().get("message", r.text))


def test_cedar_permits_but_rbac_denies_a_403_from_the_target_naming_the_user(fleet: Fleet,
                                                                            tokens: dict[str, str]) -> None:
    r = get(fleet, tokens["bob"], PODS)
    assert r.status_code == 403
    assert 'User "bob@example.com" cannot list resource "pods"' in message(r)  # kube-apiserver's words
    assert r.json()["details"]["kind"] == "pods"


def test_cedar_denies_a_403_from_the_proxy(fleet: Fleet, tokens: dict[str, str]) -> None:
    r = get(fleet, tokens["dave"], PODS)
    assert r.status_code == 403
    assert message(r) == "user 'dave@example.com' cannot access cluster 'grandchild': no Cedar policy permits it"
    assert get(fleet, tokens["dave"], "/clusters").json()["items"] == []
    assert get(fleet, tokens["dave"], "/kubeconfig").status_code == 403
    # Authorization comes before routing: no probing for cluster names.
    assert get(fleet, tokens["dave"], "/clusters/no-such-cluster/api").status_code == 403
    assert get(fleet, tokens["alice"], "/clusters/no-such-cluster/api").status_code == 404


def test_a_group_permit(fleet: Fleet, tokens: dict[str, str]) -> None:
    r = get(fleet, tokens["carol"], PODS)
    assert r.status_code == 200 and {p["metadata"]["name"] for p in r.json()["items"]} >= {"web"}


def test_forbid_beats_permit(fleet: Fleet, tokens: dict[str, str]) -> None:
    r = get(fleet, tokens["eve"], PODS)  # in group sre (permitted), and forbidden by name
    assert r.status_code == 403
    assert message(r) == ("user 'eve@example.com' cannot access cluster 'grandchild': "
                          "forbidden by Cedar policy (no-eve.0)")


def test_a_policy_edit_takes_effect_within_a_second(fleet: Fleet, tokens: dict[str, str]) -> None:
    # /api is open to every authenticated user on the target: only Cedar can say no here.
    assert get(fleet, tokens["frank"], DISCOVERY).status_code == 403
    with fleet.http(tokens["frank"]) as c:
        fleet.policy("frank", 'permit(principal == Lattice::User::"frank@example.com", action == '
                              'Lattice::Action::"AccessCluster", resource == Lattice::Cluster::"grandchild");')
        applied = time.monotonic()
        while c.get(DISCOVERY).status_code == 403:
            assert time.monotonic() - applied < 1.0, "the new permit was not in force within a second"
        allowed_after = time.monotonic() - applied
        assert c.get("/clusters/child/api").status_code == 403  # the permit names the grandchild only
        fleet.planes["root"].kubectl("delete", "cedarpolicy", "frank", "-n", "lattice-system")
        deleted = time.monotonic()
        while c.get(DISCOVERY).status_code != 403:
            assert time.monotonic() - deleted < 1.0, "the deleted permit was still in force after a second"
    print(f"permit in force after {allowed_after * 1000:.0f} ms, revoked after "
          f"{(time.monotonic() - deleted) * 1000:.0f} ms")


def test_service_account_tokens_through_tokenreview(fleet: Fleet) -> None:
    token = fleet.sa_token("ci", "deployer")
    r = get(fleet, token, PODS)
    assert r.status_code == 200, r.text
    listing = get(fleet, token, "/clusters").json()
    assert listing["user"]["username"] == "system:serviceaccount:ci:deployer"
    assert "system:serviceaccounts:ci" in listing["user"]["groups"]
    kubeconfig = fleet.kubeconfig("deployer", token)
    assert "web" in fleet.kubectl(kubeconfig, "get", "pods", "-o", "name").stdout
    # A token minted for the API server itself is not one for the proxy.
    default_audience = fleet.planes["root"].kubectl("create", "token", "deployer", "-n", "ci").stdout.strip()
    r = get(fleet, default_audience, PODS)
    assert r.status_code == 401 and "authentication failed" in message(r)


def _hs256_with_public_key(issuer: CraftedIssuer) -> str:
    """The classic confusion attack: HMAC keyed with the issuer's *public* key."""
    public = issuer.keys["k1"].public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(issuer.claims("mallory@example.com")).encode())
    sig = b64(hmac.new(public, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + sig).decode()


def bad_tokens(issuer: CraftedIssuer, hydra_token: str) -> dict[str, tuple[str, str, str]]:
    """name -> (token, metric reason, text in the 401's message)."""
    now = int(time.time())
    stranger = rsa.generate_private_key(65537, 2048)
    tampered = hydra_token[:-4] + ("AAAA" if not hydra_token.endswith("AAAA") else "BBBB")
    return {
        "malformed": ("not.a.jwt", "malformed", "malformed token"),
        "expired": (issuer.sign(issuer.claims("m@example.com", iat=now - 7200, exp=now - 3600)), "expired",
                    "token expired"),
        "not-yet-valid": (issuer.sign(issuer.claims("m@example.com", nbf=now + 3600)), "not_yet_valid",
                          "not yet valid"),
        "wrong-audience": (issuer.sign(issuer.claims("m@example.com", aud="someone-else")), "wrong_audience",
                           "audience"),
        "wrong-issuer": (issuer.sign(issuer.claims("m@example.com", iss="https://evil.example")), "unknown_issuer",
                         "not a configured OIDC provider"),
        "alg-none": (jwt.encode(issuer.claims("m@example.com"), None, algorithm="none"), "alg_none", "alg none"),
        "hmac-with-public-key": (_hs256_with_public_key(issuer), "alg_not_allowed", "'HS256' is not allowed"),
        "unknown-kid": (issuer.sign(issuer.claims("m@example.com"), kid="stranger", key=stranger), "unknown_kid",
                        "unknown key id 'stranger'"),
        "bad-signature": (tampered, "bad_signature", "signature does not verify"),
    }


def test_every_bad_token_is_a_401_with_its_reason_and_a_metric(fleet: Fleet, crafted: CraftedIssuer,
                                                                tokens: dict[str, str]) -> None:
    root = fleet.root
    for name, (token, reason, text) in bad_tokens(crafted, tokens["alice"]).items():
        before = root.metric("lattice_api_proxy_authn_failures_total", f'reason="{reason}"')
        r = get(fleet, token, PODS)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["reason"] == "Unauthorized" and text in message(r), (name, message(r))
        assert root.metric("lattice_api_proxy_authn_failures_total", f'reason="{reason}"') == before + 1, name
    r = get(fleet, None, PODS)
    assert r.status_code == 401 and "no bearer token" in message(r)
    # A correctly signed crafted token does get in (so the 401s above are about what they say).
    fleet.policy("mallory", 'permit(principal == Lattice::User::"m@example.com", '
                            'action == Lattice::Action::"AccessCluster", resource);')
    good = crafted.sign(crafted.claims("m@example.com"))
    wait_until(lambda: get(fleet, good, "/clusters/root/api").status_code == 200, 5, "a valid crafted token")


def test_key_rotation_is_picked_up(fleet: Fleet, crafted: CraftedIssuer) -> None:
    fleet.policy("mallory", 'permit(principal == Lattice::User::"m@example.com", '
                            'action == Lattice::Action::"AccessCluster", resource);')
    crafted.rotate("k2")
    rotated = crafted.sign(crafted.claims("m@example.com"), kid="k2")
    # An unknown kid makes the proxy fetch the JWKS again (at most every 10 s).
    wait_until(lambda: get(fleet, rotated, "/clusters/root/api").status_code == 200, 15, "the rotated key")


IMPERSONATION = [("Impersonate-User", "admin"), ("Impersonate-Group", "system:masters"), ("Impersonate-Uid", "0"),
                 ("Impersonate-Extra-Scopes", "all"), ("IMPERSONATE-USER", "admin")]
STRIPPED = [("X-Remote-User", "admin"), ("X-Remote-Group", "system:masters"), ("X-Remote-Extra-Scopes", "all"),
            ("X-Forwarded-User", "admin"), ("X-Forwarded-Groups", "system:masters"),
            ("X-Forwarded-Email", "admin@example.com"), ("X-Forwarded-For", "10.0.0.1"),
            ("Forwarded", "for=10.0.0.1;by=admin"), ("X-Real-IP", "10.0.0.1"),
            ("X-Forwarded-Client-Cert", 'Subject="CN=admin,O=system:masters"'), ("X-Client-Cert", "CN=admin"),
            ("X-Auth-Request-User", "admin"), ("Remote-User", "admin"), ("X-Amzn-OIDC-Identity", "admin"),
            ("Proxy-Authorization", "Bearer admin")]


def test_identity_headers_are_refused_or_stripped(fleet: Fleet, tokens: dict[str, str]) -> None:
    assert len(IMPERSONATION) + len(STRIPPED) + 1 >= 20
    namespaces = "/clusters/grandchild/api/v1/namespaces"  # cluster scope: alice may not list it
    for name, value in IMPERSONATION:
        r = get(fleet, tokens["alice"], namespaces, **{name: value})
        assert r.status_code == 403 and "impersonation is not passed on" in message(r), (name, r.text)
    for name, value in STRIPPED:
        r = get(fleet, tokens["alice"], namespaces, **{name: value})
        assert r.status_code == 403, (name, r.status_code)
        assert 'User "alice@example.com" cannot list resource "namespaces"' in message(r), (name, message(r))
    # A method override does not turn a read into a delete.
    fleet.planes["grandchild"].kubectl("create", "configmap", "keep-me", "-n", DEMO, check=False)
    path = f"/clusters/grandchild/api/v1/namespaces/{DEMO}/configmaps/keep-me"
    assert get(fleet, tokens["alice"], path, **{"X-HTTP-Method-Override": "DELETE"}).status_code == 200
    assert get(fleet, tokens["alice"], path).status_code == 200


def test_discovery_lists_what_the_caller_may_access(fleet: Fleet, tokens: dict[str, str]) -> None:
    listing = get(fleet, tokens["alice"], "/clusters").json()
    items = {i["name"]: i for i in listing["items"]}
    assert [(i["name"], i["depth"], i["parent"]) for i in listing["items"]] == [
        ("root", 0, ""), ("child", 1, "root"), ("grandchild", 2, "child")]
    assert items["child"]["agent"]["connectivity"] == "connected" and "agent" not in items["grandchild"]
    assert items["grandchild"]["server"] == f"{fleet.proxy_url}/clusters/grandchild"
    one = get(fleet, tokens["alice"], "/clusters/grandchild")
    assert one.status_code == 200 and one.json()["via"] == "child"


def test_kubeconfig(fleet: Fleet, tokens: dict[str, str]) -> None:
    config: dict[str, Any] = get(fleet, tokens["alice"], "/kubeconfig").json()
    assert [c["name"] for c in config["contexts"]] == ["root", "child", "grandchild"]
    assert config["current-context"] == "root"
    cluster = config["clusters"][2]["cluster"]
    assert cluster["server"] == f"{fleet.proxy_url}/clusters/grandchild"
    assert base64.b64decode(cluster["certificate-authority-data"]) == fleet.ca_file().read_bytes()
    (user,) = config["users"]
    ca_data = base64.b64encode(fleet.hydra.ca_pem).decode()  # the OIDCProvider's caBundle: a private CA
    assert user["user"]["exec"]["args"] == ["token", f"--oidc-issuer-url={fleet.hydra.public_url}",
                                            "--oidc-client-id=lattice-cli", f"--certificate-authority-data={ca_data}",
                                            "--oidc-extra-scope=email", "--oidc-extra-scope=groups"]
    sa = get(fleet, fleet.sa_token("ci", "deployer"), "/kubeconfig").json()
    assert sa["users"][0]["user"]["exec"]["args"] == ["token", "--service-account=ci/deployer",
                                                      "--audience=lattice-proxy"]


def test_providers_are_public_and_their_status_is_written(fleet: Fleet, crafted: CraftedIssuer) -> None:
    doc = get(fleet, None, "/auth/providers").json()
    hydra = next(p for p in doc["oidc"] if p["name"] == "hydra")
    assert hydra == {"name": "hydra", "issuerUrl": fleet.hydra.public_url, "clientId": "lattice-cli",
                     "audiences": ["lattice-cli"], "usernameClaim": "email", "groupsClaim": "groups",
                     "extraScopes": ["email", "groups"],
                     "certificateAuthorityData": base64.b64encode(fleet.hydra.ca_pem).decode()}
    assert doc["serviceAccount"]["audiences"] == ["lattice-proxy"]
    wait_until(lambda: fleet.planes["root"].get_json("oidcprovider", "hydra", "-n", "lattice-system")
               .get("status", {}).get("phase") == "Ready", 10, "OIDCProvider status")


def test_the_last_hop_runs_as_an_identity_that_can_only_impersonate(fleet: Fleet) -> None:
    leaf = fleet.planes["grandchild"]
    sa = "system:serviceaccount:lattice-system:lattice-proxy"
    rules = leaf.kubectl("auth", "can-i", "--list", f"--as={sa}").stdout
    assert "impersonate" in rules
    for verb, what in (("get", "pods"), ("list", "secrets"), ("create", "configmaps"), ("delete", "namespaces"),
                       ("create", "pods/exec")):
        assert leaf.kubectl("auth", "can-i", verb, what, f"--as={sa}", "-A", check=False).stdout.strip() == "no"
    assert "tunnelled requests run as lattice-system/lattice-proxy" in fleet.procs["grandchild"].log.read_text()
