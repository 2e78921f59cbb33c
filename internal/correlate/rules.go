package correlate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
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
			f.Subject = Subject{Router: s.ref.Name}
			f.Remediation = "Check that the router answers SSH (`ssh USER@ROUTER`), the user and password or key, and the known_hosts entry. vpnwatchd reconnects by itself."
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
		var hk *rtx.HostKeyError
		if s.ref.Type != SourceRTX || !errors.As(s.err, &hk) || hk.Unknown {
			continue
		}
		out = append(out, Finding{Subject: Subject{Router: s.ref.Name},
			Summary:  fmt.Sprintf("RTX %s offers a different SSH host key (%s %s) than known_hosts has; vpnwatchd refuses to log in", s.ref.Name, hk.KeyType, hk.Fingerprint),
			Evidence: Evidence{Detail: map[string]string{"offered": hk.KeyType + " " + hk.Fingerprint, "known": strings.Join(hk.Want, ", ")}},
			Remediation: "Confirm on the router's console (`show sshd public key`) that the new key is the router's own — a replaced router or a regenerated key — " +
				"and only then replace its line in " + hk.KnownHosts + ". If you did not change the router, treat this as a possible man-in-the-middle."})
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
			if p.rtx != nil {
				v += fmt.Sprintf("; RTX %s tunnel %d %s", p.rtx.router, p.rtx.tunnel.Config.Number, p.rtx.tunnel.Status.Status)
			}
			detail["tunnel "+p.aws.tunnel.OutsideIP] = v
		}
		out = append(out, Finding{Subject: Subject{VPNConnectionID: conn.ID, VPNName: conn.Name, Source: ps[0].aws.source, Region: ps[0].aws.region},
			Summary:     fmt.Sprintf("VPN connection %s: every tunnel is DOWN in AWS — no traffic passes", connName(conn)),
			Evidence:    Evidence{Detail: detail},
			Remediation: "See the tunnel findings below for why each tunnel is down. On the RTX: `show ipsec sa`, `show status tunnel N`, `show status bgp neighbor`, `show log | grep IKE`."})
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
				Remediation: "On the RTX: `show status tunnel N` and `show ipsec sa` for this tunnel; see any SA, BGP or MTU finding for the same tunnel."})
		}
	}
	return out
}

func rtxSide(p pair) string {
	if p.rtx == nil {
		return "no RTX tunnel is joined to it"
	}
	t := p.rtx.tunnel
	s := fmt.Sprintf("RTX %s tunnel %d is %s", p.rtx.router, t.Config.Number, t.Status.Status)
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
	b.WriteString("On the RTX, `show status bgp neighbor` must show the AWS neighbor Established.")
	if !ok {
		return b.String()
	}
	fmt.Fprintf(&b, " AWS expects the neighbor %s (its inside address) with your router at %s.", awsIP, cgwIP)
	if p.rtx == nil {
		return b.String()
	}
	cfg := p.rtx.snap.Config
	var nb *rtx.BGPNeighborConfig
	for i := range cfg.BGP.Neighbors {
		if cfg.BGP.Neighbors[i].Address == awsIP {
			nb = &cfg.BGP.Neighbors[i]
		}
	}
	tn := p.rtx.tunnel.Config
	switch {
	case !cfg.BGP.Use:
		fmt.Fprintf(&b, " BGP is not enabled: type `bgp use on`, `bgp autonomous-system YOUR_ASN`, `bgp neighbor N AWS_ASN %s hold-time=30 local-address=%s`, `bgp configure refresh`.", awsIP, cgwIP)
	case nb == nil:
		fmt.Fprintf(&b, " No `bgp neighbor` points at %s: add `bgp neighbor N AWS_ASN %s hold-time=30 local-address=%s` (AWS_ASN from the VPN's configuration download) and `bgp configure refresh`.", awsIP, awsIP, cgwIP)
	case nb.LocalAddress != "" && nb.LocalAddress != cgwIP:
		fmt.Fprintf(&b, " `bgp neighbor %d` uses local-address=%s; AWS expects %s: `bgp neighbor %d %s %s hold-time=30 local-address=%s`, `bgp configure refresh`.", nb.ID, nb.LocalAddress, cgwIP, nb.ID, nb.RemoteAS, awsIP, cgwIP)
	default:
		fmt.Fprintf(&b, " `bgp neighbor %d %s %s` looks right; check the AS numbers against the configuration download and `bgp configure refresh`.", nb.ID, nb.RemoteAS, awsIP)
	}
	if tn.InsideAddress != "" && !strings.HasPrefix(tn.InsideAddress, cgwIP+"/") {
		fmt.Fprintf(&b, " The tunnel's `ip tunnel address %s` should be %s/30 (tunnel select %d).", tn.InsideAddress, cgwIP, tn.Number)
	}
	if mss, limit, ok := mssTooBig(tn); ok {
		fmt.Fprintf(&b, " Also: `ip tunnel tcp mss limit %d` exceeds the tunnel MTU %d − 40 = %d; large BGP updates and IKE rekeys can be lost (see MSSExceedsTunnelMTU).", mss, tn.MTU, limit)
	}
	return b.String()
}

func sideMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.rtx == nil || p.aws.conn.State != aws.StateAvailable || !p.rtx.tunnel.Status.Known() {
			continue
		}
		awsUp, rtxUp := p.aws.tunnel.Up(), p.rtx.tunnel.Status.Online()
		if awsUp == rtxUp {
			continue
		}
		fix := "AWS counts a BGP tunnel as UP only when BGP is established: see BGPDownIPsecUp if it is reported for this tunnel."
		if awsUp {
			fix = "The RTX thinks the tunnel is down while AWS has it up: `show ipsec sa` on the RTX, and `show log` for IKE messages; a stale SA can be removed with `ipsec refresh sa` (administrator)."
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
				Remediation: "The RTX advertises nothing to AWS: check `bgp import AWS_ASN static filter N` and `bgp import filter N equal YOUR_LAN/NN` for your office networks, then `bgp configure refresh`."})
			continue
		}
		// Only what the neighbor sent counts: `show ip route` holds best
		// paths only, so a healthy standby tunnel has no route there.
		if nb := p.rtx.bgp(); nb != nil && nb.Established() && nb.ReceivedPrefixes == 0 {
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary: fmt.Sprintf("RTX %s tunnel %d: BGP with %s is established but the neighbor sent no routes (`show status bgp neighbor %s received-routes` is empty)",
					p.rtx.router, p.rtx.tunnel.Config.Number, nb.Address, nb.Address),
				Remediation: "Check the RTX `bgp import filter` lines accept the VPC prefixes (the AWS sample uses `bgp import filter 1 equal 0.0.0.0/0`), and that the VPC's route table propagates the virtual private gateway."})
		}
	}
	return out
}

func saRekeyFailed(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.rtx == nil {
			continue
		}
		t := p.rtx.tunnel
		at := t.SAsRanOutAt
		if at.IsZero() {
			continue
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("RTX %s tunnel %d: its IPsec SAs reached the end of their lifetime at %s and no new SA replaced them; the rekey failed and the tunnel has not come back (%s)",
				p.rtx.router, t.Config.Number, at.UTC().Format(time.RFC3339), rtxSide(p)),
			Remediation: rekeyFix(t.Config, p.aws)}
		f.Evidence.Detail = map[string]string{"sa_expired_at": at.UTC().Format(time.RFC3339)}
		if said := awsOnRekey(p, at); said != "" {
			f.Summary += "; " + said
			f.Evidence.Detail["aws_log"] = said
		}
		out = append(out, f)
	}
	return out
}

