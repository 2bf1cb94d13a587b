#!/usr/bin/env bash
# Builds kbin, the multi-call Kubernetes binary, into a cache directory outside
# the work tree, and prints its path. The throwaway build module is generated
# there too, so k8s.io/kubernetes never enters a go.mod of this repository.
# The cache key covers the Kubernetes version, the Go version and this
# script plus main.go, so a change to any of them builds a new kbin; an
# existing one is reused (a cold build is 8-13 min of both cores).
#
# usage: build-kbin.sh   (cache: $ZERODROP_E2E_CACHE or ~/.cache/zerodrop-e2e)
set -o errexit -o pipefail -o nounset

K8S_VERSION=v1.33.13
STAGING_VERSION=v0.33.13
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cache.sh
source "$here/cache.sh"
cached_or_lock kbin "$(echo "$K8S_VERSION" | key - "$here/cache.sh" "$here/build-kbin.sh" "$here/kbin/main.go")"

src=$out/src
rm -rf "$src"
mkdir -p "$src"
sed '/^\/\/go:build ignore$/d' "$here/kbin/main.go" > "$src/main.go"

# Staging modules that k8s.io/kubernetes replaces with ./staging/src/...; the
# proxy serves them as v0.x. These four have no v0.33.13 there and are never
# linked into the components, so an empty local module stands in for each.
stubs=(code-generator sample-apiserver sample-cli-plugin sample-controller)
kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
mapfile -t staging < <(sed -n 's#^\t\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$kmod")
if (( ${#staging[@]} < 20 )); then
  echo "build-kbin: found only ${#staging[@]} staging modules in $kmod" >&2
  exit 1
fi
{
  echo "module zerodrop.local/kbin"
  echo
  echo "go 1.24.0"
  echo
  echo "godebug default=go1.24"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do
    name=${m#k8s.io/}
    if [[ " ${stubs[*]} " == *" $name "* ]]; then
      mkdir -p "$src/stub/$name"
      printf 'module %s\n\ngo 1.24.0\n' "$m" > "$src/stub/$name/go.mod"
      echo "	$m => ./stub/$name"
    else
      echo "	$m => $m $STAGING_VERSION"
    fi
  done
  echo ")"
} > "$src/go.mod"

cd "$src"
go mod tidy >&2
pkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version"
ldflags="-s -w"
for p in $pkgs; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=33 -X $p.gitTreeState=clean"
done
start=$(date +%s)
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kbin.tmp" . >&2
mv "$out/kbin.tmp" "$out/kbin"
echo "build-kbin: built $out/kbin in $(( $(date +%s) - start ))s" >&2
echo "$out/kbin"
