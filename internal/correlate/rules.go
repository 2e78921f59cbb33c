package correlate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// rule is one check: a stable name, its defaults, and a function from the
// evaluation context to the conditions it sees now.
type rule struct {
	name     string
	severity string
	hold     time.Duration
	check    func(*evaluation) []Finding
}

// Flapping: this many state changes within the window.
const (
	flapWindow  = time.Hour
	flapChanges = 4
	// tcpIPHeaders is IPv4 (20) + TCP (20): MSS = MTU − 40.
	tcpIPHeaders = probe.TCPIPHeaders
)

// rules is every rule, in the order findings of equal severity are listed.
// Adding a rule is one entry here and its function below.
var rules = []rule{
	{"SourceStale", SeverityWarning, time.Minute, sourceStale},
	{"RouterHostKeyChanged", SeverityCritical, 0, routerHostKeyChanged},
	{"VPNConnectionGone", SeverityCritical, 0, vpnConnectionGone},
	{"ConnectionDown", SeverityCritical, time.Minute, connectionDown},
	{"TunnelDown", SeverityWarning, time.Minute, tunnelDown},
	{"BGPDownIPsecUp", SeverityCritical, 2 * time.Minute, bgpDownIPsecUp},
	{"SideMismatch", SeverityWarning, 3 * time.Minute, sideMismatch},
	{"NoRoutes", SeverityWarning, 5 * time.Minute, noRoutes},
	{"SARekeyFailed", SeverityCritical, 0, saRekeyFailed},
	{"SANeverRekeyed", SeverityWarning, 0, saNeverRekeyed},
	{"SALifetimeMismatch", SeverityWarning, 0, saLifetimeMismatch},
	{"TunnelFlapping", SeverityWarning, 0, tunnelFlapping},
	{"MSSExceedsTunnelMTU", SeverityWarning, 0, mssExceedsTunnelMTU},
	{"TunnelMTUExceedsPath", SeverityWarning, 0, tunnelMTUExceedsPath},
	{"DataPlaneUnreachable", SeverityCritical, 2 * time.Minute, dataPlaneUnreachable},
	{"CustomerGatewayAddressMismatch", SeverityCritical, time.Minute, customerGatewayAddressMismatch},
	{"DPDDisabled", SeverityWarning, 0, dpdDisabled},
	{"MaintenancePending", SeverityInfo, 0, maintenancePending},
	{"TunnelNotJoined", SeverityWarning, 5 * time.Minute, tunnelNotJoined},
	{"RouterOutputUnreadable", SeverityWarning, 0, routerOutputUnreadable},
	{"StateNotWritable", SeverityCritical, 0, stateNotWritable},
	{"IKEPreSharedKeyMismatch", SeverityCritical, 0, ikePreSharedKeyMismatch},
	{"IKEProposalMismatch", SeverityCritical, 0, ikeProposalMismatch},
	{"TrafficSelectorMismatch", SeverityCritical, 0, trafficSelectorMismatch},
	{"IKEAuthenticationFailed", SeverityCritical, 0, ikeAuthenticationFailed},
	{"AWSDeclaredPeerDead", SeverityCritical, time.Minute, awsDeclaredPeerDead},
	{"BGPHoldTimerExpired", SeverityCritical, 0, bgpHoldTimerExpired},
	{"BGPASNMismatch", SeverityCritical, 0, bgpASNMismatch},
	{"BGPPrefixLimit", SeverityWarning, 0, bgpPrefixLimit},
	{"BGPRouteDenied", SeverityWarning, 0, bgpRouteDenied},
	{"TunnelLogsDisabled", SeverityInfo, 0, tunnelLogsDisabled},
}

func sourceStale(c *evaluation) []Finding {
	var out []Finding
	for _, s := range c.stale {
		// Poll errors already start with the source's name.
		msg := strings.TrimPrefix(strings.TrimPrefix(s.err.Error(), s.ref.String()), ": ")
		f := Finding{Summary: fmt.Sprintf("%s: no current data (%s); its tunnels are not being checked", s.ref, msg),
			Evidence: Evidence{Detail: map[string]string{"error": s.err.Error()}}}
		switch s.ref.Type {
		case SourceAWS:
			f.Subject = Subject{Source: s.ref.Name, Region: s.ref.Region}
			f.Remediation = "Fix what the error names (credentials, IAM policy deploy/aws/iam-policy.json, network path to the EC2 endpoint). vpnwatchd retries every poll."
		case SourceProbe:
			f.Subject = Subject{Probe: s.ref.Name}
			f.Remediation = "The probe cannot send ICMP: allow unprivileged ICMP (`sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`) or give vpnwatchd CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW)."
		default:
			f.Subject = Subject{}
			f.Subject.setGateway(tunnelKey{kind: s.ref.Type, router: s.ref.Name})
			f.Remediation = c.dialectOf(s.ref).Fix(nil, gateway.Fix{Kind: gateway.FixStale})
		}
		if !s.at.IsZero() {
			f.Evidence.Detail["last_poll"] = s.at.UTC().Format(time.RFC3339)
		}
		out = append(out, f)
	}
	return out
}

