# shellcheck shell=bash disable=SC2034,SC2154  # sourced: sets variables for, and uses variables of, build.sh
# Build recipe of the `kwok` component (sourced by testbed/build.sh in this directory): the KWOK
# controller, plus the "fast" node and pod Stage files from the same module (kwok exits with
# "no stages found" without stages).
version="$(modver "$cdir/go.mod" sigs.k8s.io/kwok)"
binaries=(kwok)
share=1

build() {
  local out="$1" shr="$2" dir
  CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${version#v}" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
  dir="$(go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$shr/stages"
  for f in "$dir"/kustomize/stage/node/fast/*.yaml "$dir"/kustomize/stage/pod/fast/*.yaml; do
    [[ "${f##*/}" == kustomization.yaml ]] || cp "$f" "$shr/stages/"
  done
  chmod u+w "$shr"/stages/*.yaml
}
