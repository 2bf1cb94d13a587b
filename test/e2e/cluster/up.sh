#!/usr/bin/env bash
# Brings up a single-node Kubernetes under DIR: etcd, containerd + runc,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy (iptables mode), with bridge CNI. Every daemon's pid is recorded
# in DIR/pids so that down.sh stops exactly these processes and no others.
# Image tarballs in DIR/images/*.tar are imported before the kubelet starts
# (the pause image among them: nothing is pulled from a registry).
#
# With COREDNS, CoreDNS runs on the host as the cluster's DNS for clients
# outside the pods (the harness's gRPC load on the headless Service), on
# 127.0.0.1:$DNS_PORT (see env.sh); pods get no cluster DNS.
#
# With TRAEFIK, Traefik runs on the host as the cluster's ingress controller
# for the IngressClass "traefik": HTTPS on 127.0.0.1:$INGRESS_PORT, straight
# to the pods it reads from EndpointSlices, and its ping on
# 127.0.0.1:$TRAEFIK_PORT. With GATEWAY_CRDS too (a directory of the Gateway
# API's CRDs), they are installed first and Traefik is also the controller of
# the GatewayClass "traefik": a Gateway's listener on port $GATEWAY_PORT is
# served on 127.0.0.1:$GATEWAY_PORT. The harness makes the Gateway.
#
# usage: up.sh DIR KBIN [COREDNS [TRAEFIK [GATEWAY_CRDS]]]
# On success DIR/kubeconfig is an admin kubeconfig. On failure run down.sh DIR.
set -o errexit -o pipefail -o nounset

