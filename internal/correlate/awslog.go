package correlate

// Findings drawn from AWS's own tunnel logs (IKE and BGP): what AWS says
// is wrong, quoted, with the RTX lines that fix it.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// awsLogWindow is how recent AWS's word must be for a finding drawn from it.
const awsLogWindow = 15 * time.Minute

// awsSays returns the latest event AWS logged about a tunnel that is DOWN,
// when it is one of classes and recent: what AWS itself says is wrong.
// Events with no meaning of their own (End-of-RIB) do not hide an earlier
// one; a later event of another meaning in the same log (IKE or BGP) does.
func (c *evaluation) awsSays(p pair, classes ...string) (vpnlog.Event, bool) {
	if p.aws == nil || p.aws.tunnel.Up() || p.aws.conn.State != aws.StateAvailable {
		return vpnlog.Event{}, false
	}
	bgp := bgpClasses[classes[0]]
	events := p.aws.tunnel.LogEvents
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if c.now.Sub(e.Time) > awsLogWindow {
			break
		}
		if e.Class != "" && bgpClasses[e.Class] != bgp {
			continue // the other log: IKE and BGP tell their own stories
		}
		switch {
		case slices.Contains(classes, e.Class):
			return e, true
		case e.Class != "":
			return vpnlog.Event{}, false // AWS has moved on to something else
		}
	}
	return vpnlog.Event{}, false
}

// bgpClasses are the meanings of AWS's BGP log; the others are its tunnel
// activity (IKE, IPsec, DPD) log's.
var bgpClasses = map[string]bool{
	vpnlog.ClassBGPStateChange: true, vpnlog.ClassBGPHoldTimerExpired: true, vpnlog.ClassBGPASNMismatch: true,
	vpnlog.ClassBGPPrefixWarning: true, vpnlog.ClassBGPPrefixExceeded: true, vpnlog.ClassBGPCease: true, vpnlog.ClassRouteDenied: true,
}

// awsSaidFinding is a finding drawn from AWS's own log line e about a DOWN
// tunnel: what AWS says, quoted, and the line itself in the evidence.
func awsSaidFinding(p pair, e vpnlog.Event, what, fix string) Finding {
	f := Finding{Subject: p.subject(), Evidence: p.evidence(),
		Summary: fmt.Sprintf("tunnel %s is DOWN and %s: AWS logged at %s: %q", p.aws.tunnel.OutsideIP, what,
			e.Time.UTC().Format(time.RFC3339), e.Details),
		Remediation: fix}
	f.Evidence.Detail = map[string]string{"aws_log": e.Details}
	return f
}

func ikePreSharedKeyMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassPSKMismatch)
		if !ok {
			continue
		}
		fix := "The pre-shared key of this tunnel differs between AWS and the customer gateway. Take the tunnel's key from the VPN configuration download (or Modify VPN tunnel options in the console)"
		if p.gw != nil {
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixPSK})
		} else {
			fix += " and set it on the customer gateway"
		}
		out = append(out, awsSaidFinding(p, e, "AWS rejects the pre-shared key", fix+"."))
	}
	return out
}

func ikeProposalMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassProposalMismatch)
		if !ok {
			continue
		}
		fix := "AWS found none of the customer gateway's proposals acceptable. AWS accepts AES-128/256 (CBC or GCM), SHA-1 or SHA-2 and DH groups 2, 5, 14–24 unless the tunnel options narrow them."
		if p.gw != nil {
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixProposal})
		}
		out = append(out, awsSaidFinding(p, e, "AWS refuses the IKE/IPsec proposal", fix))
	}
	return out
}

func trafficSelectorMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassTSUnacceptable)
		if !ok {
			continue
		}
		fix := "AWS refuses the traffic selectors (the networks the IPsec SA is for). A tunnel to AWS carries 0.0.0.0/0 both ways unless the VPN's Local/Remote IPv4 network CIDR options say otherwise; the customer gateway must propose the same"
		if p.gw != nil {
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixTrafficSelectors})
		}
		out = append(out, awsSaidFinding(p, e, "AWS refuses the traffic selectors", fix+"."))
	}
	return out
}

