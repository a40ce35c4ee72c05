"""Ory Hydra v2.3.0 (built by testbed/build.sh) as a real OpenID Connect issuer for the tests.

In-memory SQLite, the public endpoint on HTTPS (kube-apiserver's ``--oidc-issuer-url`` must be
https) with a certificate from a CA made here, the admin endpoint on plain loopback HTTP. Nothing
listens on the login and consent URLs: ``play_login`` plays the browser and the login/consent UI,
following the authorization URL with a cookie jar and accepting the login and consent through
Hydra's admin API (docs/testbed.md, "Ory Hydra").
"""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx

from lattice_dev import free_port
from lattice_dev.certs import cert_pem, issue, new_ca, write_file


@attrs.define
class Hydra:
    issuer: str  # https://127.0.0.1:PUB
    admin: str  # http://127.0.0.1:ADM
    ca_file: Path
    log: Path
    popen: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)

    def create_client(self, client_id: str, redirect_uris: Sequence[str],
                      scope: str = "openid offline_access email groups", **extra: Any) -> dict[str, Any]:
        """A public client with PKCE, as a command line is."""
        body = {"client_id": client_id, "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "scope": scope, "redirect_uris": list(redirect_uris), **extra}
        r = httpx.post(f"{self.admin}/admin/clients", json=body, timeout=10)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    def play_login(self, auth_url: str, subject: str, *, email: str = "", groups: Sequence[str] = (),
                   scopes: Sequence[str] = ("openid", "offline_access"), deny: bool = False) -> httpx.Response:
        """Be the user's browser: follow ``auth_url``, accept login and consent as ``subject`` (claims
        ``email`` and ``groups`` in the ID token), then call the client's redirect URI with the code, as
        the browser would. Returns that last answer (the CLI's "logged in" page)."""
        with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca_file)), timeout=15) as browser:
            r = browser.get(auth_url)
            assert r.status_code in (302, 303), r.text
            login_challenge = _query(r.headers["location"])["login_challenge"]
            if deny:
                a = httpx.put(f"{self.admin}/admin/oauth2/auth/requests/login/reject",
                              params={"login_challenge": login_challenge},
                              json={"error": "access_denied", "error_description": "the test said no"}, timeout=10)
            else:
                a = httpx.put(f"{self.admin}/admin/oauth2/auth/requests/login/accept",
                              params={"login_challenge": login_challenge}, json={"subject": subject}, timeout=10)
            assert a.status_code == 200, a.text
            r = browser.get(a.json()["redirect_to"])
            assert r.status_code in (302, 303), r.text
            if not deny:
                consent_challenge = _query(r.headers["location"])["consent_challenge"]
                session: dict[str, Any] = {"id_token": {"email": email, "groups": list(groups)}}
                c = httpx.put(f"{self.admin}/admin/oauth2/auth/requests/consent/accept",
                              params={"consent_challenge": consent_challenge},
                              json={"grant_scope": list(scopes), "session": session}, timeout=10)
                assert c.status_code == 200, c.text
                r = browser.get(c.json()["redirect_to"])
                assert r.status_code in (302, 303), r.text
            callback = r.headers["location"]
        return httpx.get(callback, timeout=15)  # the loopback listener of the command line


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def start_hydra(bin_dir: Path, workdir: Path, *, id_token_ttl: str = "1h", refresh_token_ttl: str = "720h") -> Hydra:
    workdir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = new_ca("hydra-test-ca")
    ca_file = write_file(workdir / "ca.crt", cert_pem(ca), 0o644)
    crt, key = issue(ca, ca_key, "hydra", dns=["localhost"], ips=["127.0.0.1"], server=True)
    cert_file = write_file(workdir / "tls.crt", crt, 0o644)
    key_file = write_file(workdir / "tls.key", key)
    public, admin = free_port(), free_port()
    issuer = f"https://127.0.0.1:{public}"
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(workdir),
        "DSN": "memory", "URLS_SELF_ISSUER": issuer,
        "URLS_LOGIN": f"{issuer}/login-ui", "URLS_CONSENT": f"{issuer}/consent-ui",
        "STRATEGIES_ACCESS_TOKEN": "jwt", "SECRETS_SYSTEM": secrets.token_hex(24),
        "SERVE_PUBLIC_HOST": "127.0.0.1", "SERVE_PUBLIC_PORT": str(public),
        "SERVE_ADMIN_HOST": "127.0.0.1", "SERVE_ADMIN_PORT": str(admin),
        "SERVE_PUBLIC_TLS_ENABLED": "true", "SERVE_PUBLIC_TLS_CERT_PATH": str(cert_file),
        "SERVE_PUBLIC_TLS_KEY_PATH": str(key_file), "SERVE_ADMIN_TLS_ENABLED": "false",
        "TTL_ID_TOKEN": id_token_ttl, "TTL_ACCESS_TOKEN": id_token_ttl, "TTL_REFRESH_TOKEN": refresh_token_ttl,
        "LOG_LEVEL": "warn",
    }
    log = workdir / "hydra.log"
    with log.open("ab") as out:
        popen = subprocess.Popen([str(bin_dir / "hydra"), "serve", "all", "--dev", "--sqa-opt-out"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    hydra = Hydra(issuer=issuer, admin=f"http://127.0.0.1:{admin}", ca_file=ca_file, log=log, popen=popen)
    deadline = time.monotonic() + 30
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"hydra exited with {popen.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{hydra.admin}/health/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            hydra.stop()
            raise RuntimeError(f"hydra not ready after 30 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    # The signing keys are made on first use (RSA, seconds on a busy machine): once, with patience. A
    # request given up early would be cancelled and the keys made again by the next one.
    keys = httpx.get(f"{issuer}/.well-known/jwks.json", timeout=120,
                     verify=ssl.create_default_context(cafile=str(ca_file)))
    assert keys.status_code == 200, keys.text
    return hydra
