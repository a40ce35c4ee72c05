# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `kube` component (sourced by testbed/build.sh in this directory; a change here
# changes the component's cache key). One `go build` for the three commands: shared compilation.
version="$(modver "$cdir/go.mod" k8s.io/kubernetes)"
binaries=(kube-apiserver kube-controller-manager kubectl)

build() {
  local out="$1" minor ldflags="-s -w" pkg
  minor="${version#v1.}"; minor="${minor%%.*}"
  # kwokctl and kubectl read --version; unstamped binaries report v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl
}
