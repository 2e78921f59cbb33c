package metrics

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

var (
	rtxTunnelLabels = []string{"router", "rtx_tunnel"}

	famRTXTunnelUp = newGauge(Namespace+"_rtx_tunnel_up",
		"1 if the RTX says the tunnel interface is Online, 0 if Offline (show status tunnel); absent while its status line cannot be read.", "router", "rtx_tunnel", "outside_ip")
	famRTXSACount = newGauge(Namespace+"_rtx_ipsec_sas",
		"IPsec (ESP) SAs of the tunnel per direction; 2 per direction while a rekey overlaps.", "router", "rtx_tunnel", "direction")
	famRTXSALifetime = newGauge(Namespace+"_rtx_ipsec_sa_remaining_lifetime_seconds",
		"Remaining lifetime of the newest IPsec SA of the tunnel per direction; absent when there is none.", "router", "rtx_tunnel", "direction")
	famRTXRekeys = newFamily(prometheus.CounterValue, Namespace+"_rtx_ipsec_rekeys_total",
		"New IPsec SAs (rekeys or reconnections) seen for the tunnel since vpnwatchd started.", rtxTunnelLabels...)
	famRTXBGPUp = newGauge(Namespace+"_rtx_bgp_neighbor_up",
		"1 if the RTX's BGP session with the neighbor is Established; rtx_tunnel and outside_ip name the tunnel whose inside address the neighbor is (empty for a neighbor of no tunnel), so that BGP joins the tunnel series on them.", "router", "neighbor", "remote_as", "rtx_tunnel", "outside_ip")
	famRTXBGPRoutes = newGauge(Namespace+"_rtx_bgp_received_routes",
		"Routes the tunnel's BGP neighbor sent, best path or not (show status bgp neighbor ADDR received-routes); absent when the router cannot say.", rtxTunnelLabels...)
	famRTXInstalled = newGauge(Namespace+"_rtx_tunnel_installed_routes",
		"BGP routes via the tunnel installed in the RTX routing table (show ip route): only best paths, so 0 on a healthy standby tunnel.", rtxTunnelLabels...)
	tunnelTrafficLabels = []string{"router", "rtx_tunnel", "outside_ip"}
	famRTXRxPackets     = newFamily(prometheus.CounterValue, Namespace+"_rtx_tunnel_receive_packets_total",
		"IPv4 packets received through the tunnel (show status tunnel); the router resets it when the tunnel reconnects.", tunnelTrafficLabels...)
	famRTXRxBytes = newFamily(prometheus.CounterValue, Namespace+"_rtx_tunnel_receive_bytes_total",
		"IPv4 octets received through the tunnel (show status tunnel).", tunnelTrafficLabels...)
	famRTXTxPackets = newFamily(prometheus.CounterValue, Namespace+"_rtx_tunnel_transmit_packets_total",
		"IPv4 packets sent through the tunnel (show status tunnel).", tunnelTrafficLabels...)
	famRTXTxBytes = newFamily(prometheus.CounterValue, Namespace+"_rtx_tunnel_transmit_bytes_total",
		"IPv4 octets sent through the tunnel (show status tunnel).", tunnelTrafficLabels...)
	famRTXUnreadable = newGauge(Namespace+"_rtx_unreadable_lines",
		"Lines of the router's last outputs that vpnwatchd could not read, by command (see the RouterOutputUnreadable finding).", "router", "command")
	famRTXMTU = newGauge(Namespace+"_rtx_tunnel_mtu_bytes",
		"Tunnel interface MTU: `ip tunnel mtu`, or the RTX default 1280.", rtxTunnelLabels...)
	famRTXMSS = newGauge(Namespace+"_rtx_tunnel_tcp_mss_limit_bytes",
		"`ip tunnel tcp mss limit` when set to a number.", rtxTunnelLabels...)
	famRTXMSSAuto = newGauge(Namespace+"_rtx_tunnel_tcp_mss_limit_auto",
		"1 if `ip tunnel tcp mss limit auto` is set.", rtxTunnelLabels...)
)

// RTX counts SSH logins, oversized outputs and commands the firmware does
// not offer; the series of what the routers said are the Latest
// collector's.
type RTX struct {
	// Connects counts SSH logins by result.
	Connects *prometheus.CounterVec
	// Oversize counts commands cut off at the output limit.
	Oversize *prometheus.CounterVec
	// Unsupported counts commands the router answered with an error.
	Unsupported *prometheus.CounterVec
}

