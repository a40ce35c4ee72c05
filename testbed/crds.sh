#!/usr/bin/env bash
# Print the paths (one a line) of upstream CustomResourceDefinition YAML files, taken from the projects'
# published Go modules (`go mod download`, i.e. the Go module cache; nothing is copied into the
# repository).
#
#   testbed/crds.sh                  upstream CRDs of every kind Lattice generates (Cilium, Istio, Gateway
#                                    API, Envoy Gateway, External Secrets, cert-manager, Cluster API core)
#   testbed/crds.sh --capi           what the Cluster API managers need beside the core CRDs: kubeadm
#                                    bootstrap + control plane (v1.13.6) and CAPD/DevCluster (test v1.13.7)
#   testbed/crds.sh --providers      the other infrastructure/bootstrap/control-plane providers Lattice
#                                    compiles for: AWS (CAPA), OpenStack (CAPO), Proxmox, RKE2
#   testbed/crds.sh --metacontroller Metacontroller's CRDs, from the source it is built from
#                                    (testbed/metacontroller/source.sh; the built component's copy when present)
#   testbed/crds.sh --all            every set above
#   testbed/crds.sh --modules        print the module@version list instead
#
# Several set options may be given; the union is printed in the order given.
#
# Provider CRDs (groups infrastructure./bootstrap./controlplane.cluster.x-k8s.io) carry the Cluster API
# contract labels (`cluster.x-k8s.io/<contract>: <api versions>`) that each provider's
# config/crd/kustomization.yaml adds; the `bases` files in the modules lack them, and without them the
# CAPI core manager finds no version of the provider's kinds. So for those sets this script writes
# labelled copies under the cache root and prints their paths (the module cache is read-only and
# shared). The labels are read from the kustomization file named in each entry.
#
# The resolved list is cached in ${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}/crds-<set>-<hash>.txt
# and reused while every listed file still exists.
#
# Environment: LATTICE_GATEWAY_API_CHANNEL=experimental (default: Lattice compiles HTTPRoute retries) | standard
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}"
channel="${LATTICE_GATEWAY_API_CHANNEL:-experimental}"
# Bump when the way files are produced changes (e.g. the labelling below).
recipe="3 contract-labels-after-metadata dedup-x-kubernetes-validations"

# Entries: module@version <TAB> space-separated globs relative to the module root
#          [<TAB> kustomization file whose contract labels the files get]
upstream=(
  "github.com/cilium/cilium@v1.20.2	pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml pkg/k8s/apis/cilium.io/client/crds/v2/ciliumclusterwidenetworkpolicies.yaml"
  "istio.io/api@v1.32.0	kubernetes/customresourcedefinitions.gen.yaml"
  "sigs.k8s.io/gateway-api@v1.6.3	config/crd/$channel/gateway.networking.k8s.io_*routes.yaml config/crd/$channel/gateway.networking.k8s.io_gateway*.yaml config/crd/$channel/gateway.networking.k8s.io_referencegrants.yaml config/crd/$channel/gateway.networking.k8s.io_backendtlspolicies.yaml config/crd/$channel/gateway.networking.k8s.io_listenersets.yaml"
  "github.com/external-secrets/external-secrets@v1.3.2	config/crds/bases/external-secrets.io_*.yaml config/crds/bases/generators.external-secrets.io_passwords.yaml"
  "github.com/cert-manager/cert-manager@v1.21.2	deploy/crds/*.yaml"
  # Cluster API: one minor (v1.13) for every manager and CRD, because the in-memory backend (CAPD of
  # sigs.k8s.io/cluster-api/test) only builds at v1.13.7. Up to v1.13 the core CRDs sit at the module root.
  "sigs.k8s.io/cluster-api@v1.13.6	config/crd/bases/*.yaml"
  "github.com/envoyproxy/gateway@v1.9.1	charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml"
)
capi=(
  "sigs.k8s.io/cluster-api@v1.13.6	bootstrap/kubeadm/config/crd/bases/*.yaml	bootstrap/kubeadm/config/crd/kustomization.yaml"
  "sigs.k8s.io/cluster-api@v1.13.6	controlplane/kubeadm/config/crd/bases/*.yaml	controlplane/kubeadm/config/crd/kustomization.yaml"
  "sigs.k8s.io/cluster-api/test@v1.13.7	infrastructure/docker/config/crd/bases/*.yaml	infrastructure/docker/config/crd/kustomization.yaml"
)
providers=(
  "sigs.k8s.io/cluster-api-provider-aws/v2@v2.13.0	config/crd/bases/*.yaml	config/crd/kustomization.yaml"
  "sigs.k8s.io/cluster-api-provider-openstack@v0.13.0	config/crd/bases/*.yaml	config/crd/kustomization.yaml"
  "github.com/ionos-cloud/cluster-api-provider-proxmox@v0.7.0	config/crd/bases/*.yaml	config/crd/kustomization.yaml"
  "github.com/rancher/cluster-api-provider-rke2@v0.21.0	bootstrap/config/crd/bases/*.yaml	bootstrap/config/crd/kustomization.yaml"
  "github.com/rancher/cluster-api-provider-rke2@v0.21.0	controlplane/config/crd/bases/*.yaml	controlplane/config/crd/kustomization.yaml"
)
sets=()
for arg in "$@"; do
  case "$arg" in
    --capi) sets+=(capi) ;;
    --providers) sets+=(providers) ;;
    --metacontroller) sets+=(metacontroller) ;;
    --all) sets+=(upstream capi providers metacontroller) ;;
    --modules)
      printf '%s\n' "${upstream[@]%%	*}" "${capi[@]%%	*}" "${providers[@]%%	*}" | awk '!seen[$0]++'
      exit 0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "crds.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
