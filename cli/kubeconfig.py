"""``lattice kubeconfig``: a kubeconfig with one context per cluster the caller may reach through a
cell's API proxy (docs/proxy.md), its CA bundle, and credentials through the ``lattice token`` exec
plugin.

Where the proxy is: ``--proxy URL``, else ``$LATTICE_PROXY``, else ConfigMap
``lattice-system/lattice-proxy`` (URL and CA bundle) read with ``--kubeconfig``/``--context``.
Who the caller is, to ask the proxy: ``--token``/``--token-file``, else the same exec plugin the
kubeconfig will use (``--service-account NS/NAME``, or the proxy's OIDC provider: ``--oidc-provider``
or the only one). Output: stdout, ``-o FILE`` (a new file only), or ``--merge`` (into ``-o FILE`` or
the kubeconfig kubectl would use); a user's kubeconfig is never overwritten without ``--merge``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml

from cli.errors import LatticeError

PROXY_ENV = "LATTICE_PROXY"
CONFIGMAP = ("lattice-system", "lattice-proxy")
SA_AUDIENCE = "lattice-proxy"


def command(
    proxy: Annotated[str | None, typer.Option("--proxy", metavar="URL", help=f"The API proxy, e.g. https://host:8082 "
                                              f"(default: ${PROXY_ENV}, else ConfigMap lattice-system/lattice-proxy "
                                              "of the --kubeconfig cluster).")] = None,
    certificate_authority: Annotated[Path | None, typer.Option(
        "--certificate-authority", metavar="FILE", help="CA bundle to trust the proxy with.")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", metavar="TOKEN", help="Bearer token to ask the proxy with.")] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", metavar="FILE")] = None,
    service_account: Annotated[str | None, typer.Option(
        "--service-account", metavar="NAMESPACE/NAME",
        help="Use tokens of this ServiceAccount (of the --kubeconfig cluster) instead of OIDC.")] = None,
    oidc_provider: Annotated[str | None, typer.Option(
        "--oidc-provider", metavar="NAME", help="Which OIDCProvider to log in with, when there are several.")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(
        "--kubeconfig", metavar="FILE", help="Kubeconfig of the proxy's cluster (to find it; ServiceAccount tokens)."
    )] = None,
    context: Annotated[str | None, typer.Option("--context", metavar="NAME")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", metavar="FILE",
                                                help="Write here (a new file, unless --merge).")] = None,
    merge: Annotated[bool, typer.Option(
        "--merge", help="Merge the contexts into -o FILE, or the kubeconfig kubectl uses; same-named entries "
                        "are replaced, others kept.")] = False,
) -> None:
    """Write a kubeconfig for every cluster you may reach through a Lattice API proxy."""
    if token_file is not None:
        token = token_file.read_text().strip()
    config = build(proxy=proxy, ca_file=certificate_authority, token=token, service_account=service_account,
                   oidc_provider=oidc_provider, kubeconfig=kubeconfig, context=context)
    if merge:
        target = output or default_kubeconfig()
        replaced = merge_into(target, config)
        names = ", ".join(c["name"] for c in config["contexts"])
        print(f"merged contexts {names} into {target}" + (f" (replaced: {', '.join(replaced)})" if replaced else ""),
              file=sys.stderr)
    elif output is not None:
        if output.exists():
            raise LatticeError(f"{output} exists; use --merge to add the contexts to it, or choose a new file")
        write_private(output, config)
        print(f"kubeconfig written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False))


# ---- where the proxy is ----
def locate(proxy: str | None, ca_file: Path | None, kubeconfig: Path | None,
           context: str | None) -> tuple[str, bytes | None]:
    """(proxy URL, CA bundle or None for system trust)."""
    ca = ca_file.read_bytes() if ca_file else None
    url = proxy or os.environ.get(PROXY_ENV)
    if url:
        return url.rstrip("/"), ca
    published = asyncio.run(_published(kubeconfig, context))
    if published is None or not published.get("url"):
        raise LatticeError(f"no --proxy given, ${PROXY_ENV} unset, and no ConfigMap {'/'.join(CONFIGMAP)} on the "
                           "cluster of the current kubeconfig: pass --proxy https://<cell>:8082")
    bundle = published.get("ca.crt")
    return published["url"].rstrip("/"), ca or (bundle.encode() if bundle else None)


async def _published(kubeconfig: Path | None, context: str | None) -> dict[str, str] | None:
    from lattice_tunnel.kube_api import KubeApi, KubeApiError
    from lattice_tunnel.kube_target import KubeConfigError, resolve

    try:
        kube = await KubeApi.connect(resolve(str(kubeconfig) if kubeconfig else None, context))
    except KubeConfigError as exc:
        raise LatticeError(str(exc)) from exc
    try:
        return await kube.get_configmap(*CONFIGMAP)
    except (KubeApiError, OSError) as exc:
        raise LatticeError(f"cannot read ConfigMap {'/'.join(CONFIGMAP)}: {exc}") from exc
    finally:
        await kube.aclose()


# ---- who asks ----
def token_command(args: list[str]) -> list[str]:
    """How to run `lattice token ...` from here: the `lattice` on PATH, else this interpreter."""
    found = shutil.which("lattice")
    return [found, *args] if found else [sys.executable, "-m", "cli.main", *args]


def exec_token(args: list[str]) -> str:
    """Run the exec plugin and take `status.token` from its ExecCredential."""
    proc = subprocess.run(token_command(args), stdout=subprocess.PIPE, text=True, check=False)  # stderr: the user's
    if proc.returncode != 0:
        raise LatticeError(f"`lattice {' '.join(args)}` failed (exit {proc.returncode}); pass --token instead")
    try:
        return str(json.loads(proc.stdout)["status"]["token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LatticeError(f"`lattice {' '.join(args)}` printed no ExecCredential with a token") from exc


def location_args(kubeconfig: Path | None, context: str | None) -> list[str]:
    """Where a ServiceAccount token comes from: the server cannot know the caller's kubeconfig."""
    return ([f"--kubeconfig={kubeconfig.resolve()}"] if kubeconfig else []) + (
        [f"--context={context}"] if context else [])