func routerHostKeyChanged(c *evaluation) []Finding {
	var out []Finding
	for _, s := range c.stale {
		var hk *sshlogin.HostKeyError
		if !gatewayKind(s.ref.Type) || !errors.As(s.err, &hk) || hk.Unknown {
			continue
		}
		var subj Subject
		subj.setGateway(tunnelKey{kind: s.ref.Type, router: s.ref.Name})
		out = append(out, Finding{Subject: subj,
			Summary:     fmt.Sprintf("%s %s offers a different SSH host key (%s %s) than known_hosts has; vpnwatchd refuses to log in", subj.gatewayLabel(), s.ref.Name, hk.KeyType, hk.Fingerprint),
			Evidence:    Evidence{Detail: map[string]string{"offered": hk.KeyType + " " + hk.Fingerprint, "known": strings.Join(hk.Want, ", ")}},
			Remediation: c.dialectOf(s.ref).Fix(nil, gateway.Fix{Kind: gateway.FixHostKey, Address: hk.KnownHosts})})
	}
	return out
}

func vpnConnectionGone(c *evaluation) []Finding {
	var out []Finding
	for _, s := range c.aws {
		for _, conn := range s.Connections {
			switch conn.State {
			case aws.StateDeleted, aws.StateDeleting, aws.StateGone:
				out = append(out, Finding{Subject: Subject{VPNConnectionID: conn.ID, VPNName: conn.Name, Source: s.Source, Region: s.Region},
					Summary:     fmt.Sprintf("VPN connection %s is %s in AWS", conn.ID, conn.State),
					Evidence:    Evidence{Detail: map[string]string{"state": conn.State}},
					Remediation: goneFix(conn.ID)})
			}
		}
		for _, id := range s.Missing {
			if hasConn(s.Connections, id) {
				continue
			}
			out = append(out, Finding{Subject: Subject{VPNConnectionID: id, Source: s.Source, Region: s.Region},
				Summary:     fmt.Sprintf("VPN connection %s is configured in vpnwatchd but AWS does not return it in %s", id, s.Region),
				Evidence:    Evidence{Detail: map[string]string{"state": "missing"}},
				Remediation: goneFix(id)})
		}
	}
	return out
}

func hasConn(cs []aws.Connection, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func goneFix(id string) string {
	return "If the VPN connection was recreated, download its new configuration for Yamaha from the AWS console and update the RTX " +
		"(`ipsec ike remote address`, pre-shared keys, inside addresses, `bgp neighbor`), then replace " + id +
		" in vpn_connection_ids of vpnwatchd.yaml. If it was deleted by mistake, recreate it."
}

// connections groups the AWS tunnels of each available connection.
func (c *evaluation) connections() map[*aws.Connection][]pair {
	out := map[*aws.Connection][]pair{}
	for _, p := range c.pairs {
		if p.aws != nil && p.aws.conn.State == aws.StateAvailable {
			out[p.aws.conn] = append(out[p.aws.conn], p)
		}
	}
	return out
}

func allDown(ps []pair) bool {
	for _, p := range ps {
		if p.aws.tunnel.Up() {
			return false
		}
	}
	return true
}

func connectionDown(c *evaluation) []Finding {
	var out []Finding
	for conn, ps := range c.connections() {
		if !allDown(ps) {
			continue
		}
		detail := map[string]string{}
		for _, p := range ps {
			v := fmt.Sprintf("AWS %s %q", p.aws.tunnel.Status, p.aws.tunnel.StatusMessage)
			if p.gw != nil {
				v += fmt.Sprintf("; %s %s", p.gw.label(), p.gw.tunnel.State)
			}
			detail["tunnel "+p.aws.tunnel.OutsideIP] = v
		}
		out = append(out, Finding{Subject: Subject{VPNConnectionID: conn.ID, VPNName: conn.Name, Source: ps[0].aws.source, Region: ps[0].aws.region},
			Summary:     fmt.Sprintf("VPN connection %s: every tunnel is DOWN in AWS — no traffic passes", connName(conn)),
			Evidence:    Evidence{Detail: detail},
			Remediation: "See the tunnel findings below for why each tunnel is down. " + inspectFix(ps)})
	}
	return out
}

func connName(conn *aws.Connection) string {
	if conn.Name != "" {
		return conn.ID + " (" + conn.Name + ")"
	}
	return conn.ID
}

// tunnelDown fires for a down tunnel while its connection still has an UP
// one (redundancy lost). When every tunnel is down, ConnectionDown says so
// instead: it inhibits this rule for the connection.
func tunnelDown(c *evaluation) []Finding {
	var out []Finding
	for conn, ps := range c.connections() {
		if allDown(ps) {
			continue
		}
		for _, p := range ps {
			if p.aws.tunnel.Up() {
				continue
			}
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary:     fmt.Sprintf("%s: tunnel %s is DOWN in AWS (%q); the connection runs on its other tunnel without redundancy", connName(conn), p.aws.tunnel.OutsideIP, p.aws.tunnel.StatusMessage),
				Remediation: inspectTunnelFix(p)})
		}
	}
	return out
}

