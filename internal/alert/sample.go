package alert

import (
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Sample is the alert `vpnwatchd alert test` sends: the seed incident's
// first finding, clearly marked as a test.
func Sample(now time.Time) Alert {
	f := correlate.Finding{Rule: "BGPDownIPsecUp", Severity: correlate.SeverityCritical, Since: now,
		Subject: correlate.Subject{VPNConnectionID: "vpn-0a1b2c3d4e5f67890", VPNName: "vpnwatchd-test", OutsideIP: "203.0.113.10", Router: "test-rtx", RTXTunnel: 1},
		Summary: "TEST from `vpnwatchd alert test`: tunnel 203.0.113.10: AWS says DOWN / IPSEC IS UP, RTX test-rtx tunnel 1 is Online, BGP Active. Nothing is wrong; this checks the wiring.",
		Evidence: correlate.Evidence{
			AWS: &correlate.AWSEvidence{Status: "DOWN", StatusMessage: "IPSEC IS UP", Routing: "bgp", LastStatusChange: now},
			RTX: &correlate.RTXEvidence{TunnelState: "Online", SAs: []correlate.SAEvidence{}, BGPNeighbor: "169.254.10.1", BGPState: "Active", MTU: 1280, MSSLimit: "1379", DPD: "dpd 10 3"}},
		Remediation: "Nothing to do: this is a test. (For the real thing: `tunnel select 1`, `ip tunnel tcp mss limit 1240`.)"}
	return Alert{Fingerprint: "vpnwatchd-alert-test", Status: StatusFiring, Finding: f, StartsAt: now}
}
