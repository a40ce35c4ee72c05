"""``lattice token``: a credential for kubectl, printed as a ``client.authentication.k8s.io`` ExecCredential.

Two sources:

* **OIDC** (``--oidc-issuer-url``, ``--oidc-client-id``): the cached ID token while it has life
  left, else one refreshed with the cached refresh token, else a login (``cli.oidc``: authorization
  code + PKCE on a loopback redirect, or the device grant). The cache is ``cli.token_cache``.
* **A ServiceAccount token** (the default, as the README's ``lattice token --kubeconfig K``): a
  TokenRequest for ``-n/--namespace``/``-s/--service-account`` lasting ``-d/--duration``, through
  kr8s with the kubeconfig's credentials.

``status.expirationTimestamp`` is the token's own expiry, so kubectl asks again when it runs out.
The answer's apiVersion is the one kubectl asked for in ``KUBERNETES_EXEC_INFO`` (v1 or v1beta1;
v1 when run by hand). Tokens go to stdout inside the ExecCredential and nowhere else; everything
said to a person goes to stderr.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import attrs
import typer

from cli.errors import LatticeError

EXEC_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
DEPTH_ENV = "LATTICE_TOKEN_DEPTH"
MAX_DEPTH = 3
MIN_SA_SECONDS = 600  # kube-apiserver refuses shorter TokenRequests
DEFAULT_REDIRECTS = ("http://127.0.0.1:8000/callback", "http://127.0.0.1:18000/callback")


class Grant(enum.StrEnum):
    auto = "auto"
    authcode = "authcode"
    device_code = "device-code"


def requested_version(environ: dict[str, str] | None = None) -> str:
    """The ExecCredential apiVersion kubectl expects back (its ``KUBERNETES_EXEC_INFO``)."""
    raw = (environ if environ is not None else os.environ).get("KUBERNETES_EXEC_INFO", "")
    try:
        version = json.loads(raw).get("apiVersion") if raw else None
    except (ValueError, AttributeError):
        version = None
    return version if version in EXEC_VERSIONS else EXEC_VERSIONS[0]


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def exec_credential(token: str, expiry: float, api_version: str) -> str:
    return json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "spec": {},
                       "status": {"token": token, "expirationTimestamp": rfc3339(expiry)}}) + "\n"


# ---- OIDC ----

@attrs.frozen
class OidcOptions:
    issuer: str
    client_id: str
    client_secret: str | None = None
    extra_scopes: tuple[str, ...] = ()
    redirect_urls: tuple[str, ...] = DEFAULT_REDIRECTS
    grant: Grant = Grant.auto
    open_browser: bool = True
    ca_file: str | None = None
    ca_data: str | None = None  # base64 PEM
    cache_dir: Path | None = None
    login_timeout: float = 300.0

    @property
    def scopes(self) -> tuple[str, ...]:
        wanted = ("openid", "offline_access", *self.extra_scopes)
        return tuple(dict.fromkeys(wanted))


def oidc_token(o: OidcOptions, err: TextIO, now: float | None = None) -> tuple[str, int]:
    """(ID token, expiry): cached, refreshed or from a new login, in that order."""
    from cli import token_cache

    cache = token_cache.TokenCache(o.cache_dir or token_cache.default_dir(), err)
    name = token_cache.key(o.issuer, o.client_id, o.scopes)
    with cache.locked(name):
        entry = cache.read(name, o.issuer, o.client_id)
        expiry = token_cache.reusable(entry.id_token, time.time() if now is None else now)
        if entry.id_token and expiry is not None:
            return entry.id_token, expiry
        from cli import oidc

        with oidc.http_client(o.ca_file, ca_data=o.ca_data) as http:
            provider = oidc.discover(http, o.issuer)
            tokens = None
            if entry.refresh_token:
                try:
                    tokens = oidc.refresh(http, provider, o.client_id, o.client_secret, entry.refresh_token)
                except oidc.RefreshRejected as exc:
                    print(f"The cached login is no longer accepted ({exc}); logging in again.", file=err)
            if tokens is None:
                settings = oidc.LoginSettings(client_id=o.client_id, client_secret=o.client_secret, scopes=o.scopes,
                                              redirect_urls=o.redirect_urls, open_browser=o.open_browser,
                                              timeout=o.login_timeout)
                device = o.grant is Grant.device_code
                login = oidc.login_device if device else oidc.login_authcode
                tokens = login(http, provider, settings, err)
        cache.write(name, token_cache.Entry(o.issuer, o.client_id, tokens.id_token, tokens.refresh_token))
        return tokens.id_token, tokens.expiry


# ---- ServiceAccount tokens ----

def duration_seconds(text: str) -> int:
    from hooks.durations import whole_seconds

    try:
        seconds = whole_seconds(text)
    except ValueError:
        raise LatticeError(f"--duration: {text!r} is not a duration (e.g. 1h, 8h, 24h, 90m)", exit_code=2) from None
    if seconds < MIN_SA_SECONDS:
        raise LatticeError("--duration must be at least 10m (the API server's minimum for a token)", exit_code=2)
    return seconds


def sa_token(kubeconfig: str | None, context: str | None, namespace: str, service_account: str, seconds: int,
             audiences: tuple[str, ...]) -> tuple[str, float]:
    """A TokenRequest through kr8s: (token, expiry)."""
    import asyncio

    from cli import kubeconfigs

    config = kubeconfigs.load(kubeconfig)
    name = context or config.current or (config.contexts[0].name if config.contexts else None)
    if name is None:
        raise LatticeError(f"no contexts in {', '.join(map(str, config.paths)) or 'the kubeconfig'}")
    ctx = config.context(name)
    spec: dict[str, Any] = {"expirationSeconds": seconds}
    if audiences:
        spec["audiences"] = list(audiences)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    who = f"ServiceAccount {namespace}/{service_account}"

    async def request(cfg: dict[str, Any]) -> dict[str, Any]:
        import httpx
        import kr8s
        import kr8s.asyncio

        api = await kr8s.asyncio.api(kubeconfig=cfg, context=ctx.name)  # type: ignore[arg-type]
        api.timeout = 30
        try:
            async with api.call_api("POST", version="v1", namespace=namespace,
                                    url=f"serviceaccounts/{service_account}/token", content=json.dumps(body)) as r:
                answer: dict[str, Any] = r.json()
                return answer
        except kr8s.ServerError as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code == 404:
                raise LatticeError(f"{who} not found on {ctx.server} (context {ctx.name})") from None
            if code in (401, 403):
                raise LatticeError(f"not allowed to create a token for {who} on {ctx.server} (context {ctx.name}): "
                                   "needs 'create' on serviceaccounts/token there") from None
            raise LatticeError(f"TokenRequest for {who} failed: {exc}") from None
        except (httpx.HTTPError, kr8s.APITimeoutError, OSError) as exc:
            raise LatticeError(f"cannot reach {ctx.server} (context {ctx.name}): {exc or type(exc).__name__}") from None
        finally:
            session = getattr(api, "_session", None)
            if isinstance(session, httpx.AsyncClient):
                await session.aclose()

    with kubeconfigs.materializer() as mat:
        answer = asyncio.run(request(mat.config(ctx)))
    status = answer.get("status") or {}
    token = status.get("token")
    if not isinstance(token, str) or not token:
        raise LatticeError(f"the API server answered the TokenRequest for {who} without a token")
    from crds.agent_lease import parse_time

    expiry = parse_time(status.get("expirationTimestamp")) or time.time() + seconds
    return token, expiry


@contextlib.contextmanager
def _one_level_deeper() -> Iterator[None]:
    """A kubeconfig whose credentials come from ``lattice token`` pointing back at itself would fork
    forever: count the levels in the environment the credential plugins we run inherit."""
    before = os.environ.get(DEPTH_ENV)
    depth = int(before or 0) if (before or "0").isdigit() else 0
    if depth >= MAX_DEPTH:
        raise LatticeError(f"lattice token called itself {depth} levels deep: the kubeconfig it reads gets its "
                           "credentials from lattice token again (point --kubeconfig at one with its own credentials)")
    os.environ[DEPTH_ENV] = str(depth + 1)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DEPTH_ENV, None)
        else:
            os.environ[DEPTH_ENV] = before


def run(oidc_options: OidcOptions | None, sa: tuple[str | None, str | None, str, str, str, tuple[str, ...]],
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    version = requested_version()
    if oidc_options is not None:
        with _one_level_deeper():
            token, expiry = oidc_token(oidc_options, err)
        out.write(exec_credential(token, expiry, version))
        return 0
    kubeconfig, context, namespace, service_account, duration, audiences = sa
    if "/" in service_account:  # NAMESPACE/NAME, as the proxy's kubeconfig writes it
        namespace, _, service_account = service_account.partition("/")
        if not namespace or not service_account or "/" in service_account:
            raise LatticeError(f"--service-account {sa[3]!r}: expected NAME or NAMESPACE/NAME", exit_code=2)
    seconds = duration_seconds(duration)
    with _one_level_deeper():
        token, sa_expiry = sa_token(kubeconfig, context, namespace, service_account, seconds, audiences)
    out.write(exec_credential(token, sa_expiry, version))
    return 0


def register(app: typer.Typer) -> None:
    @app.command("token", short_help="A credential for kubectl's exec plugin: OIDC login or ServiceAccount token.")
    def token(
        kubeconfig: Annotated[str | None, typer.Option(
            "--kubeconfig", metavar="PATH", help="ServiceAccount mode: the kubeconfig of the cluster holding the "
            "ServiceAccount (default: $KUBECONFIG, else ~/.kube/config).")] = None,
        context: Annotated[str | None, typer.Option(
            "--context", metavar="NAME", help="ServiceAccount mode: the context to use (default: the current one).")
        ] = None,
        namespace: Annotated[str, typer.Option(
            "-n", "--namespace", metavar="NS", help="ServiceAccount namespace.")] = "lattice-system",
        service_account: Annotated[str, typer.Option(
            "-s", "--service-account", metavar="NAME", help="ServiceAccount name, or NAMESPACE/NAME.")] = "default",
        duration: Annotated[str, typer.Option(
            "-d", "--duration", metavar="DURATION", help="ServiceAccount token lifetime (1h, 8h, 24h; at least 10m).")
        ] = "1h",
        audience: Annotated[list[str] | None, typer.Option(
            "--audience", metavar="AUD", help="ServiceAccount token audience; repeatable (default: the API server's).")
        ] = None,
        oidc_issuer_url: Annotated[str | None, typer.Option(
            "--oidc-issuer-url", metavar="URL", help="OIDC mode: the issuer (exactly as in its tokens' iss).")] = None,
        oidc_client_id: Annotated[str | None, typer.Option(
            "--oidc-client-id", metavar="ID", help="OIDC mode: the client id (the tokens' audience).")] = None,
        oidc_client_secret: Annotated[str | None, typer.Option(
            "--oidc-client-secret", metavar="SECRET", envvar="LATTICE_OIDC_CLIENT_SECRET",
            help="OIDC mode: for a confidential client (default: a public client with PKCE).")] = None,
        oidc_extra_scope: Annotated[list[str] | None, typer.Option(
            "--oidc-extra-scope", metavar="SCOPE", help="OIDC mode: a scope beyond openid and offline_access "
            "(e.g. email, groups); repeatable.")] = None,
        redirect_url: Annotated[list[str] | None, typer.Option(
            "--redirect-url", metavar="URL", help="OIDC mode: the loopback redirect registered for the client; "
            "repeatable, the first free port wins; port 0 picks any "
            "(default: http://127.0.0.1:8000/callback, then port 18000).")] = None,
        grant_type: Annotated[Grant, typer.Option(
            "--grant-type", metavar="GRANT", help="OIDC mode: auto or authcode (browser, loopback redirect), "
            "device-code (a code to enter on another device; needs an issuer that offers it).")] = Grant.auto,
        skip_open_browser: Annotated[bool, typer.Option(
            "--skip-open-browser", help="OIDC mode: only print the login URL.")] = False,
        certificate_authority: Annotated[str | None, typer.Option(
            "--certificate-authority", metavar="FILE", help="OIDC mode: CA bundle for the issuer's TLS.")] = None,
        certificate_authority_data: Annotated[str | None, typer.Option(
            "--certificate-authority-data", metavar="BASE64", help="OIDC mode: the same as base64 of PEM "
            "(what GET /kubeconfig writes for an OIDCProvider with a caBundle).")] = None,
        token_cache_dir: Annotated[Path | None, typer.Option(
            "--token-cache-dir", metavar="DIR", help="OIDC mode: where tokens are cached "
            "(default: $XDG_CACHE_HOME/lattice/oidc, else ~/.cache/lattice/oidc).")] = None,
        login_timeout: Annotated[float, typer.Option(
            "--login-timeout", metavar="SECONDS", help="OIDC mode: how long to wait for the login.")] = 300.0,
    ) -> None:
        """Print a client.authentication.k8s.io ExecCredential with a token and its expiry, for kubectl's
        exec credential plugins. With --oidc-issuer-url: an OIDC ID token (cached; refreshed; a browser or
        device login when needed). Otherwise: a ServiceAccount token from the TokenRequest API."""
        options = None
        if oidc_issuer_url or oidc_client_id:
            if not (oidc_issuer_url and oidc_client_id):
                raise LatticeError("OIDC mode needs both --oidc-issuer-url and --oidc-client-id", exit_code=2)
            options = OidcOptions(
                issuer=oidc_issuer_url, client_id=oidc_client_id, client_secret=oidc_client_secret,
                extra_scopes=tuple(oidc_extra_scope or ()),
                redirect_urls=tuple(redirect_url) if redirect_url else DEFAULT_REDIRECTS,
                grant=grant_type, open_browser=not skip_open_browser, ca_file=certificate_authority,
                ca_data=certificate_authority_data,
                cache_dir=token_cache_dir, login_timeout=login_timeout)
        code = run(options, (kubeconfig, context, namespace, service_account, duration, tuple(audience or ())))
        if code:
            raise typer.Exit(code)
