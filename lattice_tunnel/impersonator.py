"""The last hop's own identity: a ServiceAccount that may impersonate and do nothing else.

Every tunnelled request is executed on its cluster as the original caller (`Impersonate-*`), so
the credentials the last hop presents need only the `impersonate` verb. The operator's own
identity can do far more (it installs agents, imports objects during pivot), so the last hop does
not use it: it asks the TokenRequest API for a token of ServiceAccount `lattice-system/lattice-proxy`
(bound to ClusterRole `lattice-proxy-impersonator` by the install manifests:
`manifests/proxy-rbac.yaml`, `lattice_cell.manifests.impersonator_rbac`) and renews it at 80 % of
its life. A cluster without that ServiceAccount (installed before it existed) falls back to the
process's own credentials, with a warning.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import time

from lattice_tunnel.kube_api import KubeApi, KubeApiError
from lattice_tunnel.kube_exec import KubeExecutor
from lattice_tunnel.kube_target import KubeTarget

log = logging.getLogger(__name__)

DEFAULT_SERVICE_ACCOUNT = "lattice-system/lattice-proxy"
TOKEN_SECONDS = 3600
RETRY_SECONDS = 10.0


def add_impersonator_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--impersonator", default=DEFAULT_SERVICE_ACCOUNT, metavar="NAMESPACE/NAME",
                   help="ServiceAccount the last hop authenticates as (it may only impersonate); "
                        "empty: this process's own credentials")


class ServiceAccountToken:
    """A ServiceAccount's token from the TokenRequest API, renewed before it expires."""

    def __init__(self, kube: KubeApi, namespace: str, name: str, seconds: int = TOKEN_SECONDS) -> None:
        self.kube, self.namespace, self.name, self.seconds = kube, namespace, name, seconds
        self.token: str | None = None
        self.expires = 0.0
        self._task: asyncio.Task[None] | None = None

    def current(self) -> str | None:
        return self.token

    async def fetch(self) -> None:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": self.seconds}}
        answer = await self.kube.create("v1", "serviceaccounts", body, namespace=self.namespace,
                                        subresource=f"{self.name}/token")
        status = answer.get("status") or {}
        self.token = str(status["token"])
        stamp = str(status.get("expirationTimestamp") or "")
        try:
            self.expires = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            self.expires = time.time() + self.seconds

    async def _renew(self) -> None:
        while True:
            issued_for = max(self.expires - time.time(), 0.0)
            await asyncio.sleep(max(issued_for * 0.8, RETRY_SECONDS) if self.token else RETRY_SECONDS)
            try:
                await self.fetch()
            except (KubeApiError, OSError, KeyError) as exc:
                log.warning("cannot renew the token of %s/%s: %s", self.namespace, self.name, exc)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._renew())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def last_hop_executor(target: KubeTarget, kube: KubeApi,
                            service_account: str) -> tuple[KubeExecutor, ServiceAccountToken | None]:
    """The executor tunnelled requests run through on this cluster, authenticated as
    `service_account` ("namespace/name") when it exists, else as the process itself."""
    if not service_account:
        return KubeExecutor(target), None
    namespace, _, name = service_account.partition("/")
    token = ServiceAccountToken(kube, namespace, name)
    try:
        await token.fetch()
    except (KubeApiError, OSError, KeyError) as exc:
        log.warning("ServiceAccount %s is not usable (%s): tunnelled requests authenticate with this process's "
                    "own credentials, which can do more than impersonate; apply manifests/proxy-rbac.yaml",
                    service_account, exc)
        return KubeExecutor(target), None
    token.start()
    log.info("tunnelled requests run as %s, impersonating each caller", service_account)
    return KubeExecutor(target, bearer=token.current), token
