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

// SampleMessage is what `vpnwatchd alert test` sends to Slack, e-mail and
// webhook receivers: a grouped message as they get them, the sample as its
// root cause and a symptom it explains.
func SampleMessage(now time.Time) []Alert {
	root := Sample(now)
	root.Group, root.Changed = "vpn_connection_id="+root.Finding.Subject.VPNConnectionID, true
	sym := root
	sym.Fingerprint = "vpnwatchd-alert-test-symptom"
	sym.Finding.Rule, sym.Finding.Severity = "SideMismatch", correlate.SeverityWarning
	sym.Finding.Summary = "TEST: a symptom the cause above explains, listed under it as in a real message."
	sym.Finding.ExplainedBy = root.Fingerprint
	return []Alert{root, sym}
}
