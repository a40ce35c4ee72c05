"""cli.token: the ExecCredential, its apiVersion, options checked before anything is contacted."""

import io
import json
from pathlib import Path

import pytest

from cli import token
from cli.errors import LatticeError
from cli.main import run
from tests.unit.cli.issuer_double import serve
from tests.unit.cli.test_token_cache import fake_jwt


def test_exec_credential_shape() -> None:
    cred = json.loads(token.exec_credential("t0k", 1_700_000_000, token.EXEC_VERSIONS[0]))
    assert cred == {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": {},
                    "status": {"token": "t0k", "expirationTimestamp": "2023-11-14T22:13:20Z"}}


def test_answers_in_the_version_kubectl_asked_for() -> None:
    beta = {"KUBERNETES_EXEC_INFO": json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1"})}
    assert token.requested_version(beta) == "client.authentication.k8s.io/v1beta1"
    assert token.requested_version({}) == "client.authentication.k8s.io/v1"
    for odd in ("{", json.dumps({"apiVersion": "client.authentication.k8s.io/v1alpha1"}), "[]"):
        assert token.requested_version({"KUBERNETES_EXEC_INFO": odd}) == "client.authentication.k8s.io/v1"


def test_durations() -> None:
    assert token.duration_seconds("1h") == 3600 and token.duration_seconds("1h30m") == 5400
    for bad, message in (("5m", "at least 10m"), ("soon", "not a duration")):
        with pytest.raises(LatticeError, match=message) as exc:
            token.duration_seconds(bad)
        assert exc.value.exit_code == 2


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["token", "--oidc-issuer-url", "https://i"]) == 2
    assert "needs both --oidc-issuer-url and --oidc-client-id" in capsys.readouterr().err
    assert run(["token", "--service-account", "a/b/c"]) == 2
    assert "expected NAME or NAMESPACE/NAME" in capsys.readouterr().err


def test_oidc_from_the_cache_then_refreshed(tmp_path: Path) -> None:
    """With the issuer double: a cached token is handed out as is; near its expiry, refreshed."""
    from cli import token_cache as tc

    with serve() as issuer:
        options = token.OidcOptions(issuer=issuer.url, client_id="cli", cache_dir=tmp_path)
        cache = tc.TokenCache(tmp_path)
        name = tc.key(issuer.url, "cli", options.scopes)
        cached = fake_jwt(iat=1000, exp=4600)
        cache.write(name, tc.Entry(issuer.url, "cli", cached, "r1"))
        assert token.oidc_token(options, io.StringIO(), now=2000) == (cached, 4600)
        assert issuer.requests == []  # nothing asked
        fresh, expiry = token.oidc_token(options, io.StringIO(), now=4590)
        assert expiry > 4590
        assert fresh != cached and issuer.requests[-1][1]["grant_type"] == "refresh_token"
        assert cache.read(name, issuer.url, "cli").id_token == fresh


def test_the_depth_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(token.DEPTH_ENV, str(token.MAX_DEPTH))
    with pytest.raises(LatticeError, match="levels deep"):
        token.run(None, (None, None, "ns", "sa", "1h", ()), io.StringIO(), io.StringIO())