dir=$1
kbin=$2
coredns=${3:-}
traefik=${4:-}
gateway_crds=${5:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"

mkdir -p "$dir"/{pids,logs,pki,bin,images,etcd,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,runc}
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  ln -sf "$kbin" "$dir/bin/$c"
done
log() { echo "up: $(date +%T.%N | cut -c1-12) $*" >&2; }

# The cluster is one per host, like a real node, and its daemons' ports are
# fixed: they are written into its kubeconfigs, its Corefile and the
# harness's clients before anything starts, and kubelet, kube-proxy and the
# apiserver have no way to report a port the kernel picked. So instead of
# guessing, check that each is free and say what holds it. (The processes
# under test, the service's replicas, are pods and get their own addresses.)
busy=""
for p in 6443 "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" 10248 10249 10250 10256 10257 10259 "$DNS_PORT" "$INGRESS_PORT" "$TRAEFIK_PORT" "$GATEWAY_PORT"; do
  if ss -Hltn "sport = :$p" | grep -q .; then
    busy="$busy $p ($(ss -Hltnp "sport = :$p" | grep -o 'users:(("[^"]*"' | head -1 | cut -d'"' -f2))"
  fi
done
if [[ -n $busy ]]; then
  echo "up: these ports, fixed for the test cluster (env.sh), are in use:$busy; stop what holds them, or run down.sh if an earlier run left a cluster" >&2
  exit 1
fi

# start NAME CMD...: runs a daemon in its own session, logs to DIR/logs.
start() {
  local name=$1
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

# start_low NAME NICE CMD...: like start, at a low CPU priority. setsid
# gives each daemon a scheduler autogroup of its own, whose weight is the
# group's nice and not the threads': the group's is set to 10, and the
# threads' to NICE, for a kernel without autogroups.
start_low() {
  local name=$1 nice=$2
  shift 2
  setsid sh -c 'echo 10 > /proc/self/autogroup 2>/dev/null; n=$1; shift; exec nice -n "$n" "$@"' "$name" "$nice" "$@" \
    >"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

# start_control_plane NAME CMD...: the control plane, at a low priority. In
# production it has nodes of its own; on this one 2-core node its bursts
# during pod churn (etcd writes, the apiserver's watch fan-out, the
# controllers' resyncs) would otherwise take the CPU from the service's pods,
# the ingress and the clients, and show as the service's latency.
start_control_plane() { start_low "$1" 10 "${@:2}"; }

# start_runtime NAME CMD...: containerd, its autogroup at the same low
# priority. A pod's start runs a shim, several runc invocations and runc
# init, and on this node that burst (two pods at once when scaling 1 to 3)
# took about a third of both CPUs for 100 ms, the serving pod and the clients
# a tenth each, and every request in that time waited (issue 13). The shims
# and runc stay in containerd's session, and so in its autogroup. The
# threads' nice stays 0: it would be inherited through the shim and runc by
# every container's process, and autogroups apply only outside the pods'
# cgroups, where each pod keeps the share its CPU request gives it.
start_runtime() { start_low "$1" 0 "${@:2}"; }

# wait_for WHAT SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" > /dev/null 2>&1; do
    if (( $(date +%s) > deadline )); then
      log "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
  log "$what ready"
}

# --- host: sysctls the kubelet changes are saved for down.sh to restore ---
: > "$dir/sysctl.saved"
for s in vm.overcommit_memory kernel.panic kernel.panic_on_oops; do
  echo "$s=$(sysctl -n "$s")" >> "$dir/sysctl.saved"
done

# --- network: node IP on lo, the bridge with a fixed MAC, guard rules ---
ip addr add "$NODE_IP/32" dev lo 2>/dev/null || true
if ! ip link show cni0 > /dev/null 2>&1; then
  ip link add cni0 address "$BRIDGE_MAC" type bridge
fi
ip addr add "$BRIDGE_IP/24" dev cni0 2>/dev/null || true
ip link set cni0 up
# A Service IP that kube-proxy has not DNATed (yet) goes to the bridge, where
# nothing answers, instead of the default route.
ip route replace "$SERVICE_CIDR" dev cni0
# Guards: nothing addressed to the cluster's ranges leaves through eth0, and
# nothing is forwarded out of eth0 at all.
iptables -N "$GUARD_CHAIN_OUT" 2>/dev/null || iptables -F "$GUARD_CHAIN_OUT"
iptables -A "$GUARD_CHAIN_OUT" -o eth0 -d "$GUARD_CIDR" -j REJECT
iptables -C OUTPUT -j "$GUARD_CHAIN_OUT" 2>/dev/null || iptables -I OUTPUT -j "$GUARD_CHAIN_OUT"
iptables -N "$GUARD_CHAIN_FWD" 2>/dev/null || iptables -F "$GUARD_CHAIN_FWD"
iptables -A "$GUARD_CHAIN_FWD" -o eth0 -j DROP
iptables -C FORWARD -j "$GUARD_CHAIN_FWD" 2>/dev/null || iptables -I FORWARD -j "$GUARD_CHAIN_FWD"

# --- certificates (EC P-256) and kubeconfigs ---
pki=$dir/pki
key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
# cert NAME SUBJECT [SAN]: a client or server certificate signed by the CA.
cert() {
  local name=$1 subj=$2 san=${3:-}
  key "$pki/$name.key"
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n $san ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } > "$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}
key "$pki/ca.key"
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=zerodrop-e2e-ca" -days 2 -out "$pki/ca.crt" 2>/dev/null
cert apiserver "/CN=kube-apiserver" \
  "IP:$NODE_IP,IP:127.0.0.1,IP:${SERVICE_CIDR%.0/24}.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=zerodrop-e2e-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
cert kube-proxy "/CN=system:kube-proxy"
key "$pki/sa.key"
openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

kubeconfig() {
  local name=$1
  cat > "$dir/$name.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    certificate-authority: $pki/ca.crt
    server: https://$NODE_IP:6443
users:
- name: $name
  user:
    client-certificate: $pki/$name.crt
    client-key: $pki/$name.key
contexts:
- name: e2e
  context: {cluster: e2e, user: $name}
current-context: e2e
KC
}
for n in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$n"; done
ln -sf "$dir/admin.kubeconfig" "$dir/kubeconfig"
log "certificates written"

# --- etcd 3.4 (Debian) ---
start_control_plane etcd etcd --name e2e --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
  --quota-backend-bytes 1073741824
# etcd's /health is plain HTTP on loopback (Debian's etcd-server has no etcdctl).
etcd_healthy() { curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
wait_for etcd 30 etcd_healthy

# --- containerd 1.6 + runc ---
sock=$dir/containerd/containerd.sock
cat > "$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: a negative oom_score_adj (pause -998,
  # Guaranteed pods -997) cannot be written, and every sandbox fails with
  # "can't get final child's PID from pipe: EOF" unless containerd clamps it.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$dir/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$dir/cni/net.d"
TOML
cat > "$dir/cni/net.d/10-zerodrop-e2e.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "zerodrop-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_RANGE", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
JSON
start_runtime containerd containerd --config "$dir/containerd/config.toml"
wait_for containerd 30 ctr --address "$sock" version
for tar in "$dir"/images/*.tar; do
  [[ -e $tar ]] || continue
  ctr --address "$sock" -n k8s.io images import "$tar" > /dev/null
done
log "containerd priority: $(tr -d '\n' < "/proc/$(cat "$dir/pids/containerd.pid")/autogroup" 2>/dev/null || echo 'no autogroups'), threads at nice $(ps -o ni= -p "$(cat "$dir/pids/containerd.pid")" | tr -d ' ')"
log "images imported: $(ctr --address "$sock" -n k8s.io images ls -q | tr '\n' ' ')"

# --- kube-apiserver ---
kubectl_() { kubectl --kubeconfig "$dir/kubeconfig" "$@"; }
start_control_plane kube-apiserver "$dir/bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port 6443 \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --profiling=false --v 1
wait_for kube-apiserver 90 kubectl_ get --raw /readyz
log "control plane priority: $(tr -d '\n' < "/proc/$(cat "$dir/pids/kube-apiserver.pid")/autogroup" 2>/dev/null || echo 'no autogroups'), threads at nice $(ps -o ni= -p "$(cat "$dir/pids/kube-apiserver.pid")" | tr -d ' ')"

# --- controller-manager, scheduler ---
start_control_plane kube-controller-manager "$dir/bin/kube-controller-manager" \
  --kubeconfig "$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$dir/controller-manager.kubeconfig" --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" --use-service-account-credentials \
  --cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false --service-cluster-ip-range "$SERVICE_CIDR" \
  --profiling=false --v 1
start_control_plane kube-scheduler "$dir/bin/kube-scheduler" \
  --kubeconfig "$dir/scheduler.kubeconfig" \
  --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v 1

# --- kubelet ---
echo "nameserver 127.0.0.1" > "$dir/resolv.conf"
cat > "$dir/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
# This VM has hybrid cgroup v1; 1.35 will refuse it by default.
failCgroupV1: false
failSwapOn: false
podLogsDir: $dir/pod-logs
resolvConf: $dir/resolv.conf
clusterDomain: cluster.local
clusterDNS: []
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "2%"
  nodefs.available: "2%"
  nodefs.inodesFree: "2%"
  imagefs.available: "2%"
YAML
start kubelet "$dir/bin/kubelet" \
  --config "$dir/kubelet/config.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
  --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1

# --- kube-proxy ---
cat > "$dir/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $dir/kube-proxy.kubeconfig
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables:
  localhostNodePorts: false
  minSyncPeriod: 1s
  syncPeriod: 30s
# Leave the host's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
start kube-proxy "$dir/bin/kube-proxy" --config "$dir/kube-proxy.yaml" --v 1

node_ready() {
  [[ $(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
wait_for "node $NODE_NAME" 90 node_ready
# kube-proxy's healthz turns 200 once it has synced its rules at least once.
proxy_synced() { [[ $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz) == 200 ]]; }
wait_for kube-proxy 60 proxy_synced
wait_for "default service account" 60 kubectl_ -n default get serviceaccount default

# --- CoreDNS on loopback, answering for cluster.local only (no forward) ---
if [[ -n $coredns ]]; then
  cat > "$dir/Corefile" <<COREFILE
cluster.local:$DNS_PORT {
    # The host's clients ask on loopback; pods that call another tier name
    # it with a dns:// target on the node's address.
    bind 127.0.0.1 $NODE_IP
    errors
    # The caching of a stock cluster (EKS's and AKS's CoreDNS, kubeadm's
    # before 1.32, NodeLocal DNSCache): an answer is served for 30 s,
    # however the Service's endpoints change meanwhile.
    cache 30
    kubernetes cluster.local {
        kubeconfig $dir/admin.kubeconfig e2e
        ttl 30
    }
}
COREFILE
  start coredns "$coredns" -conf "$dir/Corefile"
  dns_up() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$DNS_PORT"; }
  wait_for coredns 30 dns_up
fi

# --- the Gateway API's CRDs, before the controller that watches them ---
if [[ -n $gateway_crds ]]; then
  # Server-side: the CRDs are larger than client-side apply's annotation.
  kubectl_ apply --server-side -f "$gateway_crds" > /dev/null
  kubectl_ wait --for=condition=Established --timeout=60s \
    crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io \
    crd/grpcroutes.gateway.networking.k8s.io > /dev/null
  log "Gateway API CRDs established"
fi

# --- Traefik on loopback: the ingress controller, and the gateway's ---
if [[ -n $traefik ]]; then
  kubectl_ apply -f - > /dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: traefik
spec:
  controller: traefik.io/ingress-controller
YAML
  gateway_args=()
  if [[ -n $gateway_crds ]]; then
    kubectl_ apply -f - > /dev/null <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: traefik
spec:
  controllerName: traefik.io/gateway-controller
YAML
    # A listener is served by the entry point with its port. Ingress
    # routers keep to websecure (asDefault), so that the gateway's entry
    # point serves only what its Gateway's routes admit.
    gateway_args=(--entryPoints.gateway.address="127.0.0.1:$GATEWAY_PORT"
      --entryPoints.websecure.asDefault=true
      --providers.kubernetesGateway=true)
  fi
  # Out of a cluster it reads KUBECONFIG (client certificates work; its
  # endpoint/token options would not). Every Ingress router gets TLS from
  # the entry point, with the certificate from the Ingress's secret, picked
  # by SNI. The version check and usage report would reach the internet.
  # providersThrottleDuration is the default, written out: an EndpointSlice
  # change reaches routing within about 2 s, well inside the drain delay.
  start traefik env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
    -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy \
    KUBECONFIG="$dir/kubeconfig" \
    "$traefik" \
    --global.checkNewVersion=false --global.sendAnonymousUsage=false \
    --entryPoints.websecure.address="127.0.0.1:$INGRESS_PORT" \
    --entryPoints.websecure.http.tls=true \
    --entryPoints.traefik.address="127.0.0.1:$TRAEFIK_PORT" \
    --ping=true \
    --providers.kubernetesIngress=true \
    --providers.kubernetesIngress.ingressClass=traefik \
    "${gateway_args[@]}" \
    --providers.providersThrottleDuration=2s \
    --log.level=INFO --log.noColor=true
  traefik_up() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TRAEFIK_PORT/ping") == 200 ]]; }
  wait_for traefik 30 traefik_up
fi
log "cluster up"
