# Sourced by build-kbin.sh and build-coredns.sh: the build cache they share,
# outside the work tree. cached_or_lock NAME KEY prints the cached binary and
# exits the calling script when it exists; otherwise it takes the cache's
# build lock (one heavy build at a time on 2 cores, and a concurrent run
# waits for the same result instead of building it twice), removes builds
# of NAME under other keys, and sets $out, the directory to build into.
cache=${ZERODROP_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zerodrop-e2e}

cached_or_lock() {
  local name=$1 key=$2
  out=$cache/$name-$key
  if [[ -x $out/$name ]]; then
    echo "$out/$name"
    exit 0
  fi
  mkdir -p "$cache"
  exec 9>"$cache/build.lock"
  flock 9
  if [[ -x $out/$name ]]; then
    echo "$out/$name"
    exit 0
  fi
  # Builds of older keys are never used again; each kbin is 124 MB.
  local d
  for d in "$cache/$name"-*; do
    [[ $d == "$out" ]] || rm -rf "$d"
  done
}

# key FILES...: a short hash of the Go version and the files' contents.
key() {
  { go env GOVERSION; cat "$@"; } | sha256sum | cut -c1-16
}
