"""Where a child cluster finds its parent: the Secret the cell's bootstrap manifests write and the
agent reads on start (or a directory with the same keys as files).

Both sides of the tunnel use this one definition, so the keys cannot drift apart.
"""

from __future__ import annotations

import attrs

NAMESPACE = "lattice-system"
PARENT_CONFIG_SECRET = "lattice-parent-config"
REQUIRED_KEYS = frozenset({"cluster", "grpc_endpoint", "ca.crt"})


class ParentConfigError(Exception):
    """The parent config lacks a key the agent needs; the message names the source and the keys."""


@attrs.frozen
class ParentConfig:
    cluster: str  # this (child) cluster's name, as the parent registered it
    grpc_endpoint: str  # host:port of the parent cell's agent endpoint
    bootstrap_url: str  # https://host:port of the parent's bootstrap webhook (for the CSR)
    server_name: str  # TLS name to verify the cell against
    ca_pem: bytes  # the parent's CA bundle
    token: str = attrs.field(repr=False, default="")  # one-time bootstrap token; authorizes the CSR

    @classmethod
    def from_data(cls, data: dict[str, bytes], source: str) -> ParentConfig:
        missing = REQUIRED_KEYS - data.keys()
        if missing:
            raise ParentConfigError(f"{source} lacks {', '.join(sorted(missing))}")
        text = {k: v.decode() for k, v in data.items() if k != "ca.crt"}
        return cls(text["cluster"], text["grpc_endpoint"], text.get("bootstrap_url", ""),
                   text.get("server_name", ""), data["ca.crt"], text.get("token", ""))

    def to_data(self) -> dict[str, bytes]:
        """The Secret's data (or the directory's files), decoded."""
        return {
            "cluster": self.cluster.encode(), "grpc_endpoint": self.grpc_endpoint.encode(),
            "bootstrap_url": self.bootstrap_url.encode(), "server_name": self.server_name.encode(),
            "ca.crt": self.ca_pem, "token": self.token.encode(),
        }