func ikeAuthenticationFailed(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassAuthFailed)
		if !ok {
			continue
		}
		fix := "IKE_AUTH failed: AWS could not authenticate the customer gateway with the tunnel's pre-shared key (or certificate) and identity. AWS expects the customer gateway's public address as its identity"
		if p.gw != nil {
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixAuth, Address: p.aws.conn.CustomerGatewayIP})
		}
		out = append(out, awsSaidFinding(p, e, "AWS fails the customer gateway's authentication", fix+"."))
	}
	return out
}

// awsDeclaredPeerDead: AWS stopped hearing the customer gateway (DPD).
// A tunnel whose SAs ran out on the RTX is SARekeyFailed's, which quotes
// the same lines.
func awsDeclaredPeerDead(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassDPDTimeout, vpnlog.ClassPeerDead)
		if !ok || p.gw != nil && !p.gw.tunnel.SAsRanOutAt.IsZero() {
			continue
		}
		what := "AWS declared the customer gateway dead (DPD: no answer)"
		var fix string
		switch {
		case p.gw == nil:
			fix = "AWS hears nothing from the customer gateway on this tunnel: check that it is up, that its WAN line works and that UDP 500 and 4500 (and ESP) reach AWS's outside IP " + p.aws.tunnel.OutsideIP + "."
		case p.gw.tunnel.Up:
			t := p.gw.tunnel
			what += fmt.Sprintf(" while %s says %s", p.gw.label(), t.State)
			if t.RxPackets >= 0 {
				what += fmt.Sprintf(" (received %d packets so far)", t.RxPackets)
			}
			fix = fmt.Sprintf("The %s believes the tunnel is up but its packets do not reach AWS: check the WAN line and anything between (NAT, filters on UDP 500/4500 and ESP). %s renegotiates now. %s",
				p.gw.d().Kind(), p.gw.fix(gateway.Fix{Kind: gateway.FixRestart}), dpdAdvice(p))
		default:
			what += fmt.Sprintf(", and %s is %s", p.gw.label(), p.gw.tunnel.State)
			restartCheck := "that it starts the tunnel by itself"
			if p.gw.snap.Source.Type == SourceRTX {
				restartCheck = "`ipsec auto refresh on`"
			}
			fix = fmt.Sprintf("Both ends see the tunnel down. AWS's DPD timeout action is %q: with \"clear\" AWS waits for the customer gateway to start again, so check %s and that the %s reaches %s over the WAN; with \"restart\" AWS starts it itself. %s",
				p.aws.tunnel.DPDTimeoutAction, restartCheck, p.gw.d().Kind(), p.aws.tunnel.OutsideIP, dpdAdvice(p))
		}
		out = append(out, awsSaidFinding(p, e, what, fix))
	}
	return out
}

// dpdAdvice is the gateway's side of dead peer detection.
func dpdAdvice(p pair) string {
	dpd, kind := p.gw.tunnel.Settings.DPD, p.gw.d().Kind()
	switch {
	case !dpd.Known:
		return fmt.Sprintf("Whether the %s runs DPD itself is not known to vpnwatchd.", kind)
	case !dpd.Enabled:
		return fmt.Sprintf("The %s does not run DPD itself, so it does not notice either: %s", kind, p.gw.fix(gateway.Fix{Kind: gateway.FixDPD}))
	}
	return fmt.Sprintf("The %s's DPD is %s.", kind, dpd.Text)
}

