#!/usr/bin/env bash
# Build the test control plane binaries (kube-apiserver, kube-controller-manager, kubectl, etcd and,
# when its module can be fetched, metacontroller) from published Go modules into a cache directory
# outside the repository:
#
#   ${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}/<key>/bin
#
# <key> names the versions plus a hash of the wrapper modules (go.mod/go.sum) and of this script, so a
# change of any of them builds into a new directory. A present directory is reused (a warm run only
# hashes a few files). The last line on stdout is the bin directory; everything else goes to stderr.
#
# If KUBEBUILDER_ASSETS names a directory that already holds every required binary, nothing is built
# and that directory is printed.
#
# Environment:
#   LATTICE_TESTBED_CACHE          cache root (default $HOME/.cache/lattice-testbed)
#   KUBEBUILDER_ASSETS             prebuilt binaries to use instead of building
#   LATTICE_TESTBED_METACONTROLLER auto (default: try, tolerate failure) | require | skip
#   LATTICE_TESTBED_RETRY=1        retry a Metacontroller build that failed before for this key
#
# Options: --force (rebuild even when the cache directory exists), --print-key, --print-bin-dir
# (print the bin directory without building).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}"
mc_mode="${LATTICE_TESTBED_METACONTROLLER:-auto}"
required=(etcd kube-apiserver kube-controller-manager kubectl)

force=0
print_key=0
print_bin=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-key) print_key=1 ;;
    --print-bin-dir) print_bin=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[testbed] %s\n' "$*" >&2; }

# Version of a module required in a wrapper go.mod (first `require <mod> <ver>` or `<mod> <ver>` line).
modver() {
  awk -v m="$2" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$1"
}

has_all() {
  local dir="$1" b
  for b in "${required[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${required[*]}; building instead"
fi

kube_ver="$(modver "$here/kube/go.mod" k8s.io/kubernetes)"
etcd_ver="$(modver "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
mc_ver="v4.17.2"  # the tag the pseudo-version in metacontroller/go.mod points at (stamped into --version)
# Bump when the build commands below change in a way that changes the binaries.
recipe="1 CGO_ENABLED=0 -trimpath -s -w version-stamped"
hash="$( { echo "$recipe"; cat "$here"/kube/go.mod "$here"/kube/go.sum "$here"/kube/tools.go \
            "$here"/etcd/go.mod "$here"/etcd/go.sum "$here"/etcd/tools.go \
            "$here"/metacontroller/go.mod "$here"/metacontroller/tools.go; } | sha256sum | cut -c1-12)"
key="k8s-${kube_ver}_etcd-${etcd_ver}_${hash}"
dest="$cache_root/$key"
bin="$dest/bin"

if (( print_key )); then echo "$key"; exit 0; fi
if (( print_bin )); then echo "$bin"; exit 0; fi

mc_wanted() {
  [[ "$mc_mode" != skip ]] || return 1
  [[ -x "$bin/metacontroller" ]] && return 1
  [[ -f "$dest/metacontroller.failed" && "${LATTICE_TESTBED_RETRY:-0}" != 1 && "$mc_mode" != require ]] && return 1
  return 0
}

if (( ! force )) && has_all "$bin" && ! mc_wanted; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dest"
# One builder per key at a time; a second caller waits, then finds the result.
exec 9>"$dest/.lock"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it"
  flock 9
fi
if (( ! force )) && has_all "$bin" && ! mc_wanted; then
  echo "$bin"
  exit 0
fi

# Leftovers of interrupted builds (we hold the lock, so their builders are gone).
rm -rf "$dest"/bin.tmp.* "$dest"/bin.old.*

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -trimpath"
tmp="$(mktemp -d "$dest/bin.tmp.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# Start from what is already built for this key (e.g. when only Metacontroller is missing).
if (( ! force )) && [[ -d "$bin" ]]; then cp -a "$bin"/. "$tmp"/; fi

elapsed() { echo $(( $(date +%s) - $1 ))s; }

if (( force )) || ! has_all "$tmp"; then
  minor="${kube_ver#v1.}"; minor="${minor%%.*}"
  kldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kldflags+=" -X $pkg.gitVersion=$kube_ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    kldflags+=" -X $pkg.gitTreeState=clean"
  done
  t0=$(date +%s)
  log "building kube-apiserver, kube-controller-manager, kubectl $kube_ver"
  (cd "$here/kube" && go build -ldflags "$kldflags" -o "$tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kubectl)
  log "kubernetes binaries built in $(elapsed "$t0")"

  t0=$(date +%s)
  log "building etcd $etcd_ver"
  (cd "$here/etcd" && go build -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  log "etcd built in $(elapsed "$t0")"
fi

if mc_wanted; then
  t0=$(date +%s)
  log "building metacontroller $mc_ver"
  mc_mod="$(awk '$1 == "replace" && $2 == "metacontroller" { print $4 "@" $5 }' "$here/metacontroller/go.mod")"
  if [[ ! -f "$here/metacontroller/go.sum" ]]; then
    # No go.sum yet: find out whether the module is served at all, to report the real reason.
    json="$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$mc_mod" 2>&1 || true)"
    if grep -q '"Error"' <<<"$json"; then
      printf 'cannot download %s:\n%s\n' "$mc_mod" "$json" >"$tmp/mc.err"
    else
      printf '%s is served but testbed/metacontroller has no go.sum: run `go mod tidy` there and commit go.sum\n' \
        "$mc_mod" >"$tmp/mc.err"
    fi
    mc_ok=0
  elif (cd "$here/metacontroller" && go build -ldflags "-s -w -X main.version=$mc_ver" \
          -o "$tmp/metacontroller" metacontroller/pkg/cmd/metacontroller) 2>"$tmp/mc.err"; then
    mc_ok=1
  else
    mc_ok=0
  fi
  if (( mc_ok )); then
    rm -f "$dest/metacontroller.failed"
    log "metacontroller built in $(elapsed "$t0")"
  else
    cat "$tmp/mc.err" >&2
    cp "$tmp/mc.err" "$dest/metacontroller.failed"
    if [[ "$mc_mode" == require ]]; then
      log "metacontroller build failed (LATTICE_TESTBED_METACONTROLLER=require)"
      exit 1
    fi
    log "metacontroller not built; continuing without it (reason kept in $dest/metacontroller.failed;"
    log "LATTICE_TESTBED_RETRY=1 tries again)"
  fi
  rm -f "$tmp/mc.err"
fi

# Publish atomically: the bin directory is either absent or complete.
if [[ -d "$bin" ]]; then
  old="$dest/bin.old.$$"
  mv "$bin" "$old"
  mv "$tmp" "$bin"
  rm -rf "$old"
else
  mv "$tmp" "$bin"
fi
trap - EXIT
log "binaries in $bin: $(cd "$bin" && ls | tr '\n' ' ')"
echo "$bin"
