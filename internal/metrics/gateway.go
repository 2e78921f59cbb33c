package metrics

import (
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// Series of customer gateways other than RTX routers (whose series keep
// their vpnwatchd_rtx_* names), in vendor-neutral terms: kind is the
// gateway kind ("strongswan"), router the gateway's configured name,
// tunnel the gateway's own name of the tunnel (a swanctl connection).
var (
	gwTunnelLabels = []string{"kind", "router", "tunnel"}

	famGWTunnelUp = newGauge(Namespace+"_gateway_tunnel_up",
		"1 if the gateway has an established tunnel (strongSwan: an IKE SA with an installed child SA), 0 if not.", "kind", "router", "tunnel", "outside_ip")
	famGWSACount = newGauge(Namespace+"_gateway_ipsec_sas",
		"IPsec (child) SAs of the tunnel per direction; 2 per direction while a rekey overlaps.", "kind", "router", "tunnel", "direction")
	famGWSALifetime = newGauge(Namespace+"_gateway_ipsec_sa_remaining_lifetime_seconds",
		"Remaining lifetime of the newest IPsec SA of the tunnel per direction; absent when there is none.", "kind", "router", "tunnel", "direction")
	famGWRekeys = newFamily(prometheus.CounterValue, Namespace+"_gateway_ipsec_rekeys_total",
		"New IPsec SAs (rekeys or reconnections) seen for the tunnel since vpnwatchd started.", gwTunnelLabels...)
	famGWBGPUp = newGauge(Namespace+"_gateway_bgp_neighbor_up",
		"1 if the gateway's BGP session with the neighbor is Established (strongSwan: FRR).", "kind", "router", "neighbor", "remote_as")
	famGWBGPRoutes = newGauge(Namespace+"_gateway_bgp_received_routes",
		"Prefixes the tunnel's BGP neighbor sent (FRR's pfxRcd); absent when unknown.", gwTunnelLabels...)
	famGWMTU = newGauge(Namespace+"_gateway_tunnel_mtu_bytes",
		"MTU of the interface carrying the tunnel's inside traffic; absent when it could not be read.", gwTunnelLabels...)
	famGWMSS = newGauge(Namespace+"_gateway_tcp_mss_clamp_bytes",
		"TCP MSS clamp (nftables `tcp option maxseg size set N`); absent when none or unread.", gwTunnelLabels...)
	famGWMSSAuto = newGauge(Namespace+"_gateway_tcp_mss_clamp_auto",
		"1 if TCP MSS is clamped to the route MTU (nftables `tcp option maxseg size set rt mtu`).", gwTunnelLabels...)
	famGWUnreadable = newGauge(Namespace+"_gateway_unreadable_entries",
		"Entries of the gateway's last answers that vpnwatchd could not read, by command.", "kind", "router", "command")
)

// collectGateway sends the series of one gateway.
func collectGateway(out *sender, s gateway.Snapshot, last time.Time, ok bool) {
	kind, name := s.Source.Type, s.Source.Name
	collectSource(out, s.Err == nil, s.Took, last, ok, kind, "", "", name)
	if s.Err != nil {
		return
	}
	for _, t := range s.Tunnels {
		if t.Known {
			out.send(famGWTunnelUp, boolValue(t.Up), kind, name, t.Name, t.RemoteAddress)
		}
		for _, dir := range []string{"send", "recv"} {
			count, newest := 0, time.Duration(-1)
			for _, sa := range t.SAs {
				if sa.Direction == dir || sa.Direction == "" {
					count++
					newest = max(newest, sa.Remaining)
				}
			}
			out.send(famGWSACount, float64(count), kind, name, t.Name, dir)
			if newest >= 0 {
				out.send(famGWSALifetime, newest.Seconds(), kind, name, t.Name, dir)
			}
		}
		out.send(famGWRekeys, float64(t.Rekeys), kind, name, t.Name)
		if t.BGP != nil && t.BGP.ReceivedPrefixes >= 0 {
			out.send(famGWBGPRoutes, float64(t.BGP.ReceivedPrefixes), kind, name, t.Name)
		}
		if t.Settings.MTU > 0 {
			out.send(famGWMTU, float64(t.Settings.MTU), kind, name, t.Name)
		}
		if t.Settings.MSSKnown {
			if !t.Settings.MSSAuto {
				out.send(famGWMSS, float64(t.Settings.MSS), kind, name, t.Name)
			}
			out.send(famGWMSSAuto, boolValue(t.Settings.MSSAuto), kind, name, t.Name)
		}
	}
	unreadable := map[string]int{}
	for _, w := range s.Warnings {
		unreadable[w.Command]++
	}
	for _, cmd := range slices.Sorted(maps.Keys(unreadable)) {
		out.send(famGWUnreadable, float64(unreadable[cmd]), kind, name, cmd)
	}
	type neighbor struct{ address, remoteAS string }
	seen := map[neighbor]bool{}
	for _, p := range s.Peers {
		if k := (neighbor{p.Address, p.RemoteAS}); !seen[k] {
			seen[k] = true
			out.send(famGWBGPUp, boolValue(p.Established), kind, name, p.Address, p.RemoteAS)
		}
	}
}

// Gateways counts the SSH logins to gateways read over SSH; the series of
// what they said are the Latest collector's.
type Gateways struct {
	// Connects counts SSH logins by result.
	Connects *prometheus.CounterVec
}

// NewGateways creates the counters and registers them.
func NewGateways(r prometheus.Registerer) *Gateways {
	g := &Gateways{Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "gateway_ssh_connects_total",
		Help: "SSH logins to a gateway read over SSH (strongSwan's ssh:// vici) by result (ok, error); more than one ok means the connection was made again.",
	}, []string{"kind", "router", "result"})}
	r.MustRegister(g.Connects)
	return g
}

// CountConnect is a strongswan.Options.OnConnect hook.
func (g *Gateways) CountConnect(kind, router, result string) {
	g.Connects.WithLabelValues(kind, router, result).Inc()
}
