# Shared by up.sh and down.sh: the cluster's fixed addresses and names.
# Sourced, not run.
#
# Addresses (documented in test/e2e/README.md). All three ranges sit in
# 10.216.0.0/13, which the guard rule keeps off eth0:
#   10.217.0.0/16  pod CIDR (this node's host-local range: 10.217.0.0/24 on cni0, gateway .1)
#   10.218.0.0/24  Service CIDR (10.218.0.1 is the kubernetes Service, 10.218.0.10 CoreDNS)
#   10.219.0.1/32  node IP, an alias on lo: the apiserver and kubelet need a
#                  non-loopback address (Endpoints validation rejects 127/8)
POD_CIDR=10.217.0.0/16
NODE_POD_RANGE=10.217.0.0/24
BRIDGE_IP=10.217.0.1
# A fixed MAC: a pre-created bridge otherwise takes the lowest port MAC, which
# changes as veths come and go and leaves pods with a stale gateway ARP entry.
BRIDGE_MAC=02:42:0a:d9:00:01
SERVICE_CIDR=10.218.0.0/24
NODE_IP=10.219.0.1
GUARD_CIDR=10.216.0.0/13
NODE_NAME=zerodrop-e2e
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
# CoreDNS, when up.sh is given one, on 127.0.0.1 (UDP and TCP).
DNS_PORT=10053
# Traefik, when up.sh is given one: HTTPS for Ingresses, and its ping.
INGRESS_PORT=8443
TRAEFIK_PORT=8082
GATEWAY_PORT=8444
KUBE_VERSION=v1.33.13
PAUSE_IMAGE=zerodrop.local/pause:e2e
CNI_BIN_DIR=/usr/lib/cni
GUARD_CHAIN_OUT=ZD-E2E-OUTPUT
GUARD_CHAIN_FWD=ZD-E2E-FORWARD
