#!/usr/bin/env bash
# Print the paths (one a line) of the upstream CustomResourceDefinition YAML files for every kind
# Lattice generates, taken from the projects' published Go modules (`go mod download`, i.e. the Go
# module cache; nothing is copied into the repository).
#
#   testbed/crds.sh                  upstream CRDs (Cilium, Istio, Gateway API, External Secrets,
#                                    cert-manager, Cluster API)
#   testbed/crds.sh --metacontroller Metacontroller's own CRDs (exit 1 when its module is not served)
#   testbed/crds.sh --modules        print the module@version list instead
#
# The resolved list is cached in ${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}/crds-<hash>.txt
# and reused while every listed file still exists.
#
# Environment: LATTICE_GATEWAY_API_CHANNEL=experimental (default: Lattice compiles HTTPRoute retries) | standard
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}"
channel="${LATTICE_GATEWAY_API_CHANNEL:-experimental}"

# module@version <TAB> space-separated globs relative to the module root
upstream=(
  "github.com/cilium/cilium@v1.20.2	pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml pkg/k8s/apis/cilium.io/client/crds/v2/ciliumclusterwidenetworkpolicies.yaml"
  "istio.io/api@v1.32.0	kubernetes/customresourcedefinitions.gen.yaml"
  "sigs.k8s.io/gateway-api@v1.6.3	config/crd/$channel/gateway.networking.k8s.io_*routes.yaml config/crd/$channel/gateway.networking.k8s.io_gateway*.yaml config/crd/$channel/gateway.networking.k8s.io_referencegrants.yaml config/crd/$channel/gateway.networking.k8s.io_backendtlspolicies.yaml config/crd/$channel/gateway.networking.k8s.io_listenersets.yaml"
  "github.com/external-secrets/external-secrets@v1.3.2	config/crds/bases/external-secrets.io_*.yaml"
  "github.com/cert-manager/cert-manager@v1.21.2	deploy/crds/*.yaml"
  "sigs.k8s.io/cluster-api@v1.14.2	core/config/crd/bases/*.yaml"
  "github.com/envoyproxy/gateway@v1.9.1	charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml"
)
metacontroller=(
  # The module declares the path `metacontroller`; the repository path at the pseudo-version of
  # the v4.17.2 commit is what testbed/metacontroller/go.mod replaces it with.
  "github.com/metacontroller/metacontroller@$(awk '$1 == "replace" && $2 == "metacontroller" { print $5 }' \
      "$here/metacontroller/go.mod")	manifests/production/metacontroller-crds-v1.yaml"
)

set_name=upstream
case "${1:-}" in
  "") ;;
  --metacontroller) set_name=metacontroller ;;
  --modules) printf '%s\n' "${upstream[@]%%	*}" "${metacontroller[@]%%	*}"; exit 0 ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  *) echo "crds.sh: unknown argument $1" >&2; exit 2 ;;
esac
if [[ $set_name == metacontroller ]]; then entries=("${metacontroller[@]}"); else entries=("${upstream[@]}"); fi

hash="$(printf '%s\n' "$set_name" "${entries[@]}" | sha256sum | cut -c1-12)"
list="$cache_root/crds-$set_name-$hash.txt"
if [[ -s "$list" ]]; then
  ok=1
  while IFS= read -r p; do [[ -f "$p" ]] || { ok=0; break; }; done <"$list"
  if (( ok )); then cat "$list"; exit 0; fi
fi

mkdir -p "$cache_root"
tmp="$(mktemp "$list.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
for entry in "${entries[@]}"; do
  modver="${entry%%	*}"
  globs="${entry#*	}"
  # Outside any module, so no go.mod/go.work around the caller influences the download.
  json="$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$modver" 2>&1 || true)"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    echo "crds.sh: cannot download $modver:" >&2
    echo "$json" >&2
    exit 1
  fi
  for g in $globs; do
    found=0
    for p in "$dir"/$g; do
      [[ -f "$p" ]] || continue
      found=1
      echo "$p" >>"$tmp"
    done
    if (( ! found )); then echo "crds.sh: $modver has no $g" >&2; exit 1; fi
  done
done
mv "$tmp" "$list"
trap - EXIT
cat "$list"
