"""First boot of a new cluster's control plane: install the Lattice agent with a one-time token.

The control plane's bootstrap config (KubeadmControlPlane or RKE2ControlPlane) gets

- three files filled from the Secret ``<cluster>-lattice-bootstrap`` (``contentFrom.secret``):
  the parent cell's bootstrap URL, its CA bundle and the one-time token, mode 0600, and
- the installer script (inline, it holds nothing secret) run as the last post-bootstrap command.

Why a Secret reference and not the token in the command line: the KubeadmControlPlane and
RKE2ControlPlane are read by anyone who may read Cluster API objects (the read-only CAPI proxy,
``kubectl get -o yaml``, Metacontroller's cache and hook requests), while the bootstrap provider
copies ``contentFrom`` values only into the machine's bootstrap-data Secret. It also keeps the
control plane's spec stable: a fresh token or a rotated CA bundle changes the Secret, not the spec,
so it does not roll the control-plane machines. The Secret must outlive the bootstrap (later
control-plane machines resolve the same reference); once used, the token is worthless (the cell
answers 410) and the shell may blank it.

The script runs detached (a systemd unit when available) so cloud-init finishes and Cluster API
sees the machine bootstrapped while the agent install retries. It fetches
``GET <url>/api/clusters/<cluster>/manifests`` with the token as a Bearer header read from a file
(never an argument: command lines are world-readable in /proc), applies the YAML server-side, then
empties the token file. Every control-plane node runs it; only the first wins (410 for the others).
"""

from __future__ import annotations

import base64

import attrs

from crds.cluster import Bootstrap
from hooks.cluster import apis, names
from hooks.cluster.apis import Obj
from hooks.cluster.nodes import File, NodeSetup

DIR = "/etc/lattice/bootstrap"
SCRIPT = "/etc/lattice/install-agent.sh"
KEYS = ("url", "ca.crt", "token")

_KUBECTL = {
    Bootstrap.KUBEADM: ("kubectl", "/etc/kubernetes/admin.conf"),
    Bootstrap.RKE2: ("/var/lib/rancher/rke2/bin/kubectl", "/etc/rancher/rke2/rke2.yaml"),
}

_SCRIPT = """#!/bin/sh
# Installs the Lattice agent of cluster {cluster} from its parent cell (written by Lattice).
if [ "${{1:-}}" = "--detach" ]; then
  if command -v systemd-run >/dev/null 2>&1; then
    exec systemd-run --unit=lattice-install-agent --collect "$0"
  fi
  nohup "$0" >>/var/log/lattice-install-agent.log 2>&1 &
  exit 0
fi
set -u
umask 077
cluster={cluster}
dir={dir}
kubectl={kubectl}
export KUBECONFIG={kubeconfig}
log() {{ echo "lattice-install-agent: $*" >&2; }}
if [ ! -s "$dir/token" ]; then log "no bootstrap token (already used); nothing to do"; exit 0; fi
work="$(mktemp -d "$dir/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
printf 'Authorization: Bearer %s\\n' "$(cat "$dir/token")" >"$work/header"
url="$(cat "$dir/url")/api/clusters/$cluster/manifests"
n=0
delay=5
while :; do
  n=$((n + 1))
  code="$(curl -sS -o "$work/manifests.yaml" -w '%{{http_code}}' --cacert "$dir/ca.crt" \\
    -H @"$work/header" "$url")" || code=000
  case "$code" in
    200) break ;;
    410) log "token already used: another control-plane node installed the agent"; exit 0 ;;
  esac
  if [ "$n" -ge 12 ]; then log "giving up after $n attempts (last HTTP status $code)"; exit 1; fi
  log "attempt $n: HTTP status $code; retrying in ${{delay}}s"
  sleep "$delay"
  delay=$((delay * 2))
  if [ "$delay" -gt 60 ]; then delay=60; fi
done
n=0
until "$kubectl" apply --server-side --force-conflicts --field-manager=lattice-bootstrap \\
    -f "$work/manifests.yaml"; do
  n=$((n + 1))
  if [ "$n" -ge 30 ]; then log "kubectl apply failed $n times"; exit 1; fi
  sleep 10
done
: >"$dir/token"
log "agent installed"
"""


def script(cluster: str, bootstrap: Bootstrap, *, directory: str = DIR, kubectl: str | None = None,
           kubeconfig: str | None = None) -> str:
    """The installer (``directory``/``kubectl``/``kubeconfig`` are overridable for tests)."""
    default_kubectl, default_kubeconfig = _KUBECTL[bootstrap]
    return _SCRIPT.format(cluster=cluster, dir=directory, kubectl=kubectl or default_kubectl,
                          kubeconfig=kubeconfig or default_kubeconfig)


def node_setup(cluster: str, bootstrap: Bootstrap, secret_name: str) -> NodeSetup:
    """The files and the post-bootstrap command of the control plane."""
    files = tuple(File(path=f"{DIR}/{key}", secret=(secret_name, key), permissions="0600") for key in KEYS)
    installer = File(path=SCRIPT, content=script(cluster, bootstrap), permissions="0700")
    return NodeSetup(files=(*files, installer), post_commands=(f"{SCRIPT} --detach",))


@attrs.frozen
class BootstrapData:
    """The one-time install data of one child: the parent cell's bootstrap URL (``https://host:port``),
    its CA trust bundle (PEM) and the token issued for the child."""

    url: str
    ca_bundle_pem: str
    token: str = attrs.field(repr=False)


def bootstrap_secret(cluster: str, data: BootstrapData, secret_name: str | None = None) -> Obj:
    """The Secret the control plane's bootstrap files read, for the shell to write directly.

    Not part of :func:`hooks.cluster.compile_cluster`'s objects on purpose: the compiled objects
    carry no secret values, so they can be logged, diffed and returned by hooks.
    """
    name = secret_name or names.bootstrap_secret(cluster)
    obj = apis.new_object(apis.SECRET, name, names.namespace(cluster), names.labels(cluster))
    obj["type"] = "Opaque"
    values = {"url": data.url.rstrip("/"), "ca.crt": data.ca_bundle_pem, "token": data.token}
    obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    return obj