// inspectFix is how to look at the connection's tunnels on their gateway
// (the first joined one's; the RTX's words when none is joined).
func inspectFix(ps []pair) string {
	for _, p := range ps {
		if p.gw != nil {
			return p.gw.d().Fix(nil, gateway.Fix{Kind: gateway.FixInspect})
		}
	}
	return rtx.Dialect().Fix(nil, gateway.Fix{Kind: gateway.FixInspect})
}

// inspectTunnelFix is how to look at one tunnel on its gateway.
func inspectTunnelFix(p pair) string {
	return dialectOfPair(p).Fix(tunnelOf(p), gateway.Fix{Kind: gateway.FixInspectTunnel})
}

func rtxSide(p pair) string {
	if p.gw == nil {
		return "no gateway tunnel is joined to it"
	}
	t := p.gw.tunnel
	s := fmt.Sprintf("%s is %s", p.gw.label(), t.State)
	if t.BGP != nil {
		s += ", BGP " + t.BGP.State
	}
	return s
}

func bgpDownIPsecUp(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		a := p.aws
		if a == nil || a.conn.State != aws.StateAvailable || a.conn.Routing != aws.RoutingBGP || a.tunnel.Up() || !a.tunnel.IPsecUp() {
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("tunnel %s: AWS says %s / %s, %s: IPsec is up but BGP is not established, so no routes are exchanged",
				a.tunnel.OutsideIP, a.tunnel.Status, a.tunnel.StatusMessage, rtxSide(p)),
			Remediation: bgpFix(p)}
		if e, ok := c.awsLatest(p, c.now.Add(-awsLogWindow), vpnlog.ClassBGPStateChange); ok {
			f.Summary += fmt.Sprintf("; AWS's BGP log at %s: %q", e.Time.UTC().Format(time.RFC3339), e.Details)
			f.Evidence.Detail = map[string]string{"aws_log": e.Details}
		}
		out = append(out, f)
	}
	return out
}

// bgpFix compares the RTX BGP configuration with what AWS expects on this
// tunnel and gives the lines to type.
func bgpFix(p pair) string {
	var b strings.Builder
	awsIP, cgwIP, ok := awsInside(p.aws.tunnel.InsideCIDR)
	b.WriteString(dialectOfPair(p).Fix(tunnelOf(p), gateway.Fix{Kind: gateway.FixBGPCheck}))
	if !ok {
		return b.String()
	}
	fmt.Fprintf(&b, " AWS expects the neighbor %s (its inside address) with your router at %s.", awsIP, cgwIP)
	if p.gw == nil {
		return b.String()
	}
	b.WriteString(p.gw.fix(gateway.Fix{Kind: gateway.FixBGP, AWSInside: awsIP, CustomerInside: cgwIP, BGP: p.gw.snap.BGP}))
	if _, limit, ok := mssTooBig(p.gw.tunnel.Settings); ok {
		fmt.Fprintf(&b, " Also: %s exceeds the tunnel MTU %d − 40 = %d; large BGP updates and IKE rekeys can be lost (see MSSExceedsTunnelMTU).", p.gw.setting(gateway.SettingMSS), p.gw.tunnel.Settings.MTU, limit)
	}
	return b.String()
}

func sideMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.gw == nil || p.aws.conn.State != aws.StateAvailable || !p.gw.tunnel.Known {
			continue
		}
		awsUp, rtxUp := p.aws.tunnel.Up(), p.gw.tunnel.Up
		if awsUp == rtxUp {
			continue
		}
		fix := "AWS counts a BGP tunnel as UP only when BGP is established: see BGPDownIPsecUp if it is reported for this tunnel."
		if awsUp {
			fix = p.gw.fix(gateway.Fix{Kind: gateway.FixGatewayThinksDown})
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("tunnel %s: AWS says %s (%q), %s", p.aws.tunnel.OutsideIP, p.aws.tunnel.Status, p.aws.tunnel.StatusMessage, rtxSide(p)),
			Remediation: fix})
	}
	return out
}

func noRoutes(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws != nil && p.aws.conn.State == aws.StateAvailable && p.aws.conn.Routing == aws.RoutingBGP && p.aws.tunnel.Up() && p.aws.tunnel.AcceptedRoutes == 0 {
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary:     fmt.Sprintf("tunnel %s is UP with BGP established, but AWS accepted 0 routes from the router", p.aws.tunnel.OutsideIP),
				Remediation: dialectOfPair(p).Fix(tunnelOf(p), gateway.Fix{Kind: gateway.FixAdvertise})})
			continue
		}
		// Only what the neighbor sent counts: `show ip route` holds best
		// paths only, so a healthy standby tunnel has no route there.
		if nb := p.gw.bgp(); nb != nil && nb.Established && nb.ReceivedPrefixes == 0 {
			seen := ""
			if p.gw.snap.Source.Type == SourceRTX {
				seen = fmt.Sprintf(" (`show status bgp neighbor %s received-routes` is empty)", nb.Address)
			}
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary: fmt.Sprintf("%s: BGP with %s is established but the neighbor sent no routes%s",
					p.gw.label(), nb.Address, seen),
				Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixAcceptRoutes})})
		}
	}
	return out
}

func saRekeyFailed(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.gw == nil {
			continue
		}
		t := p.gw.tunnel
		at := t.SAsRanOutAt
		if at.IsZero() {
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("%s: its IPsec SAs reached the end of their lifetime at %s and no new SA replaced them; the rekey failed and the tunnel has not come back (%s)",
				p.gw.label(), at.UTC().Format(time.RFC3339), rtxSide(p)),
			Remediation: rekeyFix(p.gw, p.aws)}
		f.Evidence.Detail = map[string]string{"sa_expired_at": at.UTC().Format(time.RFC3339)}
		if own := rekeyEvidence(t); own != "" {
			f.Summary += fmt.Sprintf("; %s logged %q", p.gw.d().Kind(), own)
			f.Evidence.Detail["gateway_log"] = own
		}
		if said := awsOnRekey(p, at); said != "" {
			f.Summary += "; " + said
			f.Evidence.Detail["aws_log"] = said
		}
		out = append(out, f)
	}
	return out
}

func rekeyFix(g *gwTunnel, a *awsTunnel) string {
	var b strings.Builder
	st := g.tunnel.Settings
	b.WriteString("A rekey that never completes is most often packets that are too big for the path: ")
	if _, limit, ok := mssTooBig(st); ok {
		fmt.Fprintf(&b, "here %s exceeds the tunnel MTU %d − 40 = %d. %s ", g.setting(gateway.SettingMSS), st.MTU, limit, g.fix(gateway.Fix{Kind: gateway.FixMSS, Limit: limit}))
	} else {
		b.WriteString(g.fix(gateway.Fix{Kind: gateway.FixIKEFragmentation}) + " ")
	}
	if a != nil && st.ChildLifetime != 0 && !sameLifetime(st.ChildLifetime, a.tunnel.Phase2Lifetime) {
		b.WriteString(g.fix(gateway.Fix{Kind: gateway.FixLifetimes, Phase2: a.tunnel.Phase2Lifetime}) + " ")
	}
	if st.DPD.Known && !st.DPD.Enabled {
		b.WriteString(g.fix(gateway.Fix{Kind: gateway.FixDPD}) + " ")
	}
	b.WriteString("To bring the tunnel back now: " + g.fix(gateway.Fix{Kind: gateway.FixRestart}) + "; clearing SAs or rebooting does not fix the cause.")
	return b.String()
}

