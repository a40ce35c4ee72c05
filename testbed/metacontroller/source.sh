# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Where Metacontroller's source comes from (sourced by recipe.sh and by testbed/crds.sh; needs $repo_root).
#
# The Go module proxy refuses github.com/metacontroller/metacontroller at every version, and its go.mod
# declares the bare module path `metacontroller`, so it cannot be a Go dependency. Its own
# dependencies are served, so the unmodified upstream source of the pinned tag builds here. Sources,
# in order (the prebuilt binary, LATTICE_METACONTROLLER_BIN, is handled by recipe.sh):
#   1. LATTICE_METACONTROLLER_SRC: a source directory or a .tar.gz of one (any version; not verified)
#   2. the upstream archive metacontroller-v4.17.2.tar.gz in ${LATTICE_THIRD_PARTY_DIR}/metacontroller/
#      (default: ../shared/third_party beside the repository root, or beside the main checkout when
#      this is a git worktree), sha256-verified
#   3. a shallow git clone of the tag, commit-verified (needs network access to GitHub)
mc_version=v4.17.2
mc_commit=76b818bdc67ba56570abe5f69f714d56c0ff5c52
mc_archive_sha256=71242194978649546c50f6970bc117b883699a46c66f4eb16298bcdbb8b722a3
mc_repo_url=https://github.com/metacontroller/metacontroller.git
mc_crds_file=manifests/production/metacontroller-crds-v1.yaml

# The archive's default place: ../shared/third_party beside the repository root, or, in a git worktree,
# beside the main checkout (the first that holds the archive; the first of them when none does).
mc_default_archive() {
  local name="metacontroller/metacontroller-$mc_version.tar.gz" common cand
  if [[ -n "${LATTICE_THIRD_PARTY_DIR:-}" ]]; then echo "$LATTICE_THIRD_PARTY_DIR/$name"; return; fi
  cand=("$repo_root/../shared/third_party/$name")
  if common="$(git -C "$repo_root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" &&
     [[ "$(dirname "$common")" != "$repo_root" ]]; then
    cand+=("$(dirname "$common")/../shared/third_party/$name")
  fi
  for c in "${cand[@]}"; do [[ -f "$c" ]] && { realpath -m "$c"; return; }; done
  realpath -m "${cand[0]}"
}

# A name for the source that will be used, for cache keys: the pinned commit for the archive and the
# clone, something else for an explicit LATTICE_METACONTROLLER_SRC that is not the pinned archive.
mc_source_id() {
  local src="${LATTICE_METACONTROLLER_SRC:-}" sum
  if [[ -z "$src" ]]; then
    echo "$mc_commit"
  elif [[ -d "$src" ]]; then
    # Contents by name, size and mtime: cheap, and any edit changes it.
    echo "dir-$(cd "$src" && find . -path ./.git -prune -o -type f -printf '%P %s %T@\n' | LC_ALL=C sort |
                sha256sum | cut -c1-16)"
  elif [[ -f "$src" ]]; then
    sum="$(sha256sum <"$src" | cut -d' ' -f1)"
    if [[ "$sum" == "$mc_archive_sha256" ]]; then echo "$mc_commit"; else echo "archive-${sum:0:16}"; fi
  else
    echo "LATTICE_METACONTROLLER_SRC=$src is neither a directory nor a file" >&2
    return 1
  fi
}

# The one directory holding go.mod under an unpacked archive or clone in $1.
mc_root_in() {
  local gomod
  gomod="$(find "$1" -maxdepth 2 -name go.mod -print -quit)"
  [[ -n "$gomod" ]] || { echo "no go.mod in $1" >&2; return 1; }
  dirname "$gomod"
}

mc_check_root() {
  if ! grep -qx 'module metacontroller' "$1/go.mod" 2>/dev/null || [[ ! -d "$1/pkg/cmd/metacontroller" ]]; then
    echo "$1 is not a Metacontroller source tree (no go.mod declaring 'module metacontroller' with pkg/cmd/metacontroller)" >&2
    return 1
  fi
}

# Make a source tree available, unpacking or cloning into the empty scratch directory $1 when needed;
# prints the tree's root. Progress and errors go to stderr.
mc_fetch_source() {
  local scratch="$1" src="${LATTICE_METACONTROLLER_SRC:-}" archive sum root clone_err
  if [[ -n "$src" ]]; then
    if [[ -d "$src" ]]; then
      root="$(cd "$src" && pwd)"
      echo "[testbed] metacontroller source: directory $root (LATTICE_METACONTROLLER_SRC)" >&2
    elif [[ -f "$src" ]]; then
      sum="$(sha256sum <"$src" | cut -d' ' -f1)"
      [[ "$sum" == "$mc_archive_sha256" ]] ||
        echo "[testbed] note: $src is not the pinned $mc_version archive (sha256 $sum); building it anyway" >&2
      echo "[testbed] metacontroller source: archive $src (LATTICE_METACONTROLLER_SRC)" >&2
      tar -xzf "$src" -C "$scratch"
      root="$(mc_root_in "$scratch")"
    else
      echo "LATTICE_METACONTROLLER_SRC=$src is neither a directory nor a file" >&2
      return 1
    fi
    mc_check_root "$root" && echo "$root"
    return
  fi

  archive="$(mc_default_archive)"
  if [[ -f "$archive" ]]; then
    sum="$(sha256sum <"$archive" | cut -d' ' -f1)"
    if [[ "$sum" != "$mc_archive_sha256" ]]; then
      echo "$archive: sha256 $sum, expected $mc_archive_sha256 (Metacontroller $mc_version, commit $mc_commit);" \
           "refusing to build it" >&2
      return 1
    fi
    echo "[testbed] metacontroller source: $archive (sha256 verified)" >&2
    tar -xzf "$archive" -C "$scratch"
    root="$(mc_root_in "$scratch")"
    mc_check_root "$root" && echo "$root"
    return
  fi

  echo "[testbed] $archive not found; trying git clone $mc_repo_url (tag $mc_version)" >&2
  if clone_err="$(GIT_TERMINAL_PROMPT=0 timeout 300 git -c advice.detachedHead=false clone --quiet --depth 1 \
                    --branch "$mc_version" "$mc_repo_url" "$scratch/metacontroller" 2>&1)"; then
    root="$scratch/metacontroller"
    if [[ "$(git -C "$root" rev-parse HEAD)" != "$mc_commit" ]]; then
      echo "git clone of tag $mc_version gave commit $(git -C "$root" rev-parse HEAD), expected $mc_commit" >&2
      return 1
    fi
    mc_check_root "$root" && echo "$root"
    return
  fi

  cat >&2 <<MSG
Metacontroller $mc_version: no binary and no source found. Tried, in order:
  1. LATTICE_METACONTROLLER_BIN: a prebuilt metacontroller binary (unset)
  2. LATTICE_METACONTROLLER_SRC: a source directory or .tar.gz archive (unset)
  3. the upstream archive $archive (not found; LATTICE_THIRD_PARTY_DIR names the directory holding
     metacontroller/metacontroller-$mc_version.tar.gz, sha256 $mc_archive_sha256)
  4. git clone --branch $mc_version $mc_repo_url: $(tail -n 1 <<<"$clone_err")
MSG
  return 1
}
