package status

import (
	"cmp"
	"slices"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Connection is one row of the overview: a VPN connection with both
// sides' state at a glance, and its incident (its root causes, each with
// the findings it explains). Findings about no connection (a router, an
// AWS region, a probe, vpnwatchd itself) make rows of their own.
type Connection struct {
	VPNConnectionID string `json:"vpn_connection_id,omitempty"`
	VPNName         string `json:"vpn_name,omitempty"`
	// Label names the row: the connection (with its Name tag), else what
	// its findings are about.
	Label string `json:"label"`
	// Severity is the worst active finding's; "" when nothing is wrong.
	Severity string `json:"severity,omitempty"`
	// Per tunnel, in the tunnels' order: AWS status, the gateway's state
	// (RTX or another kind) and whether it is up, BGP state.
	AWS       []string `json:"aws"`
	RTX       []string `json:"rtx"`
	GatewayUp []bool   `json:"gateway_up"`
	BGP       []string `json:"bgp"`
	// SAMin is the shortest newest-SA lifetime left over the tunnels (-1:
	// none known); Routes what AWS accepted over all of them.
	SAMin  int     `json:"sa_min_remaining_seconds"`
	Routes int     `json:"accepted_routes"`
	Causes []Cause `json:"causes,omitempty"`
	// Timeline is what happened to the connection's tunnels, both sides,
	// merged in time order (each tunnel's own is in tunnels[].timeline).
	Timeline []correlate.TimelineEvent `json:"timeline,omitempty"`
}

// Cause is a root cause and the findings it explains. The same finding on
// the connection's other tunnels is one cause with them in Also, so that
// "tunnels 1 and 2" read as one.
type Cause struct {
	Finding  correlate.Finding   `json:"finding"`
	Also     []correlate.Finding `json:"also,omitempty"`
	Explains []correlate.Finding `json:"explains,omitempty"`
}

// Where names what a cause is about, its tunnels merged (under its
// connection's heading, so without the connection).
func (c Cause) Where() string {
	var ss []correlate.Subject
	for _, f := range c.All() {
		ss = append(ss, f.Subject)
	}
	return correlate.Tunnels(ss, false)
}

// All is the cause's findings: the first and the others like it.
func (c Cause) All() []correlate.Finding { return append([]correlate.Finding{c.Finding}, c.Also...) }

// Commands are the commands of all the cause's findings, each once.
func (c Cause) Commands() []string {
	var out []string
	for _, f := range c.All() {
		for _, cmd := range f.Commands() {
			if !slices.Contains(out, cmd) {
				out = append(out, cmd)
			}
		}
	}
	return out
}

// Incidents builds the overview: one row per VPN connection of the
// tunnels, with the findings grouped under their root causes, worst first.
func Incidents(findings []correlate.Finding, tunnels []correlate.TunnelView) []Connection {
	var out []Connection
	index := map[string]int{}
	row := func(id, name, label string) *Connection {
		k := id
		if k == "" {
			k = "label:" + label
		}
		if i, ok := index[k]; ok {
			return &out[i]
		}
		index[k] = len(out)
		out = append(out, Connection{VPNConnectionID: id, VPNName: name, Label: label, SAMin: -1, AWS: []string{}, RTX: []string{}, GatewayUp: []bool{}, BGP: []string{}})
		return &out[len(out)-1]
	}
	for _, t := range tunnels {
		if t.VPNConnectionID == "" {
			continue
		}
		c := row(t.VPNConnectionID, t.VPNName, connLabel(t.VPNConnectionID, t.VPNName))
		for _, e := range t.Timeline {
			if e.Side != "vpnwatchd" { // findings are the connection's story, said once below
				e.Text = "tunnel " + t.OutsideIP + ": " + e.Text
			}
			c.Timeline = append(c.Timeline, e)
		}
		c.AWS = append(c.AWS, orDash(t.AWSStatus))
		c.RTX = append(c.RTX, orDash(t.RTXState))
		c.GatewayUp = append(c.GatewayUp, t.GatewayUp)
		c.BGP = append(c.BGP, orDash(t.BGPState))
		c.Routes += t.AcceptedRoutes
		for _, s := range []int{t.SASendSecond, t.SARecvSecond} {
			if s >= 0 && (c.SAMin < 0 || s < c.SAMin) {
				c.SAMin = s
			}
		}
	}
	byFP := map[string]correlate.Finding{}
	for _, f := range findings {
		byFP[f.Fingerprint()] = f
	}
	rowOf := func(f correlate.Finding) *Connection {
		if id := f.Subject.VPNConnectionID; id != "" {
			return row(id, f.Subject.VPNName, connLabel(id, f.Subject.VPNName))
		}
		label := f.Subject.String()
		if f.Subject.Router != "" {
			label = "RTX " + f.Subject.Router
			if f.Subject.GatewayKind == correlate.SourceStrongSwan {
				label = "strongSwan " + f.Subject.Router
			}
		}
		return row("", "", label)
	}
	causeOf := map[string]string{} // fingerprint → that of the cause it was merged into
	for _, f := range findings {
		if _, explained := byFP[f.ExplainedBy]; f.ExplainedBy != "" && explained {
			continue
		}
		c := rowOf(f)
		if i := slices.IndexFunc(c.Causes, func(k Cause) bool { return sameOnOtherTunnel(k.Finding, f) }); i >= 0 {
			c.Causes[i].Also = append(c.Causes[i].Also, f)
			causeOf[f.Fingerprint()] = c.Causes[i].Finding.Fingerprint()
		} else {
			c.Causes = append(c.Causes, Cause{Finding: f})
			causeOf[f.Fingerprint()] = f.Fingerprint()
		}
		if correlate.SeverityRank(f.Severity) >= correlate.SeverityRank(c.Severity) || c.Severity == "" {
			c.Severity = f.Severity
		}
	}
	for _, f := range findings {
		root, ok := byFP[f.ExplainedBy]
		if f.ExplainedBy == "" || !ok {
			continue
		}
		c := rowOf(root)
		for i := range c.Causes {
			if c.Causes[i].Finding.Fingerprint() == causeOf[f.ExplainedBy] {
				c.Causes[i].Explains = append(c.Causes[i].Explains, f)
			}
		}
		if correlate.SeverityRank(f.Severity) > correlate.SeverityRank(c.Severity) {
			c.Severity = f.Severity
		}
	}
	for i := range out {
		// A finding about the whole connection is on each tunnel's
		// timeline: once is enough.
		out[i].Timeline = correlate.SortTimeline(slices.CompactFunc(sortedEvents(out[i].Timeline), sameEvent))
		slices.SortStableFunc(out[i].Causes, func(a, b Cause) int {
			return correlate.SeverityRank(b.Finding.Severity) - correlate.SeverityRank(a.Finding.Severity)
		})
	}
	rank := func(c Connection) int {
		if c.Severity == "" {
			return -1
		}
		return correlate.SeverityRank(c.Severity)
	}
	slices.SortStableFunc(out, func(a, b Connection) int {
		return cmp.Or(rank(b)-rank(a), cmp.Compare(a.Label, b.Label))
	})
	return out
}

func connLabel(id, name string) string {
	if name != "" {
		return id + " (" + name + ")"
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// sameOnOtherTunnel reports whether two findings are the same finding on
// two tunnels of one connection and router (one line on the page).
func sameOnOtherTunnel(a, b correlate.Finding) bool {
	sa, sb := a.Subject, b.Subject
	return a.Rule == b.Rule && a.Severity == b.Severity && a.Stale == b.Stale && sa.VPNConnectionID != "" && sa.VPNConnectionID == sb.VPNConnectionID &&
		sa.Router == sb.Router && sa.OutsideIP != "" && sb.OutsideIP != "" && sa.OutsideIP != sb.OutsideIP
}

func sortedEvents(es []correlate.TimelineEvent) []correlate.TimelineEvent {
	slices.SortStableFunc(es, func(a, b correlate.TimelineEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Side, b.Side), cmp.Compare(a.Text, b.Text))
	})
	return es
}

// sameEvent: a finding of the connection is on each of its tunnels'
// timelines, and the same rule on both tunnels at once reads as one line.
func sameEvent(a, b correlate.TimelineEvent) bool {
	return a.Side == "vpnwatchd" && a == b
}
