#!/usr/bin/env bash
# Build the upstream binaries the tests run (kube-apiserver, kube-controller-manager, kubectl, etcd,
# Metacontroller, the Cluster API managers, KWOK, Ory Hydra) from published Go modules and upstream
# source into a cache directory outside the repository, one directory per component:
#
#   ${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}/<component>-<version>_<hash>/{bin,share}
#
# <hash> covers the component's recipe directory testbed/<component>/ (wrapper go.mod/go.sum/tools.go and
# recipe.sh, which holds the build commands; comment lines of .sh files excepted), so bumping one
# component rebuilds only that one. The
# binaries of the selected components are then gathered as symlinks in one directory,
#
#   <cache root>/set-<hash of the component keys>/bin      (and share/<component> -> its share dir)
#
# whose path is the last line on stdout; everything else goes to stderr. A warm run only hashes a few
# files. If KUBEBUILDER_ASSETS holds every selected binary, nothing is built and it is printed; if it
# holds those of a component (e.g. kube and etcd), that component is taken from there.
#
# Components: kube (kube-apiserver, kube-controller-manager, kubectl), etcd, metacontroller
# (share/metacontroller/crds), capi (capi-manager, kubeadm-bootstrap-manager,
# kubeadm-control-plane-manager, capd-manager; share/capi/webhooks), kwok (share/kwok/stages), hydra.
# Groups: base = kube,etcd; all (default).
#
# Environment:
#   LATTICE_TESTBED_CACHE       cache root (default $HOME/.cache/lattice-testbed)
#   LATTICE_TESTBED_COMPONENTS  components or groups, comma-separated (default all); --components wins
#   KUBEBUILDER_ASSETS          prebuilt binaries to use instead of building (see above)
#   LATTICE_METACONTROLLER_BIN  a prebuilt metacontroller binary; LATTICE_METACONTROLLER_SRC a source
#                               directory or archive; LATTICE_THIRD_PARTY_DIR the directory holding
#                               metacontroller/metacontroller-v4.17.2.tar.gz (testbed/metacontroller/source.sh)
#
# Options: --components LIST, --force (rebuild the selected components), --print-bin-dir (print the bin
# directory without building), --print-key (the set's key), --print-components (one line per
# component: name, then its cache directory or prebuilt binaries).
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034  # used by the recipes (metacontroller/source.sh)
repo_root="$(cd "$here/.." && pwd)"
cache_root="${LATTICE_TESTBED_CACHE:-$HOME/.cache/lattice-testbed}"
all_components=(kube etcd metacontroller capi kwok hydra)

force=0
mode=build
selection="${LATTICE_TESTBED_COMPONENTS:-all}"
while (( $# )); do
  case "$1" in
    --force) force=1 ;;
    --print-key) mode=key ;;
    --print-bin-dir) mode=bin ;;
    --print-components) mode=components ;;
    --components) selection="${2:?--components needs a list}"; shift ;;
    --components=*) selection="${1#--components=}" ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# Version of a module required in a go.mod (first `require <mod> <ver>` or `<mod> <ver>` line).
modver() {
  awk -v m="$2" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$1"
}

# The selection, in canonical order.
declare -A wanted=()
for item in ${selection//,/ }; do
  case "$item" in
    all) for c in "${all_components[@]}"; do wanted[$c]=1; done ;;
    base) wanted[kube]=1; wanted[etcd]=1 ;;
    *)
      [[ " ${all_components[*]} " == *" $item "* ]] ||
        die "unknown component '$item' (components: ${all_components[*]}; groups: base, all)"
      wanted[$item]=1 ;;
  esac