func bgpHoldTimerExpired(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassBGPHoldTimerExpired)
		if !ok {
			continue
		}
		fix := "AWS heard no BGP keepalive from the customer gateway for the hold time (30 s) and closed the session: keepalives lost on the way, most often packets too big for the path or a lossy line. See MSSExceedsTunnelMTU and TunnelMTUExceedsPath when they fire; measure with `vpnwatchd probe mtu`"
		if p.gw != nil {
			if nb := p.gw.bgp(); nb != nil {
				fix += fmt.Sprintf(". The RTX says BGP %s with %s", nb.State, nb.Address)
			}
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixHoldTime})
		}
		out = append(out, awsSaidFinding(p, e, "AWS's BGP hold timer expired", fix+"."))
	}
	return out
}

var asnMismatchRE = regexp.MustCompile(`(?i)remote AS is (\d+),? expected (\d+)`)

func bgpASNMismatch(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		e, ok := c.awsSays(p, vpnlog.ClassBGPASNMismatch)
		if !ok {
			continue
		}
		got, want := "", p.aws.conn.CustomerGatewayASN
		if m := asnMismatchRE.FindStringSubmatch(e.Details); m != nil {
			got, want = m[1], m[2]
		}
		what := "AWS refuses the BGP OPEN: the customer gateway's AS is not the one AWS expects"
		if got != "" {
			what = fmt.Sprintf("AWS refuses the BGP OPEN: the customer gateway sent AS %s, AWS expects AS %s", got, want)
		}
		fix := fmt.Sprintf("The customer gateway's BGP ASN in AWS (%s) and the router's AS must be the same. Either make the router's AS %s", orUnknown(want), orUnknown(want))
		if p.gw != nil {
			fix += p.gw.fix(gateway.Fix{Kind: gateway.FixASN, ASN: orUnknown(want)}) + fmt.Sprintf(" (it is %s now)", orUnknown(p.gw.snap.BGP.AS))
		}
		fix += "; or, if the router's AS is the right one, create a customer gateway with that ASN and move the VPN connection to it (Modify VPN connection): a customer gateway's ASN cannot be changed."
		out = append(out, awsSaidFinding(p, e, what, fix))
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

var prefixLimitRE = regexp.MustCompile(`(?i)received (\d+) prefixes from neighbor \S+?,? limit is (\d+)`)

// bgpPrefixLimit: AWS warned that the customer gateway advertises nearly
// as many routes as the quota allows, or more. It lasts until the session
// is established again without a new warning.
func bgpPrefixLimit(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		events := p.aws.tunnel.LogEvents
		var hit *vpnlog.Event
		for i := len(events) - 1; i >= 0 && hit == nil; i-- {
			e := &events[i]
			if c.now.Sub(e.Time) > awsLogMemory {
				break
			}
			switch {
			case e.Class == vpnlog.ClassBGPPrefixWarning || e.Class == vpnlog.ClassBGPPrefixExceeded:
				hit = e
			case e.Class == vpnlog.ClassBGPStateChange && strings.Contains(e.Details, "to Established"):
				i = -1 // re-established since, without a warning: below the limit
			}
		}
		if hit == nil {
			continue
		}
		what := "AWS warns that the customer gateway advertises nearly as many routes as it accepts"
		if hit.Class == vpnlog.ClassBGPPrefixExceeded {
			what = "AWS closed the BGP session: the customer gateway advertised more routes than it accepts"
		}
		quota := "100 per VPN connection on a virtual private gateway, 1,000 on a transit gateway"
		if m := prefixLimitRE.FindStringSubmatch(hit.Details); m != nil {
			what += fmt.Sprintf(" (%s routes, limit %s)", m[1], m[2])
		}
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary: fmt.Sprintf("tunnel %s: %s: AWS logged at %s: %q", p.aws.tunnel.OutsideIP, what, hit.Time.UTC().Format(time.RFC3339), hit.Details),
			Remediation: "Advertise fewer routes to AWS (quota: " + quota + "): summarise the office networks into fewer prefixes and send only those, with `bgp export filter` on the RTX, then `bgp configure refresh`; " +
				"or attach the VPN to a transit gateway."}
		f.Evidence.Detail = map[string]string{"aws_log": hit.Details}
		out = append(out, f)
	}
	return out
}

