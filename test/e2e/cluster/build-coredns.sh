#!/usr/bin/env bash
# Builds CoreDNS, with only the plugins in coredns/main.go, into the same
# cache as kbin (outside the work tree) and prints its path. The cache key
# covers the CoreDNS version, the Go version, this script and main.go.
#
# usage: build-coredns.sh   (cache: $ZERODROP_E2E_CACHE or ~/.cache/zerodrop-e2e)
set -o errexit -o pipefail -o nounset

COREDNS_VERSION=v1.14.7
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cache.sh
source "$here/cache.sh"
cached_or_lock coredns "$(echo "$COREDNS_VERSION" | key - "$here/cache.sh" "$here/build-coredns.sh" "$here/coredns/main.go")"

src=$out/src
rm -rf "$src"
mkdir -p "$src"
sed '/^\/\/go:build ignore$/d' "$here/coredns/main.go" > "$src/main.go"
printf 'module zerodrop.local/coredns\n\ngo 1.25.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" > "$src/go.mod"
cd "$src"
go mod tidy >&2
start=$(date +%s)
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns.tmp" . >&2
mv "$out/coredns.tmp" "$out/coredns"
echo "build-coredns: built $out/coredns in $(( $(date +%s) - start ))s" >&2
echo "$out/coredns"
