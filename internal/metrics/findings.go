package metrics

import (
	"strconv"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

var famFindingActive = newGauge(Namespace+"_finding_active",
	"1 for each active finding (its hold time passed). Labels name the rule and the subject; absent when nothing is wrong.",
	"rule", "severity", "vpn_connection_id", "outside_ip", "router", "rtx_tunnel", "gateway_kind", "tunnel", "source", "region", "probe")

// collectFindings sends one series per active finding.
func collectFindings(out *sender, active []correlate.Finding) {
	for _, x := range active {
		s := x.Subject
		rtxTunnel := ""
		if s.RTXTunnel != 0 {
			rtxTunnel = strconv.Itoa(s.RTXTunnel)
		}
		out.send(famFindingActive, 1, x.Rule, x.Severity, s.VPNConnectionID, s.OutsideIP, s.Router, rtxTunnel, s.GatewayKind, s.Tunnel, s.Source, s.Region, s.Probe)
	}
}
