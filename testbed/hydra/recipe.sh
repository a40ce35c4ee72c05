# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `hydra` component (sourced by testbed/build.sh in this directory): Ory Hydra with
# SQLite compiled in, so `DSN=memory` works (a CGO_ENABLED=0 build refuses it). Needs a C compiler.
version="$(modver "$cdir/go.mod" github.com/ory/hydra/v2)"
binaries=(hydra)

build() {
  CGO_ENABLED=1 go build -mod=readonly -trimpath -tags sqlite,sqlite_omit_load_extension \
    -ldflags "-s -w -X github.com/ory/hydra/v2/driver/config.Version=$version" -o "$1/hydra" github.com/ory/hydra/v2
}