func saNeverRekeyed(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.gw == nil || len(p.gw.tunnel.SAs) == 0 {
			continue
		}
		t := p.gw.tunnel
		newest := t.SAs[0]
		for _, sa := range t.SAs {
			if sa.ID > newest.ID {
				newest = sa
			}
		}
		first := newest.FirstSeen
		life := t.Settings.ChildLifetime
		limit := life + 2*max(c.obs.PollInterval, time.Minute)
		if life == 0 || first.IsZero() || c.now.Sub(first) <= limit {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("%s: SA %d has been in use for %s, longer than its lifetime %s; it was never rekeyed", p.gw.label(), newest.ID, c.now.Sub(first).Round(time.Second), life),
			Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixNeverRekeyed})})
	}
	return out
}

func saLifetimeMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.gw == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		st, at := p.gw.tunnel.Settings, p.aws.tunnel
		kind := p.gw.d().Kind()
		var diffs []string
		fix := gateway.Fix{Kind: gateway.FixLifetimes}
		if st.ChildLifetime != 0 && !sameLifetime(st.ChildLifetime, at.Phase2Lifetime) {
			diffs = append(diffs, fmt.Sprintf("IPsec SA %s on the %s vs phase 2 %s in AWS", st.ChildLifetime, kind, at.Phase2Lifetime))
			fix.Phase2 = at.Phase2Lifetime
		}
		if st.IKELifetime != 0 && !sameLifetime(st.IKELifetime, at.Phase1Lifetime) {
			diffs = append(diffs, fmt.Sprintf("IKE SA %s on the %s vs phase 1 %s in AWS", st.IKELifetime, kind, at.Phase1Lifetime))
			fix.Phase1 = at.Phase1Lifetime
		}
		if len(diffs) == 0 {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("%s: SA lifetimes differ from AWS: %s", p.gw.label(), strings.Join(diffs, "; ")),
			Remediation: p.gw.fix(fix)})
	}
	return out
}

// sameLifetime compares lifetimes to the second, with one second to spare
// for gateways that report a lifetime as seconds installed plus seconds
// left (strongSwan), each rounded down.
func sameLifetime(a, b time.Duration) bool {
	d := a - b
	return d <= time.Second && d >= -time.Second
}

// rekeyEvidence is the gateway's own last word on a failed exchange about
// the tunnel (charon's "giving up after 3 retransmits"), "" when none.
func rekeyEvidence(t *gateway.Tunnel) string {
	for i := len(t.Log) - 1; i >= 0; i-- {
		if l := t.Log[i]; strings.Contains(l.Text, "retransmit") {
			return l.Time.UTC().Format(time.RFC3339) + " " + l.Text
		}
	}
	return ""
}