(( ${#sets[@]} )) || sets=(upstream)

# Directory of a module in the module cache, downloading it if needed.
module_dir() {
  local json dir
  # Outside any module, so no go.mod/go.work around the caller influences the download.
  json="$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1" 2>&1 || true)"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    echo "crds.sh: cannot download $1:" >&2
    echo "$json" >&2
    return 1
  fi
  echo "$dir"
}

# The contract labels a kustomization adds: its `cluster.x-k8s.io/<version>: <value>` pairs
# (under `labels: - pairs:` or `commonLabels:`), as key=value lines.
contract_labels() {
  sed -nE 's/^[[:space:]]+(cluster\.x-k8s\.io\/v[0-9a-z]+):[[:space:]]*"?([A-Za-z0-9_]+)"?[[:space:]]*$/\1=\2/p' "$1"
}

# Copy CRD file $1 to $2 with the labels $3 (key=value lines) added to its metadata. The bases files
# are one document each, with a top-level `metadata:` and no labels; anything else is refused rather
# than guessed at. Exact duplicates within one `x-kubernetes-validations` list are dropped: Proxmox
# v0.7.0 repeats its MTU rule, and server-side apply refuses a list-map with two equal keys (`rule`)
# ("duplicate entries for key"), while a create accepts it; the duplicate adds nothing.
label_copy() {
  local src="$1" dst="$2" labels="$3"
  if (( $(grep -c '^metadata:' "$src") != 1 )) || (( $(grep -c '^---' "$src") > 1 )) ||
     awk '/^metadata:/ { m = 1; next } /^[^ ]/ { m = 0 } m && /^  labels:/ { found = 1 } END { exit !found }' "$src"; then
    echo "crds.sh: $src is not a single CRD document without labels; cannot add contract labels" >&2
    return 1
  fi
  awk -v labels="$labels" -v src="$src" '
    function indent(s) { match(s, /^ */); return RLENGTH }
    function flush_item() {
      if (item != "") { if (item in seen) dropped++; else { printf "%s", item; seen[item] = 1 } }
      item = ""
    }
    function end_list() { flush_item(); inlist = 0; split("", seen) }
    {
      if (inlist) {
        ind = indent($0)
        if (ii < 0 && $0 ~ /^ *- / && ind >= ki) ii = ind
        if (ii >= 0 && ind == ii && $0 ~ /^ *- /) { flush_item(); item = $0 "\n"; next }
        if (ii >= 0 && ind > ii && item != "") { item = item $0 "\n"; next }
        end_list()
      }
      print
      if ($0 ~ /^ *x-kubernetes-validations:[ ]*$/) { inlist = 1; ki = indent($0); ii = -1; item = "" }
      if ($0 ~ /^metadata:/) {
        print "  labels:"
        n = split(labels, kv, "\n")
        for (i = 1; i <= n; i++) {
          if (kv[i] == "") continue
          eq = index(kv[i], "=")
          printf "    %s: \"%s\"\n", substr(kv[i], 1, eq - 1), substr(kv[i], eq + 1)
        }
      }
    }
    END {
      if (inlist) end_list()
      if (dropped) printf "crds.sh: %s: dropped %d duplicate x-kubernetes-validations entries\n", src, dropped > "/dev/stderr"
    }' "$src" >"$dst.tmp.$$"
  mv "$dst.tmp.$$" "$dst"  # atomic: a concurrent reader sees the old copy or the new one
}

# Resolve one set into $tmp (a list file), labelled copies under $labelled.
resolve() {
  local entry modver globs kust dir labels g p found
  for entry in "$@"; do
    IFS=$'\t' read -r modver globs kust <<<"$entry"
    dir="$(module_dir "$modver")"
    labels=""
    if [[ -n "${kust:-}" ]]; then
      labels="$(contract_labels "$dir/$kust")"
      if [[ -z "$labels" ]]; then echo "crds.sh: $modver $kust adds no contract labels" >&2; return 1; fi
    fi
    for g in $globs; do
      found=0
      for p in "$dir"/$g; do
        [[ -f "$p" ]] || continue
        found=1
        if [[ -n "$labels" ]]; then
          local out="$labelled/${modver//\//_}/${p#"$dir"/}"
          mkdir -p "$(dirname "$out")"
          label_copy "$p" "$out" "$labels"
          p="$out"
        fi
        echo "$p" >>"$tmp"
      done
      if (( ! found )); then echo "crds.sh: $modver has no $g" >&2; return 1; fi
    done
  done
}

# Metacontroller is not a Go module here (testbed/metacontroller/source.sh): its CRDs come from the
# same source as its binary. The built component keeps a copy; otherwise unpack the source once.
metacontroller_crds() {
  local dir id out scratch root
  dir="$(LATTICE_METACONTROLLER_BIN="" "$here/build.sh" --components metacontroller --print-components | cut -f2)"
  if compgen -G "$dir/share/crds/*.yaml" >/dev/null; then
    printf '%s\n' "$dir"/share/crds/*.yaml
    return
  fi
  # shellcheck disable=SC2034  # used by source.sh
  repo_root="$(cd "$here/.." && pwd)"
  # shellcheck source=testbed/metacontroller/source.sh
  source "$here/metacontroller/source.sh"
  id="$(mc_source_id)"
  out="$cache_root/crds-metacontroller-${id:0:16}/${mc_crds_file##*/}"
  if [[ ! -f "$out" ]]; then
    mkdir -p "$(dirname "$out")"
    scratch="$(mktemp -d "$cache_root/crds-metacontroller.tmp.XXXXXX")"
    trap 'rm -rf "$scratch"' EXIT
    root="$(mc_fetch_source "$scratch")"
    cp "$root/$mc_crds_file" "$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
    rm -rf "$scratch"
    trap - EXIT
  fi
  echo "$out"
}

print_set() {
  local set_name="$1" entries=() hash list
  case "$set_name" in
    upstream) entries=("${upstream[@]}") ;;
    capi) entries=("${capi[@]}") ;;
    providers) entries=("${providers[@]}") ;;
    metacontroller) metacontroller_crds; return ;;
  esac
  hash="$(printf '%s\n' "$recipe" "$set_name" "${entries[@]}" | sha256sum | cut -c1-12)"
  list="$cache_root/crds-$set_name-$hash.txt"
  if [[ -s "$list" ]]; then
    local ok=1
    while IFS= read -r p; do [[ -f "$p" ]] || { ok=0; break; }; done <"$list"
    if (( ok )); then cat "$list"; return; fi
  fi
  mkdir -p "$cache_root"
  tmp="$(mktemp "$list.XXXXXX")"
  labelled="$cache_root/crds-labelled/$set_name-$hash"
  trap 'rm -f "$tmp"' EXIT
  resolve "${entries[@]}"
  mv "$tmp" "$list"
  trap - EXIT
  cat "$list"
}

for s in "${sets[@]}"; do print_set "$s"; done