func rekeyFix(tc *rtx.TunnelConfig, a *awsTunnel) string {
	var b strings.Builder
	b.WriteString("A rekey that never completes is most often packets that are too big for the path: ")
	if mss, limit, ok := mssTooBig(tc); ok {
		fmt.Fprintf(&b, "here `ip tunnel tcp mss limit %d` exceeds the tunnel MTU %d − 40 = %d. Type: `tunnel select %d`, `ip tunnel tcp mss limit %d` (or `auto`). ", mss, tc.MTU, limit, tc.Number, limit)
	} else {
		b.WriteString("measure the path with `vpnwatchd probe mtu` (DF ping) and set `ip tunnel mtu` and `ip tunnel tcp mss limit` from it. ")
	}
	if a != nil && tc.IPsecSALifetime != a.tunnel.Phase2Lifetime {
		fmt.Fprintf(&b, "Match the lifetimes: `ipsec ike duration ipsec-sa %d %d`. ", tc.Gateway, int(a.tunnel.Phase2Lifetime.Seconds()))
	}
	if !tc.Keepalive.Enabled {
		fmt.Fprintf(&b, "Turn on DPD: `ipsec ike keepalive use %d on dpd 10 3`. ", tc.Gateway)
	}
	b.WriteString("To bring the tunnel back now: `ipsec refresh sa` as administrator; clearing SAs or rebooting does not fix the cause.")
	return b.String()
}

func saNeverRekeyed(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.rtx == nil || len(p.rtx.tunnel.SAs) == 0 {
			continue
		}
		t := p.rtx.tunnel
		newest := t.SAs[0]
		for _, sa := range t.SAs {
			if sa.ID > newest.ID {
				newest = sa
			}
		}
		first := newest.FirstSeen
		limit := t.Config.IPsecSALifetime + 2*max(c.obs.PollInterval, time.Minute)
		if first.IsZero() || c.now.Sub(first) <= limit {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("RTX %s tunnel %d: SA %d has been in use for %s, longer than its lifetime %s; it was never rekeyed", p.rtx.router, t.Config.Number, newest.ID, c.now.Sub(first).Round(time.Second), t.Config.IPsecSALifetime),
			Remediation: fmt.Sprintf("Check `ipsec ike duration ipsec-sa %d` and `ipsec auto refresh on`; the SA table may be stuck: `ipsec refresh sa` (administrator).", t.Config.Gateway)})
	}
	return out
}

func saLifetimeMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.rtx == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		tc, at := p.rtx.tunnel.Config, p.aws.tunnel
		var diffs, fixes []string
		if tc.IPsecSALifetime != at.Phase2Lifetime {
			diffs = append(diffs, fmt.Sprintf("IPsec SA %s on the RTX vs phase 2 %s in AWS", tc.IPsecSALifetime, at.Phase2Lifetime))
			fixes = append(fixes, fmt.Sprintf("`ipsec ike duration ipsec-sa %d %d`", tc.Gateway, int(at.Phase2Lifetime.Seconds())))
		}
		if tc.ISAKMPLifetime != at.Phase1Lifetime {
			diffs = append(diffs, fmt.Sprintf("IKE SA %s on the RTX vs phase 1 %s in AWS", tc.ISAKMPLifetime, at.Phase1Lifetime))
			fixes = append(fixes, fmt.Sprintf("`ipsec ike duration isakmp-sa %d %d`", tc.Gateway, int(at.Phase1Lifetime.Seconds())))
		}
		if len(diffs) == 0 {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("RTX %s tunnel %d: SA lifetimes differ from AWS: %s", p.rtx.router, tc.Number, strings.Join(diffs, "; ")),
			Remediation: fmt.Sprintf("Type `tunnel select %d`, then %s, so that both ends rekey on the same schedule.", tc.Number, strings.Join(fixes, " and "))})
	}
	return out
}