done
components=()
for c in "${all_components[@]}"; do [[ -n "${wanted[$c]:-}" ]] && components+=("$c"); done
(( ${#components[@]} )) || die "no component selected"

# Load each component's recipe: version, binaries, share (1 when it has data files), key_extra, and
# the functions build (OUT_BIN SHARE WORK) and, optionally, prebuilt (prints the binaries' paths).
load_recipe() {
  unset -f build prebuilt
  version="" binaries=() share=0 key_extra=""
  cdir="$here/$1"
  # shellcheck source=/dev/null  # one of testbed/*/recipe.sh
  source "$cdir/recipe.sh"
  [[ -n "$version" && ${#binaries[@]} -gt 0 ]] || die "testbed/$1/recipe.sh sets no version or binaries"
}

declare -A key=() bins=() has_share=() prebuilt_paths=()
for c in "${components[@]}"; do
  load_recipe "$c"
  bins[$c]="${binaries[*]}"
  has_share[$c]="$share"
  paths=""
  if declare -F prebuilt >/dev/null; then paths="$(prebuilt)" || exit 1; fi
  if [[ -z "$paths" && -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    all_there=1
    for b in "${binaries[@]}"; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || all_there=0; done
    if (( all_there )); then
      for b in "${binaries[@]}"; do paths+="$(cd "$KUBEBUILDER_ASSETS" && pwd)/$b"$'\n'; done
    fi
  fi
  if [[ -n "$paths" ]]; then
    prebuilt_paths[$c]="$paths"
    key[$c]="prebuilt:$(tr '\n' ' ' <<<"$paths")"
    continue
  fi
  # Whole-line comments of the shell files do not count, so documenting a recipe rebuilds nothing.
  hash="$( { echo "$key_extra"; cd "$cdir" && find . -type f | LC_ALL=C sort | while read -r f; do
               echo "== $f"; if [[ "$f" == *.sh ]]; then grep -v '^[[:space:]]*#' "$f"; else cat "$f"; fi
             done; } | sha256sum | cut -c1-12)"
  key[$c]="$c-${version}_$hash"
done

# KUBEBUILDER_ASSETS holding everything selected: print it, as before components existed.
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  everything=1
  for c in "${components[@]}"; do for b in ${bins[$c]}; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || everything=0; done; done
  if (( everything )); then
    if [[ $mode != key && $mode != components ]]; then
      [[ $mode == bin ]] || log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
      echo "$KUBEBUILDER_ASSETS"
      exit 0
    fi
  fi
fi

# The layout version: bump when what a set directory holds changes.
set_key="set-$( { echo "layout 2"; for c in "${components[@]}"; do echo "$c=${key[$c]}"; done; } |
                sha256sum | cut -c1-12)"
set_dir="$cache_root/$set_key"

case "$mode" in
  key) echo "$set_key"; exit 0 ;;
  bin) echo "$set_dir/bin"; exit 0 ;;
  components)
    for c in "${components[@]}"; do
      if [[ -n "${prebuilt_paths[$c]:-}" ]]; then echo "$c	${key[$c]}"; else echo "$c	$cache_root/${key[$c]}"; fi
    done
    exit 0 ;;
esac

built_ok() {  # component dir holds every binary of component $2
  local b
  for b in ${bins[$2]}; do [[ -x "$1/bin/$b" ]] || return 1; done
}

export GOWORK=off
timings=()

build_component() {
  local c="$1" dest="$cache_root/${key[$1]}" tmp shtmp work t0 secs b
  if (( ! force )) && built_ok "$dest" "$c"; then return 0; fi
  mkdir -p "$dest"
  # One builder per component key at a time; a second caller waits, then finds the result.
  exec 9>"$dest/.lock"
  if ! flock -n 9; then
    log "another build of ${key[$c]} is running; waiting for it"
    flock 9
  fi
  if (( ! force )) && built_ok "$dest" "$c"; then exec 9>&-; return 0; fi
  # Leftovers of interrupted builds (we hold the lock, so their builders are gone).
  rm -rf "$dest"/bin.tmp.* "$dest"/share.tmp.* "$dest"/work.tmp.* "$dest"/bin.old.* "$dest"/share.old.*
  tmp="$(mktemp -d "$dest/bin.tmp.XXXXXX")"
  shtmp="$(mktemp -d "$dest/share.tmp.XXXXXX")"
  chmod 755 "$tmp" "$shtmp"
  work="$(mktemp -d "$dest/work.tmp.XXXXXX")"
  t0=$(date +%s)
  local rc
  log "building $c (${key[$c]}): ${bins[$c]}"
  # Not in a condition, so that errexit holds inside the recipe: its first failing command ends it.
  set +e
  (set -e; load_recipe "$c"; cd "$cdir"; build "$tmp" "$shtmp" "$work")
  rc=$?
  set -e
  if (( rc )); then
    rm -rf "$tmp" "$shtmp" "$work"
    die "building $c failed (exit $rc; see above)"
  fi
  rm -rf "$work"
  for b in ${bins[$c]}; do [[ -x "$tmp/$b" ]] || die "building $c produced no $b"; done
  # Publish: share first, then bin; a present bin means a complete component.
  if [[ -d "$dest/share" ]]; then mv "$dest/share" "$dest/share.old.$$"; fi
  mv "$shtmp" "$dest/share"
  if [[ -d "$dest/bin" ]]; then mv "$dest/bin" "$dest/bin.old.$$"; fi
  mv "$tmp" "$dest/bin"
  rm -rf "$dest/share.old.$$" "$dest/bin.old.$$"
  secs=$(( $(date +%s) - t0 ))
  echo "$secs" >"$dest/build-seconds"
  timings+=("$c ${secs}s")
  log "$c built in ${secs}s"
  exec 9>&-
}

t_all=$(date +%s)
for c in "${components[@]}"; do
  [[ -n "${prebuilt_paths[$c]:-}" ]] && continue
  build_component "$c"
done
(( ${#timings[@]} )) && log "built: ${timings[*]}; total $(( $(date +%s) - t_all ))s"

# The set directory: symlinks only, so it is made once (atomically) and never changes.
if [[ ! -d "$set_dir/bin" ]]; then
  mkdir -p "$cache_root"
  stmp="$(mktemp -d "$set_dir.tmp.XXXXXX")"
  chmod 755 "$stmp"
  mkdir "$stmp/bin" "$stmp/share"
  for c in "${components[@]}"; do
    if [[ -n "${prebuilt_paths[$c]:-}" ]]; then
      # One path a line, in the order of the component's binaries (a prebuilt file may be named otherwise).
      paste -d '\t' <(tr ' ' '\n' <<<"${bins[$c]}") <(sed '/^$/d' <<<"${prebuilt_paths[$c]}") |
        while IFS=$'\t' read -r b p; do ln -s "$p" "$stmp/bin/$b"; done
    else
      # Relative links: the cache root may be restored elsewhere (CI caches).
      for b in ${bins[$c]}; do ln -s "../../${key[$c]}/bin/$b" "$stmp/bin/$b"; done
      [[ "${has_share[$c]}" == 1 ]] && ln -s "../../${key[$c]}/share" "$stmp/share/$c"
    fi
    echo "$c ${key[$c]}" >>"$stmp/components.txt"
  done
  # Another builder may have made the same set meanwhile: its content is the same.
  mv -T "$stmp" "$set_dir" 2>/dev/null || rm -rf "$stmp"
fi
for c in "${components[@]}"; do
  for b in ${bins[$c]}; do [[ -x "$set_dir/bin/$b" ]] || die "$set_dir/bin/$b is missing or broken"; done
done
echo "$set_dir/bin"
