#!/usr/bin/env bash
# Tears down the cluster that up.sh started under DIR and leaves the host as
# it found it: no daemons, containers, shims, mounts, network namespaces,
# kubepods cgroups, KUBE-* or guard iptables chains, cni0, lo alias or
# conntrack entries for the cluster's ranges, and the sysctls the kubelet
# changed are restored. Safe to run twice and after a partial up.sh.
# Processes are stopped only by the pids up.sh recorded, or, for containerd's
# shims (which daemonize), by pids whose command line names this cluster's
# own containerd socket.
#
# usage: down.sh DIR [KBIN]
set -o pipefail -o nounset

dir=$1
kbin=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
log() { echo "down: $(date +%T) $*" >&2; }
[[ -d $dir ]] || { log "no cluster at $dir"; exit 0; }
sock=$dir/containerd/containerd.sock

# stop NAME: SIGTERM the recorded pid, SIGKILL after 10 s.
stop() {
  local f=$dir/pids/$1.pid pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null && log "$1 killed"
  fi
  rm -f "$f"
}

# The kubelet first, so that it does not restart what is removed below.
stop kubelet
if [[ -S $sock ]] && [[ -f $dir/pids/containerd.pid ]]; then
  ctr_() { timeout 20 ctr --address "$sock" -n k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" > /dev/null 2>&1; done
  sleep 0.5
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" > /dev/null 2>&1; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" > /dev/null 2>&1; done
fi
for c in traefik coredns kube-proxy kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do stop "$c"; done

# Shims outlive containerd; only those of this cluster's socket are ours.
for pid in $(pgrep -f -- "-address $sock" 2>/dev/null); do
  kill -KILL "$pid" 2>/dev/null && log "killed shim $pid"
done

# Network namespaces and mounts. Sandbox netns files are bind mounts under
# /run/netns (hard-coded in containerd 1.6); only those that no process uses
# any more are removed, which after the kills above are the cluster's.
for ns in /run/netns/cni-*; do
  [[ -e $ns ]] || continue
  umount "$ns" 2>/dev/null
  rm -f "$ns"
done
findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
findmnt -rn -o TARGET | grep -F "/run/containerd/io.containerd" | grep -F "$dir" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done

# kubepods cgroups, deepest first (each v1 controller has its own tree).
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
  [[ -d $root ]] && find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# iptables: kube-proxy's own cleanup, then any KUBE-* and guard chains left
# (the kubelet's KUBE-FIREWALL and canaries too), for IPv4 and IPv6.
if [[ -n $kbin && -x $kbin ]]; then
  "$kbin" kube-proxy --cleanup > "$dir/logs/kube-proxy-cleanup.log" 2>&1
fi
for ipt in iptables ip6tables; do
  for t in filter nat mangle; do
    "$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE-|ZD-E2E-)' | grep -vE '^-A (KUBE-|ZD-E2E-)' |
      sed 's/^-A /-D /' | while read -r rule; do eval "$ipt -t $t $rule"; done
    chains=$("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N (KUBE-|ZD-E2E-)/ {print $2}')
    for c in $chains; do "$ipt" -t "$t" -F "$c"; done
    for c in $chains; do "$ipt" -t "$t" -X "$c"; done
  done
done

# containerd's libcni caches results under /var/lib/cni (hard-coded); the
# directories are removed only if empty, in case anything else uses them.
rm -f /var/lib/cni/results/zerodrop-e2e-* 2>/dev/null
rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null
# Likewise the shim socket and netns directories containerd 1.6 created.
rmdir /run/containerd/s /run/containerd /run/netns 2>/dev/null
ip link del cni0 2>/dev/null
ip route del "$SERVICE_CIDR" 2>/dev/null
ip addr del "$NODE_IP/32" dev lo 2>/dev/null
# conntrack takes an address and a mask, not a CIDR.
for am in "${POD_CIDR%/16} 255.255.0.0" "${SERVICE_CIDR%/24} 255.255.255.0" "$NODE_IP 255.255.255.255"; do
  read -r a m <<< "$am"
  conntrack -D -d "$a" --mask-dst "$m" > /dev/null 2>&1
  conntrack -D -s "$a" --mask-src "$m" > /dev/null 2>&1
done
if [[ -f $dir/sysctl.saved ]]; then
  while IFS= read -r kv; do sysctl -q -w "$kv" > /dev/null; done < "$dir/sysctl.saved"
fi

# The cluster directory goes last; a mount still held would make rm fail.
if findmnt -rn -o TARGET | grep -qF "$dir/"; then
  log "mounts remain under $dir; leaving it"
  exit 1
fi
rm -rf "$dir"
log "cluster at $dir removed"