def sa_args(service_account: str, kubeconfig: Path | None, context: str | None) -> list[str]:
    if service_account.count("/") != 1:
        raise LatticeError(f"--service-account {service_account!r}: expected NAMESPACE/NAME")
    return ["token", f"--service-account={service_account}", f"--audience={SA_AUDIENCE}",
            *location_args(kubeconfig, context)]


def oidc_args(providers: list[dict[str, Any]], wanted: str | None) -> list[str]:
    names = [p["name"] for p in providers]
    chosen = [p for p in providers if p["name"] == wanted] if wanted else providers
    if len(chosen) != 1:
        detail = f"no OIDCProvider {wanted!r}" if wanted else f"{len(providers)} OIDC providers"
        raise LatticeError(f"{detail} on the proxy ({', '.join(names) or 'none'}): pass --oidc-provider NAME, "
                           "--service-account NAMESPACE/NAME or --token")
    p = chosen[0]
    args = ["token", f"--oidc-issuer-url={p['issuerUrl']}", f"--oidc-client-id={p['clientId']}"]
    ca = p.get("certificateAuthorityData")
    if ca:
        args.append(f"--certificate-authority-data={ca}")
    return [*args, *(f"--oidc-extra-scope={s}" for s in p.get("extraScopes", []))]


# ---- the kubeconfig ----
def _client(url: str, ca: bytes | None, token: str | None = None) -> httpx.Client:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cadata=ca.decode()) if ca else True
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, verify=verify, headers=headers, timeout=30)


def _get(client: httpx.Client, path: str) -> Any:
    try:
        r = client.get(path)
    except httpx.HTTPError as exc:
        raise LatticeError(f"cannot reach the API proxy at {client.base_url}: {exc}") from exc
    if r.status_code != 200:
        try:
            detail = r.json().get("message", r.text)
        except ValueError:
            detail = r.text
        raise LatticeError(f"the API proxy answered {r.status_code} for {path}: {detail}")
    return r.json()


def build(*, proxy: str | None, ca_file: Path | None, token: str | None, service_account: str | None,
          oidc_provider: str | None, kubeconfig: Path | None, context: str | None) -> dict[str, Any]:
    url, ca = locate(proxy, ca_file, kubeconfig, context)
    plugin: list[str] | None = None
    if service_account:
        plugin = sa_args(service_account, kubeconfig, context)
    elif token is None:
        with _client(url, ca) as c:
            plugin = oidc_args(_get(c, "/auth/providers").get("oidc", []), oidc_provider)
    if token is None:
        assert plugin is not None
        token = exec_token(plugin)
    with _client(url, ca, token) as c:
        config: dict[str, Any] = _get(c, "/kubeconfig")
    for user in config.get("users", []):
        exec_ = user.get("user", {}).get("exec")
        if exec_ is None:
            continue
        if plugin is not None:
            exec_["args"] = plugin  # exactly what just worked
        elif any(a.startswith("--service-account=") for a in exec_["args"]):
            exec_["args"] += location_args(kubeconfig, context)
    if ca is not None:  # what this client trusted, whatever the proxy said
        for cluster in config.get("clusters", []):
            cluster["cluster"]["certificate-authority-data"] = base64.b64encode(ca).decode()
    return config


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG")
    return Path(env.split(os.pathsep)[0]) if env else Path.home() / ".kube" / "config"


def write_private(path: Path, config: dict[str, Any]) -> None:
    """Atomically, mode 0600 (it names credentials, even if only a command)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_into(path: Path, config: dict[str, Any]) -> list[str]:
    """Add `config`'s clusters, contexts and users to the kubeconfig at `path` (created if missing);
    entries of the same name are replaced. Its current-context is kept (set only when it had none).
    Returns the names of the contexts replaced."""
    try:
        existing: Any = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    except yaml.YAMLError as exc:
        raise LatticeError(f"{path} is not a kubeconfig: {exc}") from exc
    if not isinstance(existing, dict):
        raise LatticeError(f"{path} is not a kubeconfig")
    replaced: list[str] = []
    merged = {"apiVersion": "v1", "kind": "Config", **existing}
    for section in ("clusters", "contexts", "users"):
        new = {e["name"]: e for e in config.get(section, [])}
        kept = []
        for entry in merged.get(section) or []:
            if entry.get("name") in new:
                if section == "contexts":
                    replaced.append(entry["name"])
                continue
            kept.append(entry)
        merged[section] = kept + list(new.values())
    if not merged.get("current-context"):
        merged["current-context"] = config.get("current-context", "")
    write_private(path, merged)
    return replaced
