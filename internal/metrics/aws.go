package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// Source types in the "type" label of the vpnwatch_source_* metrics: the
// configuration's source kinds.
const (
	SourceAWS = config.SourceAWS
	SourceRTX = config.SourceRTX
)

var (
	// One label name per concept in every family: an AWS source is
	// `source` (with `region`), a router `router`, an RTX tunnel number
	// `rtx_tunnel`, an AWS tunnel `outside_ip`. A series sets the labels
	// that apply; the others are empty (absent in PromQL).
	sourceLabels = []string{"type", "source", "region", "router"}
	tunnelLabels = []string{"source", "region", "vpn_connection_id", "vpn_name", "outside_ip"}

	famSourceUp = newGauge(Namespace+"_source_up",
		"Whether the last poll of this source (AWS source and region, router, probe) succeeded.", sourceLabels...)
	famSourceLastSuccess = newGauge(Namespace+"_source_last_success_timestamp_seconds",
		"Time of the last successful poll of this source; absent before the first.", sourceLabels...)
	famPollDuration = newGauge(Namespace+"_poll_duration_seconds",
		"Duration of the last poll of this source.", sourceLabels...)

	famVPNInfo = newGauge(Namespace+"_aws_vpn_connection_info",
		"AWS Site-to-Site VPN connection as last seen; always 1.",
		"source", "region", "vpn_connection_id", "vpn_name", "state", "routing", "customer_gateway_id", "customer_gateway_ip", "gateway_id")
	famVPNAvailable = newGauge(Namespace+"_aws_vpn_connection_available",
		"1 if the VPN connection's state is available; 0 when pending, deleting, deleted, vanished, or configured but not returned by AWS.",
		"source", "region", "vpn_connection_id", "vpn_name")
	famTunnelUp = newGauge(Namespace+"_aws_tunnel_up",
		"1 if AWS reports the tunnel UP (for BGP VPNs: IPsec up and BGP established).", tunnelLabels...)
	famTunnelIPsecUp = newGauge(Namespace+"_aws_tunnel_ipsec_up",
		"1 if IPsec is up according to the AWS status message (IPSEC IS UP, N BGP ROUTES).", tunnelLabels...)
	famTunnelRoutes = newGauge(Namespace+"_aws_tunnel_accepted_routes",
		"Routes AWS accepted from the customer gateway over this tunnel.", tunnelLabels...)
	famTunnelLastChange = newGauge(Namespace+"_aws_tunnel_last_status_change_timestamp_seconds",
		"When AWS last saw the tunnel's IKE, IPsec or BGP status change.", tunnelLabels...)
	famTunnelMaintenance = newGauge(Namespace+"_aws_tunnel_maintenance_pending",
		"1 if AWS has a tunnel endpoint replacement pending; absent until asked.", tunnelLabels...)
	famTunnelDataIn = newGauge(Namespace+"_aws_tunnel_data_in_bytes",
		"Bytes AWS received from the customer gateway over the tunnel (after decryption) in the latest 1-minute period it published (AWS/VPN TunnelDataIn, Sum); minutes late; with aws[].cloudwatch_metrics.", tunnelLabels...)
	famTunnelDataOut = newGauge(Namespace+"_aws_tunnel_data_out_bytes",
		"Bytes AWS sent to the customer gateway over the tunnel (before encryption) in the latest 1-minute period it published (AWS/VPN TunnelDataOut, Sum); with aws[].cloudwatch_metrics.", tunnelLabels...)
	famTunnelDataTime = newGauge(Namespace+"_aws_tunnel_data_timestamp_seconds",
		"When the period of vpnwatch_aws_tunnel_data_{in,out}_bytes ends.", tunnelLabels...)
)

// AWS counts the EC2 API requests; the series of what AWS returned are
// the Latest collector's.
type AWS struct {
	// Requests counts EC2 API calls per attempt, retries included.
	Requests *prometheus.CounterVec
}

// NewAWS creates the request counter and registers it.
func NewAWS(r prometheus.Registerer) *AWS {
	a := &AWS{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "aws_api_requests_total",
			Help: "EC2 API requests by operation and result code (OK or the AWS error code), retries included.",
		}, []string{"source", "region", "operation", "code"}),
	}
	r.MustRegister(a.Requests)
	return a
}

// CountRequest is an aws.Options.OnRequest hook.
func (a *AWS) CountRequest(source, region, operation, code string) {
	a.Requests.WithLabelValues(source, region, operation, code).Inc()
}

// collectAWS sends the series of one AWS source and region.
func collectAWS(out *sender, s aws.Snapshot, last time.Time, ok bool) {
	collectSource(out, s.Err == nil, s.Took, last, ok, SourceAWS, s.Source, s.Region, "")
	if s.Err != nil {
		return // never export stale tunnel state as current
	}
	for _, c := range s.Connections {
		out.send(famVPNInfo, 1, s.Source, s.Region, c.ID, c.Name, c.State, c.Routing, c.CustomerGatewayID, c.CustomerGatewayIP, c.GatewayID)
		out.send(famVPNAvailable, boolValue(c.State == aws.StateAvailable), s.Source, s.Region, c.ID, c.Name)
		for _, t := range c.Tunnels {
			l := []string{s.Source, s.Region, c.ID, c.Name, t.OutsideIP}
			out.send(famTunnelUp, boolValue(t.Up()), l...)
			out.send(famTunnelIPsecUp, boolValue(c.State != aws.StateGone && t.IPsecUp()), l...)
			out.send(famTunnelRoutes, float64(t.AcceptedRoutes), l...)
			if !t.LastStatusChange.IsZero() {
				out.send(famTunnelLastChange, float64(t.LastStatusChange.Unix()), l...)
			}
			if t.Maintenance != nil {
				out.send(famTunnelMaintenance, boolValue(t.Maintenance.Pending != ""), l...)
			}
			if tr := t.Traffic; tr != nil {
				out.send(famTunnelDataIn, tr.In, l...)
				out.send(famTunnelDataOut, tr.Out, l...)
				out.send(famTunnelDataTime, float64(tr.At.Add(tr.Period).Unix()), l...)
			}
		}
	}
	for _, id := range s.Missing {
		if !hasConnection(s.Connections, id) {
			out.send(famVPNAvailable, 0, s.Source, s.Region, id, "")
		}
	}
}

func hasConnection(cs []aws.Connection, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

// collectSource sends the vpnwatch_source_* series of one source.
func collectSource(out *sender, up bool, took time.Duration, lastSuccess time.Time, succeeded bool, labels ...string) {
	out.send(famSourceUp, boolValue(up), labels...)
	out.send(famPollDuration, took.Seconds(), labels...)
	if succeeded {
		out.send(famSourceLastSuccess, float64(lastSuccess.UnixNano())/1e9, labels...)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