// NewRTX creates the counters and registers them.
func NewRTX(r prometheus.Registerer) *RTX {
	x := &RTX{
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rtx_ssh_connects_total",
			Help: "SSH logins to the router by result (ok, error); more than one ok means the session was re-established.",
		}, []string{"router", "result"}),
		Oversize: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rtx_output_too_large_total",
			Help: "Commands whose output passed the limit (16 MiB) without the prompt coming back; the session is dropped and the poll fails.",
		}, []string{"router"}),
		Unsupported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rtx_unsupported_commands_total",
			Help: "Commands the router answered with an error (\"Error: Invalid parameter\" to received-routes on older firmware): its firmware does not offer them, so what they tell is unknown. Asked once per SSH session.",
		}, []string{"router", "command"})}
	r.MustRegister(x.Connects, x.Oversize, x.Unsupported)
	return x
}

// CountConnect is an rtx.Options.OnConnect hook.
func (x *RTX) CountConnect(router, result string) { x.Connects.WithLabelValues(router, result).Inc() }

// CountOversize is an rtx.Options.OnOversize hook.
func (x *RTX) CountOversize(router string) { x.Oversize.WithLabelValues(router).Inc() }

// CountUnsupported is an rtx.Options.OnUnsupported hook.
func (x *RTX) CountUnsupported(router, command string) {
	x.Unsupported.WithLabelValues(router, command).Inc()
}

// collectRTX sends the series of one router.
func collectRTX(out *sender, s rtx.Snapshot, last time.Time, ok bool) {
	name := s.Router
	collectSource(out, s.Err == nil, s.Took, last, ok, SourceRTX, "", "", name)
	if s.Err != nil {
		return
	}
	for _, t := range s.Tunnels {
		n := strconv.Itoa(t.Config.Number)
		if t.Status.Known() {
			out.send(famRTXTunnelUp, boolValue(t.Status.Online()), name, n, t.Config.RemoteAddress)
			out.send(famRTXRxPackets, float64(t.Status.RxPackets), name, n, t.Config.RemoteAddress)
			out.send(famRTXRxBytes, float64(t.Status.RxOctets), name, n, t.Config.RemoteAddress)
			out.send(famRTXTxPackets, float64(t.Status.TxPackets), name, n, t.Config.RemoteAddress)
			out.send(famRTXTxBytes, float64(t.Status.TxOctets), name, n, t.Config.RemoteAddress)
		}
		for _, dir := range []string{"send", "recv"} {
			count, newest := 0, time.Duration(-1)
			for _, sa := range t.SAs {
				if sa.Direction == dir {
					count++
					newest = max(newest, sa.Remaining)
				}
			}
			out.send(famRTXSACount, float64(count), name, n, dir)
			if newest >= 0 {
				out.send(famRTXSALifetime, newest.Seconds(), name, n, dir)
			}
		}
		out.send(famRTXRekeys, float64(t.Rekeys), name, n)
		if t.BGP != nil && t.BGP.ReceivedPrefixes >= 0 {
			out.send(famRTXBGPRoutes, float64(t.BGP.ReceivedPrefixes), name, n)
		}
		out.send(famRTXInstalled, float64(t.InstalledRoutes), name, n)
		out.send(famRTXMTU, float64(t.Config.MTU), name, n)
		if t.Config.MSSConfigured && !t.Config.MSSAuto {
			out.send(famRTXMSS, float64(t.Config.MSSLimit), name, n)
		}
		out.send(famRTXMSSAuto, boolValue(t.Config.MSSAuto), name, n)
	}
	unreadable := map[string]int{}
	for _, w := range s.Warnings {
		unreadable[w.Command]++
	}
	for _, cmd := range slices.Sorted(maps.Keys(unreadable)) {
		out.send(famRTXUnreadable, float64(unreadable[cmd]), name, cmd)
	}
	type neighbor struct{ address, remoteAS string }
	type tunnel struct{ number, outsideIP string }
	tunnels := map[string]tunnel{} // neighbor address → its tunnel
	for _, t := range s.Tunnels {
		if t.BGP != nil {
			if _, ok := tunnels[t.BGP.Address]; !ok {
				tunnels[t.BGP.Address] = tunnel{strconv.Itoa(t.Config.Number), t.Config.RemoteAddress}
			}
		}
	}
	seen := map[neighbor]bool{} // a neighbor listed twice must not break /metrics
	for _, nb := range s.BGP.Neighbors {
		if k := (neighbor{nb.Address, nb.RemoteAS}); !seen[k] {
			seen[k] = true
			t := tunnels[nb.Address]
			out.send(famRTXBGPUp, boolValue(nb.Established()), name, nb.Address, nb.RemoteAS, t.number, t.outsideIP)
		}
	}
}
