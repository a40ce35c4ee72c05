# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `capi` component (sourced by testbed/build.sh in this directory): the Cluster API
# core manager, the kubeadm bootstrap and control-plane managers (v1.13.6) and the CAPD manager of
# sigs.k8s.io/cluster-api/test v1.13.7, which embeds CAPI's in-memory infrastructure backend. One
# `go build` each (two main packages are named `kubeadm`), sharing the build cache.
version="$(modver "$cdir/go.mod" sigs.k8s.io/cluster-api)"
binaries=(capi-manager kubeadm-bootstrap-manager kubeadm-control-plane-manager capd-manager)
share=1

build() {
  local out="$1" shr="$2" minor ldflags="-s -w" dir
  minor="${version#v1.}"; minor="${minor%%.*}"
  # What upstream's hack/version.sh stamps (the managers log it at start). CAPD reports the core
  # version it is built with, v1.13.6.
  for kv in gitVersion=$version gitMajor=1 gitMinor=$minor gitTreeState=clean; do
    ldflags+=" -X sigs.k8s.io/cluster-api/version.$kv"
  done
  export CGO_ENABLED=0
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/capi-manager" sigs.k8s.io/cluster-api
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/kubeadm-bootstrap-manager" \
    sigs.k8s.io/cluster-api/bootstrap/kubeadm
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/kubeadm-control-plane-manager" \
    sigs.k8s.io/cluster-api/controlplane/kubeadm
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/capd-manager" \
    sigs.k8s.io/cluster-api/test/infrastructure/docker
  # The webhook configurations the managers serve (testbed/capi-webhooks.sh rewrites them to URLs).
  mkdir -p "$shr/webhooks"
  dir="$(go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/cluster-api)"
  cp "$dir/config/webhook/manifests.yaml" "$shr/webhooks/capi-manager.yaml"
  cp "$dir/bootstrap/kubeadm/config/webhook/manifests.yaml" "$shr/webhooks/kubeadm-bootstrap-manager.yaml"
  cp "$dir/controlplane/kubeadm/config/webhook/manifests.yaml" "$shr/webhooks/kubeadm-control-plane-manager.yaml"
  dir="$(go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/cluster-api/test)"
  cp "$dir/infrastructure/docker/config/webhook/manifests.yaml" "$shr/webhooks/capd-manager.yaml"
  chmod u+w "$shr"/webhooks/*.yaml
}