// bgpRouteDenied: AWS refused routes the customer gateway advertised (its
// RouteStatus records say DENIED and why) and has not accepted them since.
func bgpRouteDenied(c *evaluation) []Finding {
	var out []Finding
	for _, p := range c.pairs {
		if p.aws == nil || p.aws.conn.State != aws.StateAvailable {
			continue
		}
		denied := map[string]vpnlog.Event{}
		var order []string
		for _, e := range p.aws.tunnel.LogEvents {
			if c.now.Sub(e.Time) > awsLogMemory || e.Prefix == "" || !strings.EqualFold(e.Type, "RouteStatus") {
				continue
			}
			if e.Class == vpnlog.ClassRouteDenied {
				if _, ok := denied[e.Prefix]; !ok {
					order = append(order, e.Prefix)
				}
				denied[e.Prefix] = e
			} else {
				delete(denied, e.Prefix) // accepted (or withdrawn) since
			}
		}
		order = slices.DeleteFunc(order, func(pfx string) bool { _, ok := denied[pfx]; return !ok })
		if len(order) == 0 {
			continue
		}
		var quoted []string
		var fixes []string
		for _, pfx := range order {
			e := denied[pfx]
			quoted = append(quoted, fmt.Sprintf("%s (%s)", pfx, e.Details))
			d := strings.ToLower(e.Details)
			switch {
			case strings.Contains(d, "own as") && !slices.Contains(fixes, "own"):
				fixes = append(fixes, "own")
			case strings.Contains(d, "next-hop") && !slices.Contains(fixes, "hop"):
				fixes = append(fixes, "hop")
			}
		}
		fix := "AWS accepts a route only with a valid path and next hop."
		if slices.Contains(fixes, "own") {
			fix += " \"as-path contains our own AS\": the RTX sends AWS routes it learned from AWS (over the other tunnel or another VPN); advertise only the office's own networks, with `bgp export filter` on the RTX."
		}
		if slices.Contains(fixes, "hop") {
			nh := "the RTX's inside address of this tunnel"
			if _, cgw, ok := awsInside(p.aws.tunnel.InsideCIDR); ok {
				nh = cgw
			}
			fix += fmt.Sprintf(" \"non-connected next-hop\": the next hop must be %s: set `local-address=` on the RTX's `bgp neighbor` line for AWS accordingly.", nh)
		}
		fix += " Then `bgp configure refresh`."
		f := Finding{Subject: p.subject(), Evidence: p.evidence(),
			Summary:     fmt.Sprintf("tunnel %s: AWS denied %d route(s) the customer gateway advertised: %s", p.aws.tunnel.OutsideIP, len(order), strings.Join(quoted, "; ")),
			Remediation: fix}
		f.Evidence.Detail = map[string]string{"denied": strings.Join(order, ", ")}
		out = append(out, f)
	}
	return out
}

// awsLogMemory is how far back findings about routes and prefix limits
// look in AWS's log: such a condition lasts until AWS logs otherwise.
const awsLogMemory = 24 * time.Hour

