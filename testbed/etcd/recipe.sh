# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `etcd` component (sourced by testbed/build.sh in this directory). The version is
# a Go constant in etcd, so `etcd --version` is right without ldflags.
version="$(modver "$cdir/go.mod" go.etcd.io/etcd/server/v3)"
binaries=(etcd)

build() {
  CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3
}
