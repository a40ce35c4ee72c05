"""The authenticated API proxy of a cell (port 8082; docs/proxy.md): one HTTPS endpoint for every
cluster of the cell's subtree. Each request is authenticated (OIDC ID tokens of the OIDCProvider
objects, or ServiceAccount tokens through TokenReview), authorized by Cedar ``AccessCluster``
(``lattice_cedar``), and sent down the tunnel with the caller's identity, which the last hop
impersonates on the target so its RBAC applies. Exec, attach and port-forward upgrades are relayed
as bytes.

Modules: ``identity`` (who the caller is, why a token failed), ``oidc`` and ``tokenreview`` (the two
token kinds), ``authn`` (which one a token is, caching, metrics), ``auth_throttle`` (how many failed
authentications a client address may cause, pure), ``authz`` (Cedar decisions and
their cache), ``object_watch`` (the CedarPolicy and OIDCProvider objects the cell follows),
``discovery`` (the cluster list and kubeconfig, pure), ``front`` (the ASGI app), ``upgrades`` (the
HTTP server's hand-off of upgraded connections), ``service`` (assembly: ``ApiProxy``).
"""

from lattice_cell.proxy.service import ApiProxy, ApiProxyConfig

__all__ = ["ApiProxy", "ApiProxyConfig"]
