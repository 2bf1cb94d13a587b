#!/usr/bin/env bash
# Builds Traefik, the ingress controller the e2e cluster runs as a host
# process (kubernetesIngress provider only), into the same cache as kbin and
# CoreDNS (outside the work tree) and prints its path. Traefik's go.mod has
# replace directives, which only a main module's go.mod applies, so it cannot
# be required from a throwaway module as CoreDNS is: its module source is
# copied from the module cache into the build directory and built there as
# the main module. Its source never enters this repository. The cache key
# covers the Traefik version, the Go version and this script (a cold build is
# several minutes of both cores).
#
# Why v3.6 and not v3.7: the module proxy reachable here answers 403 for 17
# of v3.7.x's dependencies (github.com/go-acme/lego/v5@v5.4.1 and DNS SDKs it
# needs, and the github.com/containous/go-http-auth fork it replaces
# github.com/abbot/go-http-auth with), all compiled into cmd/traefik; every
# dependency of v3.6.12 is there.
#
# usage: build-traefik.sh   (cache: $ZERODROP_E2E_CACHE or ~/.cache/zerodrop-e2e)
set -o errexit -o pipefail -o nounset

TRAEFIK_VERSION=v3.6.12
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cache.sh
source "$here/cache.sh"
cached_or_lock traefik "$(echo "$TRAEFIK_VERSION" | key - "$here/cache.sh" "$here/build-traefik.sh")"

src=$out/src
rm -rf "$src"
mkdir -p "$out"
# From a directory outside any module and workspace, so that no go.mod
# around the caller's directory changes what is resolved.
mod=$(cd "$out" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [[ ! -f $mod/go.mod ]]; then
  echo "build-traefik: no module directory for traefik $TRAEFIK_VERSION (got '$mod')" >&2
  exit 1
fi
cp -R "$mod" "$src"
chmod -R u+w "$src"

# A replace with a local directory (v3.7 has ./pkg/config/dynamic/ext, a
# nested module) points at nothing: module zips leave out subdirectories
# that have their own go.mod. Say so plainly rather than let go build fail.
while read -r dir; do
  if [[ ! -f $src/$dir/go.mod ]]; then
    echo "build-traefik: go.mod replaces a module with $dir, which the module zip does not hold" >&2
    exit 1
  fi
done < <(go mod edit -json "$src/go.mod" | sed -n 's/^\t\t\t\t"Path": "\(\.\{1,2\}\/.*\)"$/\1/p')
# webui/embed.go embeds webui/static, which a Node build fills upstream; the
# zip holds a single placeholder file there, enough for go:embed (the
# dashboard is not used). Should a version ship it empty, put one back.
if [[ -z $(find "$src/webui/static" -type f ! -name '.*' ! -name '_*' 2>/dev/null) ]]; then
  mkdir -p "$src/webui/static"
  echo 'Placeholder so that go:embed finds a file: the web UI is not built.' > "$src/webui/static/README.md"
fi

cd "$src"
GOWORK=off go mod download >&2
start=$(date +%s)
CGO_ENABLED=0 GOWORK=off go build -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
  -o "$out/traefik.tmp" ./cmd/traefik >&2
mv "$out/traefik.tmp" "$out/traefik"
echo "build-traefik: built $out/traefik in $(( $(date +%s) - start ))s" >&2
echo "$out/traefik"
