package correlate

// Root cause: which findings explain which. A configuration cause (MSS/MTU,
// lifetimes, the customer gateway address, what AWS's log names) explains
// the symptoms it produces on the same tunnel or connection; a symptom can
// explain another (a failed rekey takes the tunnel down). Notifications
// and the page lead with the root and list what it explains under it.

import "slices"

// explanation is a cause rule and the rules whose findings it explains.
type explanation struct {
	cause    string
	symptoms []string
}

// explanations: a cause rule and the rules whose findings it explains, in
// the order causes are preferred when several explain one finding.
var explanations = []explanation{
	{"VPNConnectionGone", []string{"ConnectionDown", "TunnelDown", "BGPDownIPsecUp", "SideMismatch", "NoRoutes", "TunnelNotJoined", "SARekeyFailed", "TunnelFlapping", "AWSDeclaredPeerDead"}},
	{"CustomerGatewayAddressMismatch", []string{"ConnectionDown", "TunnelDown", "BGPDownIPsecUp", "SideMismatch", "NoRoutes", "AWSDeclaredPeerDead", "TunnelFlapping", "SARekeyFailed"}},
	{"IKEPreSharedKeyMismatch", ikeSymptoms},
	{"IKEProposalMismatch", ikeSymptoms},
	{"TrafficSelectorMismatch", ikeSymptoms},
	{"IKEAuthenticationFailed", ikeSymptoms},
	{"BGPASNMismatch", bgpSymptoms},
	{"MSSExceedsTunnelMTU", pathSymptoms},
	{"TunnelMTUExceedsPath", pathSymptoms},
	{"SALifetimeMismatch", []string{"SARekeyFailed", "TunnelFlapping"}},
	{"SARekeyFailed", []string{"ConnectionDown", "TunnelDown", "TunnelFlapping", "AWSDeclaredPeerDead", "SideMismatch", "BGPDownIPsecUp", "NoRoutes"}},
	{"BGPHoldTimerExpired", bgpSymptoms},
	{"BGPPrefixLimit", bgpSymptoms},
	{"BGPDownIPsecUp", []string{"ConnectionDown", "SideMismatch", "NoRoutes"}},
	{"AWSDeclaredPeerDead", []string{"ConnectionDown", "TunnelDown", "SideMismatch"}},
	{"ConnectionDown", []string{"TunnelDown"}},
}

var (
	ikeSymptoms  = []string{"ConnectionDown", "TunnelDown", "SideMismatch", "AWSDeclaredPeerDead", "TunnelFlapping", "BGPDownIPsecUp"}
	bgpSymptoms  = []string{"ConnectionDown", "BGPDownIPsecUp", "SideMismatch", "NoRoutes"}
	pathSymptoms = []string{"SARekeyFailed", "TunnelFlapping", "BGPHoldTimerExpired", "AWSDeclaredPeerDead"}
)

// sameScope reports whether a cause's subject covers a symptom's: the same
// tunnel (outside IP, or RTX tunnel), or, when either is about the whole
// connection, the same connection.
func sameScope(cause, sym Subject) bool {
	switch {
	case cause.OutsideIP != "" && cause.OutsideIP == sym.OutsideIP:
		return cause.VPNConnectionID == "" || sym.VPNConnectionID == "" || cause.VPNConnectionID == sym.VPNConnectionID
	case cause.Router != "" && cause.RTXTunnel != 0 && cause.Router == sym.Router && cause.RTXTunnel == sym.RTXTunnel:
		return true
	}
	connLevel := func(s Subject) bool { return s.OutsideIP == "" && s.Router == "" && s.VPNConnectionID != "" }
	return cause.VPNConnectionID != "" && cause.VPNConnectionID == sym.VPNConnectionID && (connLevel(cause) || connLevel(sym))
}

// explain sets each finding's ExplainedBy to the fingerprint of the root
// cause among the others, following causes of causes; "" for a root.
func explain(fs []Finding) {
	direct := make([]int, len(fs))
	for i := range fs {
		direct[i] = -1
	find:
		for _, e := range explanations {
			if !slices.Contains(e.symptoms, fs[i].Rule) {
				continue
			}
			for j := range fs {
				if j != i && fs[j].Rule == e.cause && !fs[j].Stale && sameScope(fs[j].Subject, fs[i].Subject) {
					direct[i] = j
					break find
				}
			}
		}
	}
	for i := range fs {
		fs[i].ExplainedBy = ""
		root, seen := i, map[int]bool{i: true}
		for direct[root] >= 0 && !seen[direct[root]] {
			root = direct[root]
			seen[root] = true
		}
		if root != i {
			fs[i].ExplainedBy = fs[root].Fingerprint()
		}
	}
}
