"""What a machine needs on first boot, independent of kubeadm or RKE2.

Providers and the agent installer contribute ``NodeSetup`` parts; ``hooks.cluster.kubeadm`` and
``hooks.cluster.rke2`` render the merged result into their own config shapes.
"""

from __future__ import annotations

from typing import Any

import attrs

from crds.cluster import Taint


@attrs.frozen
class File:
    """A file written by cloud-init: inline ``content``, or one key of a Secret in the cluster's
    namespace (resolved by the bootstrap provider into the machine's bootstrap data Secret)."""

    path: str
    content: str | None = None
    secret: tuple[str, str] | None = None  # (name, key)
    permissions: str = "0644"
    owner: str = "root:root"


@attrs.frozen
class NodeSetup:
    kubelet_args: tuple[tuple[str, str], ...] = ()
    node_name: str | None = None  # kubeadm nodeRegistration.name (cloud-init template)
    node_labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    files: tuple[File, ...] = ()
    pre_commands: tuple[str, ...] = ()
    post_commands: tuple[str, ...] = ()
    ssh_keys: tuple[str, ...] = ()
    # control plane only
    cert_sans: tuple[str, ...] = ()
    api_server_args: tuple[tuple[str, str], ...] = ()

    def __add__(self, other: NodeSetup) -> NodeSetup:
        return NodeSetup(
            kubelet_args=_merge(self.kubelet_args, other.kubelet_args),
            node_name=other.node_name or self.node_name,
            node_labels=_merge(self.node_labels, other.node_labels),
            taints=self.taints + other.taints,
            files=self.files + other.files,
            pre_commands=self.pre_commands + other.pre_commands,
            post_commands=self.post_commands + other.post_commands,
            ssh_keys=_unique(self.ssh_keys + other.ssh_keys),
            cert_sans=_unique(self.cert_sans + other.cert_sans),
            api_server_args=_merge(self.api_server_args, other.api_server_args),
        )


def _merge(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Later settings win; order of first appearance is kept (args must be unique by name)."""
    out = dict(a)
    out.update(b)
    return tuple(out.items())


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def render_file(f: File) -> dict[str, Any]:
    """The ``files`` entry both bootstrap providers take (same shape in kubeadm and RKE2)."""
    out: dict[str, Any] = {"path": f.path, "owner": f.owner, "permissions": f.permissions}
    if f.secret is not None:
        out["contentFrom"] = {"secret": {"name": f.secret[0], "key": f.secret[1]}}
    else:
        out["content"] = f.content
    return out