// tunnelLogsDisabled: tunnels that do not send AWS's logs, when vpnwatchd
// is asked to read them: one finding per AWS source and region (a
// configuration advice, said once, not one per connection), listing them.
func tunnelLogsDisabled(c *evaluation) []Finding {
	type place struct{ source, region string }
	missing := map[place][]*awsTunnel{}
	var order []place
	for _, p := range c.pairs {
		a := p.aws
		if a == nil || !a.logsRead || a.conn.State != aws.StateAvailable {
			continue
		}
		if l := a.tunnel.Logs; l != nil && l.Enabled && (l.BGPEnabled || a.conn.Routing != aws.RoutingBGP) {
			continue
		}
		k := place{a.source, a.region}
		if _, ok := missing[k]; !ok {
			order = append(order, k)
		}
		missing[k] = append(missing[k], a)
	}
	var out []Finding
	for _, k := range order {
		ts := missing[k]
		var names []string
		for _, a := range ts {
			names = append(names, a.conn.ID+" "+a.tunnel.OutsideIP)
		}
		shown := names
		more := ""
		if len(shown) > 6 {
			shown, more = shown[:6], fmt.Sprintf(" and %d more", len(names)-6)
		}
		a := ts[0]
		opts := `{"LogOptions":{"CloudWatchLogOptions":{"LogEnabled":true,"LogGroupArn":"LOG_GROUP_ARN","LogOutputFormat":"json"`
		if a.conn.Routing == aws.RoutingBGP {
			opts += `,"BgpLogEnabled":true,"BgpLogGroupArn":"LOG_GROUP_ARN","BgpLogOutputFormat":"json"`
		}
		opts += `}}}`
		f := Finding{Subject: Subject{Source: k.source, Region: k.region},
			Summary: fmt.Sprintf("aws %s %s: %d tunnel(s) do not send AWS's tunnel logs (IKE/IPsec and BGP, to CloudWatch Logs), so findings about them cannot quote AWS's side: %s%s",
				k.source, k.region, len(ts), strings.Join(shown, ", "), more),
			Remediation: fmt.Sprintf("Turn AWS's tunnel logs on, one tunnel at a time: changing a tunnel's log options replaces its endpoint (minutes of outage on that tunnel), so do the second tunnel of a connection only when the first is UP again. "+
				"For each tunnel listed: `aws ec2 modify-vpn-tunnel-options --region %s --vpn-connection-id %s --vpn-tunnel-outside-ip-address %s --tunnel-options '%s'` (with its own connection and IP), or Modify VPN tunnel options in the console. "+
				"vpnwatchd needs `logs:FilterLogEvents` on the group (deploy/aws/iam-policy.json). To silence this, set `aws[].logs: false` or disable the rule.",
				k.region, a.conn.ID, a.tunnel.OutsideIP, opts)}
		f.Evidence.Detail = map[string]string{"tunnels": strings.Join(names, ", ")}
		out = append(out, f)
	}
	return out
}

// awsLatest returns the latest event of classes AWS logged about the
// tunnel since since, whatever the tunnel's state.
func (c *evaluation) awsLatest(p pair, since time.Time, classes ...string) (vpnlog.Event, bool) {
	if p.aws == nil {
		return vpnlog.Event{}, false
	}
	events := p.aws.tunnel.LogEvents
	for i := len(events) - 1; i >= 0 && !events[i].Time.Before(since); i-- {
		if slices.Contains(classes, events[i].Class) {
			return events[i], true
		}
	}
	return vpnlog.Event{}, false
}

// awsOnRekey is AWS's side of a rekey that failed around at (the RTX's SAs
// ran out then): the CREATE_CHILD_SA AWS sent that no answer followed, and
// the DPD timeouts after it, in AWS's words; "" when AWS logged neither.
func awsOnRekey(p pair, at time.Time) string {
	if p.aws == nil {
		return ""
	}
	var request, dead *vpnlog.Event
	for i := range p.aws.tunnel.LogEvents {
		e := &p.aws.tunnel.LogEvents[i]
		if e.Time.Before(at.Add(-awsLogWindow)) {
			continue
		}
		switch e.Class {
		case vpnlog.ClassRekeyRequest:
			request, dead = e, nil
		case vpnlog.ClassRekeyResponse:
			request = nil // answered
		case vpnlog.ClassDPDTimeout, vpnlog.ClassPeerDead:
			if dead == nil {
				dead = e
			}
		}
	}
	var parts []string
	if request != nil {
		parts = append(parts, fmt.Sprintf("AWS logged at %s %q and no answer followed", request.Time.UTC().Format(time.RFC3339), request.Details))
	}
	if dead != nil {
		parts = append(parts, fmt.Sprintf("at %s %q", dead.Time.UTC().Format(time.RFC3339), dead.Details))
	}
	if request == nil && dead != nil {
		parts[0] = "AWS logged " + parts[0]
	}
	return strings.Join(parts, ", then ")
}
