#!/usr/bin/env bash
# Installs the Debian packages the e2e cluster runs on. Idempotent: apt-get is
# skipped when every package is already installed, so a warm run costs
# nothing and needs no network.
#   containerd + runc     container runtime (crun 1.8 cannot run on this VM's
#                         hybrid cgroups; runc can)
#   containernetworking-plugins  bridge, host-local, loopback, portmap
#   etcd-server           etcd 3.4, which kube-apiserver 1.33 accepts
#   iptables conntrack    kube-proxy's data plane and the stale-entry flush
#   openssl               the cluster's certificates
#   util-linux procps iproute2  flock, findmnt, pkill-free process checks, ip
set -o errexit -o pipefail -o nounset

pkgs=(containerd runc containernetworking-plugins etcd-server iptables conntrack openssl util-linux procps iproute2 ethtool)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# --no-install-recommends keeps docker.io and friends (recommended by
# containerd's reverse deps) out; no daemon is started by the install because
# policy-rc.d forbids it below.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.zerodrop
chmod +x /usr/sbin/policy-rc.d.zerodrop
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  mv /usr/sbin/policy-rc.d.zerodrop /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
else
  rm -f /usr/sbin/policy-rc.d.zerodrop
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