func tunnelFlapping(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		for _, s := range p.sides() {
			if n := len(c.state.changes[s.key]); n >= flapChanges {
				f := Finding{Subject: p.subject(), Evidence: p.evidence(),
					Summary:     fmt.Sprintf("tunnel %s changed state %d times in the last %s (%s)", p.subject().OutsideIP, n, flapWindow, s.seenBy),
					Remediation: flapFix(p)}
				f.Evidence.Detail = map[string]string{"changes": strconv.Itoa(n), "seen_by": s.seenBy}
				if p.gw != nil {
					if own := rekeyEvidence(p.gw.tunnel); own != "" {
						f.Summary += fmt.Sprintf("; %s logged %q", p.gw.d().Kind(), own)
						f.Evidence.Detail["gateway_log"] = own
					}
				}
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// flapFix: what makes a tunnel flap, in its gateway's words.
func flapFix(p pair) string {
	s := "Tunnels that drop at rekey times point to MTU/MSS or lifetime mismatches (see those findings); otherwise check the WAN line for loss and DPD settings"
	if p.gw == nil || p.gw.snap.Source.Type == SourceRTX {
		return s + " (`ipsec ike keepalive use G on dpd 10 3`)."
	}
	return s + "; " + p.gw.fix(gateway.Fix{Kind: gateway.FixIKEFragmentation})
}

// mssTooBig reports an MSS clamp larger than the tunnel MTU allows.
func mssTooBig(st gateway.Settings) (mss, limit int, bad bool) {
	limit = st.MTU - tcpIPHeaders
	return st.MSS, limit, st.MTU > 0 && st.MSSKnown && !st.MSSAuto && st.MSS > limit
}

func mssExceedsTunnelMTU(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.gw == nil {
			continue
		}
		st := p.gw.tunnel.Settings
		mss, limit, bad := mssTooBig(st)
		if !bad {
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("%s: %s exceeds tunnel MTU %d − 40 = %d (%s MTU); full-size TCP segments must be fragmented or are lost",
				p.gw.label(), p.gw.setting(gateway.SettingMSS), st.MTU, limit, p.gw.setting(gateway.SettingMTU)),
			Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixMSS, Limit: limit})}
		f.Evidence.Detail = map[string]string{"mss_limit": strconv.Itoa(mss), "tunnel_mtu": strconv.Itoa(st.MTU), "max_mss": strconv.Itoa(limit)}
		// A probe through the tunnel confirms it by measurement.
		for _, pr := range c.probes() {
			if pr.Path == "tunnel" && p.aws != nil {
				f.Evidence.Detail["measured_path_mtu"] = strconv.Itoa(pr.Result.PathMTU)
				hdr := tcpIPHeaders
				if pr.Result.IPv6 {
					hdr = probe.TCPIPv6Headers // an IPv6 path leaves 60 bytes less for TCP payload
				}
				if pr.Result.PathMTU-hdr < mss {
					f.Summary += fmt.Sprintf("; confirmed: probe %s measured a path MTU of %d through the tunnel, room for an MSS of %d",
						pr.Name, pr.Result.PathMTU, pr.Result.PathMTU-hdr)
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// awsMaxMTU is the largest tunnel MTU AWS supports for the tunnel's ESP
// algorithms.
func awsMaxMTU(st gateway.Settings) (int, string) {
	return probe.AWSMaxMTU(st.ESPEncryption, st.ESPAuth, st.NATTraversal)
}

// tunnelMTUExceedsPath checks the tunnel MTU against what AWS supports for
// the algorithms in use, and against the path MTUs the probes measured:
// through the tunnel (the tunnel MTU must not exceed it) and outside it
// (tunnel MTU + ESP overhead must fit the WAN path).
func tunnelMTUExceedsPath(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.gw == nil || p.aws == nil {
			continue
		}
		tc := p.gw.tunnel.Settings
		if tc.MTU == 0 {
			continue // not known on this gateway
		}
		limit, why := 0, ""
		maxMTU, algo := awsMaxMTU(tc)
		if tc.MTU > maxMTU {
			limit, why = maxMTU, fmt.Sprintf("larger than AWS supports for %s (%d)", algo, maxMTU)
		}
		for _, pr := range c.probes() {
			switch {
			case pr.Path == "tunnel" && pr.Result.PathMTU < tc.MTU && (limit == 0 || pr.Result.PathMTU < limit):
				limit = pr.Result.PathMTU
				why = fmt.Sprintf("larger than the path MTU %d that probe %s measured through the tunnel to %s (largest DF payload %d + %d)",
					pr.Result.PathMTU, pr.Name, pr.Target, pr.Result.LargestPayload, pr.Result.PathMTU-pr.Result.LargestPayload)
			case pr.Path == "wan" && (pr.Target == p.aws.tunnel.OutsideIP || !c.wanProbeFor(pr.Target)):
				overhead := probe.ESPOverhead(tc.ESPEncryption, tc.ESPAuth, tc.NATTraversal)
				if fit := pr.Result.PathMTU - overhead; tc.MTU > fit && (limit == 0 || fit < limit) {
					limit = fit
					why = fmt.Sprintf("too large for the WAN path: probe %s measured %d to %s, minus %d bytes of ESP overhead leaves %d", pr.Name, pr.Result.PathMTU, pr.Target, overhead, fit)
				}
			}
		}
		if limit == 0 {
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("%s: tunnel MTU %d is %s", p.gw.label(), tc.MTU, why),
			Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixMTU, MTU: limit})}
		f.Evidence.Detail = map[string]string{"max_tunnel_mtu": strconv.Itoa(limit)}
		out = append(out, f)
	}
	return out
}

// dialectOf is the dialect of a gateway source (the RTX's for one not
// polled yet).
func (c *evaluation) dialectOf(ref SourceRef) gateway.Dialect {
	for _, s := range c.gws {
		if s.Source == ref && s.Dialect != nil {
			return s.Dialect
		}
	}
	for _, s := range c.obs.Gateways {
		if s.Source == ref && s.Dialect != nil {
			return s.Dialect
		}
	}
	if ref.Type == SourceStrongSwan {
		return strongswan.Dialect()
	}
	return rtx.Dialect()
}

// dialectOfPair is the pair's gateway's dialect, the RTX's when none is
// joined; tunnelOf its tunnel (nil for none).
func dialectOfPair(p pair) gateway.Dialect {
	if p.gw != nil {
		return p.gw.d()
	}
	return rtx.Dialect()
}

func tunnelOf(p pair) *gateway.Tunnel {
	if p.gw != nil {
		return p.gw.tunnel
	}
	return nil
}

// probes returns the probe results that measured a limit: one whose
// largest size passed says the path is at least that wide, not how wide,
// and sizes nothing.
func (c *evaluation) probes() []probe.Observation {
	var out []probe.Observation
	for _, p := range c.obs.Probes {
		if p.Err == nil && p.Result.PathMTU > 0 && p.Result.Limit != probe.LimitNone {
			out = append(out, p)
		}
	}
	return out
}

// wanProbeFor reports whether target is the outside IP of some AWS tunnel
// (a WAN probe aimed at one tunnel applies only to that tunnel).
func (c *evaluation) wanProbeFor(target string) bool {
	for _, p := range c.pairs {
		if p.aws != nil && p.aws.tunnel.OutsideIP == target {
			return true
		}
	}
	return false
}

// dataPlaneUnreachable: a probe through the tunnel gets no answer while AWS
// says a tunnel is UP — the control plane is fine, traffic is not.
func dataPlaneUnreachable(c *evaluation) []Finding {
	var out []Finding
	var up []string
	for _, p := range c.pairs {
		if p.aws != nil && p.aws.tunnel.Up() {
			up = append(up, p.aws.tunnel.OutsideIP)
		}
	}
	for _, pr := range c.obs.Probes {
		if pr.Path != "tunnel" || !errors.Is(pr.Err, probe.ErrUnreachable) || len(up) == 0 {
			continue
		}
		out = append(out, Finding{Subject: Subject{Probe: pr.Name},
			Summary:  fmt.Sprintf("probe %s: %s does not answer through the VPN although AWS reports tunnel %s UP", pr.Name, pr.Target, strings.Join(up, ", ")),
			Evidence: Evidence{Detail: map[string]string{"error": pr.Err.Error(), "tunnels_up": strings.Join(up, ", ")}},
			Remediation: "Check the VPC side (security group and network ACL allow ICMP from the office, the route table propagates the virtual private gateway) " +
				"and the RTX side (`show ip route` has the VPC prefix via the tunnel, filters allow it)."})
	}
	return out
}

func customerGatewayAddressMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.gw == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		cgw, local := p.aws.conn.CustomerGatewayIP, p.gw.tunnel.LocalAddress
		switch {
		case cgw == "":
			c.unchecked = append(c.unchecked, fmt.Sprintf("%s: customer gateway address unknown (DescribeCustomerGateways)", p.subject()))
			continue
		case !publicIP(local):
			if local != "" {
				c.unchecked = append(c.unchecked, fmt.Sprintf("%s: the %s uses the non-public local address %s (behind NAT?); compare the customer gateway IP %s with your WAN address by hand", p.subject(), p.gw.d().Kind(), local, cgw))
			}
			continue
		case cgw == local:
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("VPN %s uses customer gateway %s with IP %s, but %s sends from %s (%s)",
				connName(p.aws.conn), p.aws.conn.CustomerGatewayID, cgw, p.gw.label(), local, p.gw.setting(gateway.SettingLocalAddress)),
			Remediation: fmt.Sprintf("After a move to a new line the customer gateway must be replaced: create a customer gateway with IP %s (same BGP ASN), "+
				"then Modify VPN connection → target customer gateway (or recreate the VPN and apply its new configuration to the %s). "+
				"If %s is wrong instead, %s.", local, p.gw.d().Kind(), local, p.gw.fix(gateway.Fix{Kind: gateway.FixLocalAddress, Address: cgw}))}
		f.Evidence.Detail = map[string]string{"customer_gateway_ip": cgw, "rtx_local_address": local}
		out = append(out, f)
	}
	return out
}

