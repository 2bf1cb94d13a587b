package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/resolver"
)

// The client resolves dns:/// targets with a resolver of its own, given to
// each connection with grpc.WithResolvers, instead of grpc-go's: that one
// re-resolves at most every 30 s, a process-wide setting that a library must
// not change behind its importer's back; it resolves only when a connection
// breaks; and after a failed lookup (NXDOMAIN while a Service is being
// recreated) it backs off for up to two minutes. This one:
//
//   - resolves when grpc-go asks (a connection closed or failed), at most
//     every MinResolutionInterval;
//   - re-resolves every ResolveEvery even when nothing broke, so that pods
//     that a caching DNS server (CoreDNS's cache plugin, the kubernetes
//     plugin's TTL) hid for a while are found soon after the cache lets go;
//   - retries a failed lookup within a second or two, never minutes;
//   - never fetches TXT service config, so a stray _grpc_config record can
//     never replace round_robin and health checking.
const (
	// MinResolutionInterval is the shortest time between two lookups of one
	// connection.
	MinResolutionInterval = time.Second
	// DefaultResolveEvery is how often a connection looks its name up again
	// with nothing broken. Stock CoreDNS caches answers for 30 s; every 5 s
	// costs a server next to nothing and finds new pods within 5 s of that.
	DefaultResolveEvery = 5 * time.Second
	// maxLookupBackoff bounds the wait after failed lookups.
	maxLookupBackoff = 2 * time.Second
	// lookupTimeout bounds one lookup.
	lookupTimeout = 2 * time.Second
	// defaultPort is the port of a target that names none, as in grpc-go.
	defaultPort = "443"
)

// dnsBuilder builds the client's resolver for the dns scheme.
type dnsBuilder struct{ every time.Duration }

func (b dnsBuilder) Scheme() string { return "dns" }

func (b dnsBuilder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	host, port, err := splitTarget(target.Endpoint())
	if err != nil {
		return nil, fmt.Errorf("dns target %q: %w", target.URL.String(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &dnsResolver{
		host: host, port: port, cc: cc, every: b.every,
		lookup: net.DefaultResolver, now: make(chan struct{}, 1), cancel: cancel,
	}
	if authority := target.URL.Host; authority != "" {
		server, err := authorityAddr(authority)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("dns target %q: authority: %w", target.URL.String(), err)
		}
		var d net.Dialer
		r.lookup = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		}}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		// An address needs no lookup: report it once.
		cancel()
		only := resolver.Address{Addr: net.JoinHostPort(host, port)}
		return r, cc.UpdateState(resolver.State{Addresses: []resolver.Address{only}})
	}
	r.wg.Add(1)
	go r.watch(ctx)
	return r, nil
}

// dnsResolver looks one name up for one connection.
type dnsResolver struct {
	host, port string
	cc         resolver.ClientConn
	every      time.Duration
	lookup     *net.Resolver
	now        chan struct{} // a ResolveNow, waiting
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

func (r *dnsResolver) ResolveNow(resolver.ResolveNowOptions) {
	select {
	case r.now <- struct{}{}:
	default: // one is waiting already
	}
}

func (r *dnsResolver) Close() {
	r.cancel()
	r.wg.Wait()
}

func (r *dnsResolver) watch(ctx context.Context) {
	defer r.wg.Done()
	failures := 0
	for {
		addrs, err := r.resolve(ctx)
		wait := r.every
		if err == nil {
			failures = 0
			err = r.cc.UpdateState(resolver.State{Addresses: addrs})
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.cc.ReportError(err)
			failures++
			wait = min(maxLookupBackoff, MinResolutionInterval*time.Duration(failures))
		}
		// At most one lookup per MinResolutionInterval, whatever asks.
		rest := time.NewTimer(MinResolutionInterval)
		select {
		case <-ctx.Done():
			rest.Stop()
			return
		case <-rest.C:
		}
		timer := time.NewTimer(wait - MinResolutionInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.now:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// resolve looks the host up, A and AAAA, and returns its addresses sorted,
// so that an unchanged answer is an unchanged state.
func (r *dnsResolver) resolve(ctx context.Context) ([]resolver.Address, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ips, err := r.lookup.LookupHost(ctx, r.host)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", r.host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("look up %s: no addresses", r.host)
	}
	sort.Strings(ips)
	addrs := make([]resolver.Address, len(ips))
	for i, ip := range ips {
		addrs[i] = resolver.Address{Addr: net.JoinHostPort(ip, r.port)}
	}
	return addrs, nil
}

// splitTarget splits host[:port], with grpc-go's default port.
func splitTarget(endpoint string) (host, port string, err error) {
	if endpoint == "" {
		return "", "", errors.New("no host")
	}
	if _, err := netip.ParseAddr(endpoint); err == nil {
		return endpoint, defaultPort, nil
	}
	if host, port, err := net.SplitHostPort(endpoint); err == nil {
		if host == "" || port == "" {
			return "", "", fmt.Errorf("%q lacks a host or a port", endpoint)
		}
		return host, port, nil
	}
	return endpoint, defaultPort, nil
}

// authorityAddr is the DNS server of a dns://SERVER/ target, port 53 by
// default.
func authorityAddr(authority string) (string, error) {
	if _, err := netip.ParseAddr(authority); err == nil {
		return net.JoinHostPort(authority, "53"), nil
	}
	if _, _, err := net.SplitHostPort(authority); err != nil {
		return "", err
	}
	return authority, nil
}
