# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `metacontroller` component (sourced by testbed/build.sh in this directory):
# Metacontroller from its upstream source (see source.sh for where that comes from), and its CRDs
# from the same source. LATTICE_METACONTROLLER_BIN, a prebuilt binary, skips the build.
# shellcheck source=testbed/metacontroller/source.sh
source "$cdir/source.sh"
version="$mc_version"
binaries=(metacontroller)
share=1
key_extra="$(mc_source_id)"

prebuilt() {
  local b="${LATTICE_METACONTROLLER_BIN:-}"
  [[ -n "$b" ]] || return 0
  if [[ ! -f "$b" || ! -x "$b" ]]; then
    echo "LATTICE_METACONTROLLER_BIN=$b is not an executable file" >&2
    return 1
  fi
  echo "$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"
}

build() {
  local out="$1" shr="$2" work="$3" root
  root="$(mc_fetch_source "$work")"
  # As upstream builds it (the archive's README and Makefile); -mod=readonly: its go.sum is complete.
  (cd "$root" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w -X main.version=$version" \
      -o "$out/metacontroller" ./pkg/cmd/metacontroller)
  mkdir -p "$shr/crds"
  cp "$root/$mc_crds_file" "$shr/crds/"
}