func dpdDisabled(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.gw == nil || p.aws == nil {
			continue
		}
		if dpd := p.gw.tunnel.Settings.DPD; !dpd.Known || dpd.Enabled {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("%s has no IKE keepalive (DPD): a dead tunnel is not noticed or restarted by the %s", p.gw.label(), map[bool]string{true: "router", false: "gateway"}[p.gw.snap.Source.Type == SourceRTX]),
			Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixDPD})})
	}
	return out
}

func maintenancePending(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.aws.tunnel.Maintenance == nil || p.aws.tunnel.Maintenance.Pending == "" {
			continue
		}
		m := p.aws.tunnel.Maintenance
		when := "at a time AWS chooses"
		if !m.AutoAppliedAfter.IsZero() {
			when = "automatically after " + m.AutoAppliedAfter.UTC().Format(time.RFC3339)
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("tunnel %s: AWS has a tunnel endpoint replacement pending (%q), applied %s", p.aws.tunnel.OutsideIP, m.Pending, when),
			Remediation: "The tunnel will go down briefly while AWS replaces its endpoint; make sure the other tunnel is UP first, or apply the maintenance yourself in a quiet hour (VPN connection → Replace VPN tunnel)."})
	}
	return out
}

func tunnelNotJoined(c *evaluation) []Finding {
	var out []Finding
	watchingRTX, watchingAWS := len(c.gws) > 0, len(c.aws) > 0
	for _, p := range c.pairs {
		switch {
		case p.gw != nil && p.aws == nil && watchingAWS:
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary: fmt.Sprintf("%s points at %s (%s), which is not an outside IP of any watched AWS VPN connection",
					p.gw.label(), p.gw.tunnel.RemoteAddress, p.gw.setting(gateway.SettingRemoteAddress)),
				Remediation: p.gw.fix(gateway.Fix{Kind: gateway.FixNotJoined})})
		case p.aws != nil && p.gw == nil && watchingRTX && p.aws.conn.State == aws.StateAvailable:
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary:     fmt.Sprintf("AWS tunnel %s of %s has no tunnel to %s on the watched gateways (RTX `ipsec ike remote address`, strongSwan `remote_addrs`)", p.aws.tunnel.OutsideIP, connName(p.aws.conn), p.aws.tunnel.OutsideIP),
				Remediation: "Configure both tunnels of the VPN connection on the RTX (AWS maintenance switches between them), or join them explicitly with routers[].tunnels in vpnwatchd.yaml."})
		}
	}
	return out
}

