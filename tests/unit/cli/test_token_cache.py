"""cli.token_cache: private files, atomic writes, what is reused."""

import base64
import io
import json
import os
import stat
from pathlib import Path

from cli import token_cache as tc


def fake_jwt(**claims: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{body}.sig"


def test_key_is_per_issuer_client_and_scopes() -> None:
    k = tc.key("https://i", "c", ("openid", "email"))
    assert k == tc.key("https://i", "c", ("email", "openid")) and len(k) == 32
    assert len({k, tc.key("https://i", "d", ("openid", "email")), tc.key("https://j", "c", ("openid", "email")),
                tc.key("https://i", "c", ("openid",))}) == 4


def test_reused_until_the_last_quarter_of_its_life_at_most_a_minute() -> None:
    hour = fake_jwt(iat=0, exp=3600)
    assert tc.reusable(hour, 3539) == 3600 and tc.reusable(hour, 3540) is None  # a minute before
    short = fake_jwt(iat=0, exp=8)
    assert tc.reusable(short, 5.9) == 8 and tc.reusable(short, 6.0) is None  # a quarter of 8 s
    assert tc.reusable(None, 0) is None and tc.reusable("garbage", 0) is None
    assert tc.reusable(fake_jwt(exp=1000), 900) == 1000  # no iat: a minute


def test_files_are_private_and_written_whole(tmp_path: Path) -> None:
    cache = tc.TokenCache(tmp_path / "oidc")
    with cache.locked("k"):
        assert cache.read("k", "i", "c") == tc.Entry("i", "c")
        cache.write("k", tc.Entry("i", "c", "id", "refresh"))
    assert stat.S_IMODE((tmp_path / "oidc").stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.path("k").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "oidc").iterdir() if p.name.endswith(".tmp")] == []
    assert cache.read("k", "i", "c") == tc.Entry("i", "c", "id", "refresh")
    assert cache.read("k", "other-issuer", "c") == tc.Entry("other-issuer", "c")  # never another issuer's


def test_loose_permissions_are_tightened_and_reported(tmp_path: Path) -> None:
    err = io.StringIO()
    cache = tc.TokenCache(tmp_path / "oidc", err)
    cache.write("k", tc.Entry("i", "c", "id", "refresh"))
    os.chmod(cache.path("k"), 0o644)
    os.chmod(tmp_path / "oidc", 0o755)
    with cache.locked("k"):
        assert cache.read("k", "i", "c").refresh_token == "refresh"
    assert stat.S_IMODE(cache.path("k").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "oidc").stat().st_mode) == 0o700
    assert "readable by others" in err.getvalue() and "refresh" not in err.getvalue().replace("refresh token", "")


def test_a_corrupt_entry_means_logging_in_again(tmp_path: Path) -> None:
    cache = tc.TokenCache(tmp_path)
    cache.path("k").write_text("{not json")
    os.chmod(cache.path("k"), 0o600)
    assert cache.read("k", "i", "c") == tc.Entry("i", "c")


def test_default_dir_follows_xdg(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert tc.default_dir() == Path("/x/lattice/oidc")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert tc.default_dir() == Path("~/.cache/lattice/oidc").expanduser()
