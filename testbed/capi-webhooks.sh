#!/usr/bin/env bash
# Rewrite a controller's webhook configurations (a kubebuilder `config/webhook/manifests.yaml`, e.g. the
# copies the capi component keeps in <bin dir>/../share/capi/webhooks/<manager>.yaml) so that the API
# server calls a manager running as a plain process on loopback instead of an in-cluster Service:
#
#   testbed/capi-webhooks.sh --port PORT --ca-file CA.pem [--host 127.0.0.1] [--prefix NAME] MANIFEST
#
# prints the YAML on stdout, ready for `kubectl apply -f -`. Each webhook's
#   clientConfig: {service: {name, namespace, path}}
# becomes
#   clientConfig: {url: https://HOST:PORT<path>, caBundle: <base64 of CA.pem>}
# and each configuration's metadata.name gets the prefix (default: the file name without .yaml), because
# every kubebuilder project names them mutating-/validating-webhook-configuration. Everything else
# (rules, failurePolicy, sideEffects, ...) is kept as upstream generated it. The manager must serve
# the matching certificate (SAN = HOST) from `--webhook-cert-dir` (tls.crt, tls.key) on
# `--webhook-port PORT`.
set -euo pipefail

host=127.0.0.1 port="" ca_file="" prefix="" manifest=""
while (( $# )); do
  case "$1" in
    --host) host="${2:?}"; shift ;;
    --port) port="${2:?}"; shift ;;
    --ca-file) ca_file="${2:?}"; shift ;;
    --prefix) prefix="${2:?}"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "capi-webhooks.sh: unknown option $1" >&2; exit 2 ;;
    *) manifest="$1" ;;
  esac
  shift
done
[[ -n "$port" && -n "$ca_file" && -n "$manifest" ]] ||
  { echo "usage: capi-webhooks.sh --port PORT --ca-file CA.pem [--host H] [--prefix NAME] MANIFEST" >&2; exit 2; }
[[ -n "$prefix" ]] || prefix="$(basename "$manifest" .yaml)"
ca_b64="$(base64 -w0 <"$ca_file")"

awk -v base="https://$host:$port" -v ca="$ca_b64" -v prefix="$prefix" '
  function indent(s) { match(s, /^ */); return RLENGTH }
  # A service block: drop its lines, remember its path, emit url + caBundle at the same indent.
  insvc && indent($0) > svc_indent { if ($1 == "path:") path = $2; next }
  insvc {
    if (path == "") { print "capi-webhooks.sh: a service clientConfig without a path" > "/dev/stderr"; exit 1 }
    printf "%*surl: %s%s\n%*scaBundle: %s\n", svc_indent, "", base, path, svc_indent, "", ca
    insvc = 0; n++
  }
  /^ *service:[ ]*$/ { insvc = 1; svc_indent = indent($0); path = ""; next }
  /^  name: (mutating|validating)-webhook-configuration[ ]*$/ { print "  name: " prefix "-" $2; next }
  { print }
  END {
    if (insvc) printf "%*surl: %s%s\n%*scaBundle: %s\n", svc_indent, "", base, path, svc_indent, "", ca
    if (!n && !insvc) { print "capi-webhooks.sh: no service clientConfig found" > "/dev/stderr"; exit 1 }
  }' "$manifest"