func tunnelFlapping(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		for _, s := range p.sides() {
			if n := len(c.state.changes[s.key]); n >= flapChanges {
				f := Finding{Subject: p.subject(), Evidence: p.evidence(),
					Summary:     fmt.Sprintf("tunnel %s changed state %d times in the last %s (%s)", p.subject().OutsideIP, n, flapWindow, s.seenBy),
					Remediation: "Tunnels that drop at rekey times point to MTU/MSS or lifetime mismatches (see those findings); otherwise check the WAN line for loss and DPD settings (`ipsec ike keepalive use G on dpd 10 3`)."}
				f.Evidence.Detail = map[string]string{"changes": strconv.Itoa(n), "seen_by": s.seenBy}
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// mssTooBig reports an MSS limit larger than the tunnel MTU allows.
func mssTooBig(tc *rtx.TunnelConfig) (mss, limit int, bad bool) {
	limit = tc.MTU - tcpIPHeaders
	return tc.MSSLimit, limit, tc.MSSConfigured && !tc.MSSAuto && tc.MSSLimit > limit
}

func mssExceedsTunnelMTU(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.rtx == nil {
			continue
		}
		tc := p.rtx.tunnel.Config
		mss, limit, bad := mssTooBig(tc)
		if !bad {
			continue
		}
		mtuFrom := "default"
		if tc.MTUConfigured {
			mtuFrom = "`ip tunnel mtu`"
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("RTX %s tunnel %d: `ip tunnel tcp mss limit %d` exceeds tunnel MTU %d − 40 = %d (%s MTU); full-size TCP segments must be fragmented or are lost",
				p.rtx.router, tc.Number, mss, tc.MTU, limit, mtuFrom),
			Remediation: fmt.Sprintf("Type: `tunnel select %d`, `ip tunnel tcp mss limit %d` (or `ip tunnel tcp mss limit auto`), then `tunnel select none` and `save`.", tc.Number, limit)}
		f.Evidence.Detail = map[string]string{"mss_limit": strconv.Itoa(mss), "tunnel_mtu": strconv.Itoa(tc.MTU), "max_mss": strconv.Itoa(limit)}
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
func awsMaxMTU(tc *rtx.TunnelConfig) (int, string) {
	return probe.AWSMaxMTU(tc.ESPEncryption, tc.ESPAuth, tc.NATTraversal)
}

// tunnelMTUExceedsPath checks the tunnel MTU against what AWS supports for
// the algorithms in use, and against the path MTUs the probes measured:
// through the tunnel (the tunnel MTU must not exceed it) and outside it
// (tunnel MTU + ESP overhead must fit the WAN path).
func tunnelMTUExceedsPath(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.rtx == nil || p.aws == nil {
			continue
		}
		tc := p.rtx.tunnel.Config
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
			Summary:     fmt.Sprintf("RTX %s tunnel %d: tunnel MTU %d is %s", p.rtx.router, tc.Number, tc.MTU, why),
			Remediation: fmt.Sprintf("Type: `tunnel select %d`, `ip tunnel mtu %d`, `ip tunnel tcp mss limit %d` (or `auto`).", tc.Number, limit, limit-tcpIPHeaders)}
		f.Evidence.Detail = map[string]string{"max_tunnel_mtu": strconv.Itoa(limit)}
		out = append(out, f)
	}
	return out
}

// probes returns the successful probe results.
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
		if p.aws == nil || p.rtx == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		cgw, local := p.aws.conn.CustomerGatewayIP, p.rtx.tunnel.Config.LocalAddress
		switch {
		case cgw == "":
			c.unchecked = append(c.unchecked, fmt.Sprintf("%s: customer gateway address unknown (DescribeCustomerGateways)", p.subject()))
			continue
		case !publicIP(local):
			if local != "" {
				c.unchecked = append(c.unchecked, fmt.Sprintf("%s: the RTX uses the non-public local address %s (behind NAT?); compare the customer gateway IP %s with your WAN address by hand", p.subject(), local, cgw))
			}
			continue
		case cgw == local:
			continue
		}
		tc := p.rtx.tunnel.Config
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("VPN %s uses customer gateway %s with IP %s, but RTX %s tunnel %d sends from %s (`ipsec ike local address %d %s`)",
				connName(p.aws.conn), p.aws.conn.CustomerGatewayID, cgw, p.rtx.router, tc.Number, local, tc.Gateway, local),
			Remediation: fmt.Sprintf("After a move to a new line the customer gateway must be replaced: create a customer gateway with IP %s (same BGP ASN), "+
				"then Modify VPN connection → target customer gateway (or recreate the VPN and apply its new configuration to the RTX). "+
				"If %s is wrong instead, fix `ipsec ike local address %d`.", local, local, tc.Gateway)}
		f.Evidence.Detail = map[string]string{"customer_gateway_ip": cgw, "rtx_local_address": local}
		out = append(out, f)
	}
	return out
}