// routerOutputUnreadable reports the lines of status outputs the parsers
// did not understand: a firmware or console setting vpnwatchd has not seen.
// What such a line would have said stays unknown (a tunnel whose status
// line is not understood is neither up nor down), so the operator is shown
// the line to send for support. One finding per tunnel for `show status
// tunnel N`, one per router for the other commands.
func routerOutputUnreadable(c *evaluation) []Finding {
	var out []Finding
	for _, s := range c.gws {
		type group struct {
			tunnel int
			lines  []gateway.Unreadable
		}
		var groups []*group
		byKey := map[int]*group{}
		for _, w := range s.Warnings {
			n := w.Tunnel
			g := byKey[n]
			if g == nil {
				g = &group{tunnel: n}
				byKey[n] = g
				groups = append(groups, g)
			}
			g.lines = append(g.lines, w)
		}
		for _, g := range groups {
			first := g.lines[0]
			what := "the values on those lines are not known"
			if g.tunnel != 0 {
				what = "the tunnel's state is unknown (neither up nor down)"
			}
			var subj Subject
			subj.setGateway(tunnelKey{kind: s.Source.Type, router: s.Source.Name, number: g.tunnel})
			f := Finding{Subject: subj,
				Summary: fmt.Sprintf("%s %s: %d line(s) of `%s` could not be read, first line %d: %q; %s",
					s.Dialect.Kind(), s.Source.Name, len(g.lines), first.Command, first.Line, first.Text, what),
				Evidence:    Evidence{Detail: map[string]string{"command": first.Command, "line": first.Text, "line_number": strconv.Itoa(first.Line)}},
				Remediation: s.Dialect.Fix(nil, gateway.Fix{Kind: gateway.FixUnreadable})}
			if len(g.lines) > 1 {
				var all []string
				for _, l := range g.lines {
					all = append(all, fmt.Sprintf("%s line %d: %q", l.Command, l.Line, l.Text))
				}
				f.Evidence.Detail["lines"] = strings.Join(all, "; ")
			}
			out = append(out, f)
		}
	}
	return out
}

// stateNotWritable: vpnwatchd cannot save its alert state. Notifications
// still leave, but a restart now would send some again or lose them.
func stateNotWritable(c *evaluation) []Finding {
	if c.obs.StateError == "" {
		return nil
	}
	return []Finding{{Subject: Subject{Source: "vpnwatchd"},
		Summary: fmt.Sprintf("vpnwatchd cannot write its state in %s (%s): notifications still leave, but a restart now would repeat or lose some",
			c.obs.StateDir, c.obs.StateError),
		Evidence: Evidence{Detail: map[string]string{"error": c.obs.StateError, "state_dir": c.obs.StateDir}},
		Remediation: fmt.Sprintf("Free space on the file system of %s (`df -h %s`) or make it writable by the vpnwatchd user again; vpnwatchd saves its state again by itself at the next poll.",
			c.obs.StateDir, c.obs.StateDir)}}
}
