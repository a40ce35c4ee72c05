"""The OIDC token cache of ``lattice token``: one file per issuer, client and scopes.

``$XDG_CACHE_HOME/lattice/oidc`` (default ``~/.cache/lattice/oidc``), or ``--token-cache-dir``.
The folder is 0700 and every file 0600, written atomically (a new file, then rename) so a reader
never sees half an entry; a file found readable by others is tightened and said so. An entry holds
the last ID token (reused until shortly before it expires) and the refresh token. Callers hold the
entry's lock (``flock`` on a sibling ``.lock`` file) from reading to writing, so kubectl running
several ``lattice token`` at once spends a refresh token once: issuers that rotate refresh tokens
(Hydra does) revoke the whole family when an old one is replayed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import attrs


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "lattice" / "oidc"


def key(issuer: str, client_id: str, scopes: tuple[str, ...]) -> str:
    return hashlib.sha256(json.dumps([issuer, client_id, sorted(scopes)]).encode()).hexdigest()[:32]


@attrs.frozen
class Entry:
    issuer: str
    client_id: str
    id_token: str | None = None
    refresh_token: str | None = None


def claims_of(id_token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only for a token that was verified when it was stored."""
    try:
        payload = id_token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reusable(id_token: str | None, now: float) -> int | None:
    """The expiry of a cached ID token still worth handing out, else None. "Near expiry" is the last
    quarter of its life, at most a minute: kubectl keeps what it gets until the expiry we print."""
    if not id_token:
        return None
    claims = claims_of(id_token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float):
        return None
    life = exp - iat if isinstance(iat, int | float) and iat < exp else 240
    return int(exp) if now < exp - min(60.0, life / 4) else None


class TokenCache:
    def __init__(self, folder: Path, err: TextIO | None = None) -> None:
        self.folder = folder
        self.err = err or sys.stderr

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(self.folder.stat().st_mode)
        if mode & 0o077:
            os.chmod(self.folder, 0o700)
            print(f"warning: {self.folder} was readable by others ({oct(mode)}); now 0700", file=self.err)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        self._ensure_folder()
        fd = os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def read(self, name: str, issuer: str, client_id: str) -> Entry:
        path = self.path(name)
        try:
            st = path.stat()
            text = path.read_text()
        except FileNotFoundError:
            return Entry(issuer, client_id)
        except OSError as exc:
            print(f"warning: cannot read the token cache {path}: {exc}; logging in afresh", file=self.err)
            return Entry(issuer, client_id)
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, 0o600)
            print(f"warning: {path} was readable by others ({oct(stat.S_IMODE(st.st_mode))}); now 0600 "
                  "(consider its refresh token exposed)", file=self.err)
        try:
            data = json.loads(text)
        except ValueError:
            return Entry(issuer, client_id)
        if not isinstance(data, dict) or data.get("issuer") != issuer or data.get("client_id") != client_id:
            return Entry(issuer, client_id)
        return Entry(issuer, client_id, id_token=data.get("id_token") or None,
                     refresh_token=data.get("refresh_token") or None)

    def write(self, name: str, entry: Entry) -> None:
        self._ensure_folder()
        path = self.path(name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # also when a stale temporary file of another mode was there
            with os.fdopen(fd, "w") as f:
                json.dump(attrs.asdict(entry), f)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
