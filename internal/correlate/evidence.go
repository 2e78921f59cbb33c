package correlate

// Evidence builders: both sides' view of a tunnel, in the words of a
// finding.

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
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

func mssText(t *rtx.TunnelConfig) string {
	switch {
	case t.MSSAuto:
		return "auto"
	case t.MSSConfigured:
		return strconv.Itoa(t.MSSLimit)
	}
	return "off"
}

func dpdText(k rtx.Keepalive) string {
	if !k.Configured || !k.Enabled {
		return "off"
	}
	return fmt.Sprintf("%s %d %d", k.Type, k.Interval, k.Retries)
}

func rtxEvidence(r *rtxTunnel) *RTXEvidence {
	if r == nil {
		return nil
	}
	t := r.tunnel
	e := &RTXEvidence{TunnelState: t.Status.Status, RemoteAddress: t.Config.RemoteAddress, LocalAddress: t.Config.LocalAddress,
		SAs: []SAEvidence{}, InstalledRoutes: t.InstalledRoutes, ReceivedRoutes: -1, MTU: t.Config.MTU, MSSLimit: mssText(t.Config),
		IPsecSALifetimeSecond: int(t.Config.IPsecSALifetime.Seconds()), ISAKMPLifetimeSeconds: int(t.Config.ISAKMPLifetime.Seconds()),
		DPD: dpdText(t.Config.Keepalive)}
	for _, sa := range t.SAs {
		e.SAs = append(e.SAs, SAEvidence{sa.ID, sa.Direction, int(sa.Remaining.Seconds())})
	}
	for _, ev := range r.snap.Syslog {
		if ev.Tunnel == t.Config.Number || (ev.Peer != "" && ev.Peer == t.Config.RemoteAddress) {
			e.Syslog = append(e.Syslog, ev.Text)
		}
	}
	if t.BGP != nil {
		e.BGPNeighbor, e.BGPState, e.ReceivedRoutes = t.BGP.Address, t.BGP.State, t.BGP.ReceivedPrefixes
	} else if t.Config.InsideRemote != "" {
		e.BGPNeighbor, e.BGPState = t.Config.InsideRemote, "no session"
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
	case p.rtx != nil:
		s.Router, s.RTXTunnel = p.rtx.router, p.rtx.tunnel.Config.Number
		if s.OutsideIP == "" {
			s.OutsideIP = p.rtx.tunnel.Config.RemoteAddress
		}
	case p.memo != nil && p.memo.router != "": // the router has no current data
		s.Router, s.RTXTunnel = p.memo.router, p.memo.rtxTunnel
	}
	return s
}

func (p pair) evidence() Evidence {
	return Evidence{AWS: awsEvidence(p.aws), RTX: rtxEvidence(p.rtx)}
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