func dpdDisabled(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.rtx == nil || p.aws == nil {
			continue
		}
		tc := p.rtx.tunnel.Config
		if tc.Keepalive.Enabled {
			continue
		}
		out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("RTX %s tunnel %d has no IKE keepalive (DPD): a dead tunnel is not noticed or restarted by the router", p.rtx.router, tc.Number),
			Remediation: fmt.Sprintf("Type: `tunnel select %d`, `ipsec ike keepalive use %d on dpd 10 3` (AWS sends DPD every 10 s and gives up after 3 misses).", tc.Number, tc.Gateway)})
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
	watchingRTX, watchingAWS := len(c.rtx) > 0, len(c.aws) > 0
	for _, p := range c.pairs {
		switch {
		case p.rtx != nil && p.aws == nil && watchingAWS:
			tc := p.rtx.tunnel.Config
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary: fmt.Sprintf("RTX %s tunnel %d points at %s (`ipsec ike remote address %d`), which is not an outside IP of any watched AWS VPN connection",
					p.rtx.router, tc.Number, tc.RemoteAddress, tc.Gateway),
				Remediation: "If the VPN connection was recreated, its tunnels have new outside IPs and pre-shared keys: apply the new configuration download to the RTX. " +
					"Otherwise add the AWS account/region to vpnwatchd, or join the tunnel explicitly with routers[].tunnels in vpnwatchd.yaml."})
		case p.aws != nil && p.rtx == nil && watchingRTX && p.aws.conn.State == aws.StateAvailable:
			out = append(out, Finding{Subject: p.subject(), Evidence: p.evidence(),
				Summary:     fmt.Sprintf("AWS tunnel %s of %s has no RTX tunnel with `ipsec ike remote address %s` on the watched routers", p.aws.tunnel.OutsideIP, connName(p.aws.conn), p.aws.tunnel.OutsideIP),
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
	for _, s := range c.rtx {
		type group struct {
			tunnel int
			lines  []rtx.Unreadable
		}
		var groups []*group
		byKey := map[int]*group{}
		for _, w := range s.Warnings {
			n := 0
			if _, err := fmt.Sscanf(w.Command, "show status tunnel %d", &n); err != nil {
				n = 0
			}
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
			f := Finding{Subject: Subject{Router: s.Router, RTXTunnel: g.tunnel},
				Summary: fmt.Sprintf("RTX %s: %d line(s) of `%s` could not be read, first line %d: %q; %s",
					s.Router, len(g.lines), first.Command, first.Line, first.Text, what),
				Evidence: Evidence{Detail: map[string]string{"command": first.Command, "line": first.Text, "line_number": strconv.Itoa(first.Line)}},
				Remediation: "Nothing on the router needs to change. This firmware or console character set words its output in a way vpnwatchd does not know yet: " +
					"run `vpnwatchd collect --config.file FILE --out DIR` and send the bundle (secrets are redacted) or the quoted lines to the vpnwatchd maintainers."}
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
