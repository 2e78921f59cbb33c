package correlate

// Evidence builders: both sides' view of a tunnel, in the words of a
// finding.

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

func awsEvidence(a *awsTunnel) *AWSEvidence {
	if a == nil {
		return nil
	}
	e := &AWSEvidence{Status: a.tunnel.Status, StatusMessage: a.tunnel.StatusMessage, AcceptedRoutes: a.tunnel.AcceptedRoutes,
		LastStatusChange: a.tunnel.LastStatusChange, Routing: a.conn.Routing, ConnectionState: a.conn.State,
		CustomerGatewayID: a.conn.CustomerGatewayID, CustomerGatewayIP: a.conn.CustomerGatewayIP, InsideCIDR: a.tunnel.InsideCIDR,
		Phase1LifetimeSeconds: int(a.tunnel.Phase1Lifetime.Seconds()), Phase2LifetimeSeconds: int(a.tunnel.Phase2Lifetime.Seconds())}
	if m := a.tunnel.Maintenance; m != nil {
		e.MaintenancePending = m.Pending
	}
	// AWS's own words about the tunnel: its last few log events.
	events := a.tunnel.LogEvents
	for _, ev := range events[max(0, len(events)-awsLogLines):] {
		e.Log = append(e.Log, ev.Time.UTC().Format(time.RFC3339)+" "+ev.Details)
	}
	return e
}

// mssText is the tunnel's MSS clamp: a size, "auto" or "off".
func mssText(t gateway.Settings) string {
	switch {
	case t.MSSAuto:
		return "auto"
	case t.MSSKnown:
		return strconv.Itoa(t.MSS)
	}
	return "off"
}

func gwEvidence(r *gwTunnel) *RTXEvidence {
	if r == nil {
		return nil
	}
	t := r.tunnel
	st := t.Settings
	e := &RTXEvidence{Kind: r.d().Kind(), TunnelState: t.State, RemoteAddress: t.RemoteAddress, LocalAddress: t.LocalAddress,
		SAs: []SAEvidence{}, InstalledRoutes: t.InstalledRoutes, ReceivedRoutes: -1, MTU: st.MTU, MSSLimit: mssText(st),
		IPsecSALifetimeSecond: int(st.ChildLifetime.Seconds()), ISAKMPLifetimeSeconds: int(st.IKELifetime.Seconds()),
		DPD: st.DPD.Text}
	if e.Kind == "RTX" {
		e.Kind = "" // as it always was
	}
	for _, sa := range t.SAs {
		e.SAs = append(e.SAs, SAEvidence{sa.ID, sa.Direction, int(sa.Remaining.Seconds())})
	}
	for _, l := range t.Log {
		e.Syslog = append(e.Syslog, l.Text)
	}
	if t.BGP != nil {
		e.BGPNeighbor, e.BGPState, e.ReceivedRoutes = t.BGP.Address, t.BGP.State, t.BGP.ReceivedPrefixes
	} else if t.InsideRemote != "" {
		e.BGPNeighbor, e.BGPState = t.InsideRemote, "no session"
	}
	return e
}

func (p pair) subject() Subject {
	var s Subject
	switch {
	case p.aws != nil:
		s.VPNConnectionID, s.VPNName, s.OutsideIP = p.aws.conn.ID, p.aws.conn.Name, p.aws.tunnel.OutsideIP
	case p.memo != nil: // AWS has no current data: as last joined
		s.VPNConnectionID, s.VPNName, s.OutsideIP = p.memo.join.ConnID, p.memo.join.ConnName, p.memo.join.OutsideIP
	}
	switch {
	case p.gw != nil:
		s.setGateway(keyOf(p.gw))
		if s.OutsideIP == "" {
			s.OutsideIP = p.gw.tunnel.RemoteAddress
		}
	case p.memo != nil && p.memo.router.router != "": // the gateway has no current data
		s.setGateway(p.memo.router)
	}
	return s
}

// setGateway names the gateway tunnel k in the subject.
func (s *Subject) setGateway(k tunnelKey) {
	s.Router, s.RTXTunnel, s.Tunnel = k.router, k.number, k.name
	if k.kind != SourceRTX {
		s.GatewayKind = k.kind
	}
}

func (p pair) evidence() Evidence {
	return Evidence{AWS: awsEvidence(p.aws), RTX: gwEvidence(p.gw)}
}

// awsInside returns the AWS-side and customer-side inside addresses of a
// tunnel's /30 (AWS takes the first usable address, the router the second).
func awsInside(cidr string) (awsSide, cgwSide string, ok bool) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() != 30 {
		return "", "", false
	}
	a := pfx.Masked().Addr().Next()
	return a.String(), a.Next().String(), true
}

// publicIP reports whether s is an address a customer gateway could have on
// the internet (not private, CGNAT, loopback or a placeholder).
func publicIP(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() && !cgnat.Contains(a)
}

// awsLogLines is how many of AWS's log events a finding quotes.
const awsLogLines = 5
