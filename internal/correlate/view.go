package correlate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
)

// TunnelView is one row of the status page: a tunnel as both sides see
// it. Fields of a side that is not joined are empty.
type TunnelView struct {
	VPNConnectionID string    `json:"vpn_connection_id,omitempty"`
	VPNName         string    `json:"vpn_name,omitempty"`
	OutsideIP       string    `json:"outside_ip"`
	AWSStatus       string    `json:"aws_status,omitempty"`
	AWSMessage      string    `json:"aws_status_message,omitempty"`
	AcceptedRoutes  int       `json:"accepted_routes"`
	LastChange      time.Time `json:"last_status_change,omitzero"`

	Router    string `json:"router,omitempty"` // the customer gateway
	RTXTunnel int    `json:"rtx_tunnel,omitempty"`
	// GatewayKind ("strongswan") and Tunnel (its connection name) are set
	// for gateways that are not an RTX.
	GatewayKind string `json:"gateway_kind,omitempty"`
	Tunnel      string `json:"tunnel,omitempty"`
	RTXState    string `json:"rtx_state,omitempty"` // the gateway's word for the tunnel's state
	// GatewayUp is whether the gateway has the tunnel up (RTX Online,
	// strongSwan an installed child SA); false when unknown too.
	GatewayUp    bool   `json:"gateway_up"`
	SASendSecond int    `json:"sa_send_remaining_seconds"`
	SARecvSecond int    `json:"sa_recv_remaining_seconds"`
	BGPState     string `json:"bgp_state,omitempty"`
	MTU          int    `json:"mtu,omitempty"`
	MSSLimit     string `json:"mss_limit,omitempty"`
	PathMTU      int    `json:"measured_path_mtu,omitempty"`

	// Timeline is what happened to the tunnel, both sides merged, oldest
	// first: AWS's log events, the RTX's syslog, state changes seen by
	// polling, findings firing (and, from the daemon, resolving).
	Timeline []TimelineEvent `json:"timeline,omitempty"`
}

// TimelineEvent is one thing that happened to a tunnel.
type TimelineEvent struct {
	Time time.Time `json:"time"`
	// Side is who says so: "aws" (its logs or status), "rtx" (its syslog
	// or status) or "vpnwatchd" (findings).
	Side string `json:"side"`
	Text string `json:"text"`
}

// TimelineKept bounds a tunnel's timeline: its newest events.
const TimelineKept = 100

// SortTimeline orders events by time (stable) and keeps the newest
// TimelineKept.
func SortTimeline(events []TimelineEvent) []TimelineEvent {
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	return events[max(0, len(events)-TimelineKept):]
}

// Matches reports whether a finding's subject is about this tunnel.
func (v TunnelView) Matches(s Subject) bool {
	switch {
	case s.OutsideIP == "" && s.Router == "" && s.VPNConnectionID != "":
		return s.VPNConnectionID == v.VPNConnectionID // about the whole connection
	case s.OutsideIP != "":
		return s.OutsideIP == v.OutsideIP && (s.VPNConnectionID == "" || s.VPNConnectionID == v.VPNConnectionID)
	case s.Router != "" && (s.RTXTunnel != 0 || s.Tunnel != ""):
		return s.Router == v.Router && s.RTXTunnel == v.RTXTunnel && s.Tunnel == v.Tunnel
	}
	return false
}

// timeline gathers a pair's events: AWS's log, the RTX's syslog about the
// tunnel, the state changes of both sides and the findings active now.
func (c *evaluation) timeline(p pair, active []Finding, v TunnelView) []TimelineEvent {
	var out []TimelineEvent
	if a := p.aws; a != nil {
		for _, e := range a.tunnel.LogEvents {
			text := e.Details
			if e.Prefix != "" {
				text = strings.TrimSpace(e.Status + " " + e.Prefix + " " + e.Details)
			}
			kind := "IKE"
			if bgpClasses[e.Class] || e.Kind == vpnlog.KindBGP {
				kind = "BGP"
			}
			out = append(out, TimelineEvent{e.Time, SourceAWS, kind + " log: " + text})
		}
	}
	if r := p.gw; r != nil {
		what := "syslog: "
		if r.snap.Source.Type != SourceRTX {
			what = "log: "
		}
		for _, e := range r.tunnel.Log {
			if e.Time.IsZero() {
				continue
			}
			text := strings.TrimPrefix(e.Text, e.Time.UTC().Format(time.RFC3339)+" ")
			out = append(out, TimelineEvent{e.Time, r.snap.Source.Type, what + text})
		}
	}
	for _, s := range p.sides() {
		for _, ch := range c.state.changes[s.key] {
			if ch.reported {
				continue // the gateway's own log line is in the timeline
			}
			state := map[bool]string{true: "UP", false: "DOWN"}[ch.up]
			switch s.seenBy {
			case SourceRTX:
				state = map[bool]string{true: "Online", false: "Offline"}[ch.up]
			case SourceStrongSwan:
				state = map[bool]string{true: "INSTALLED", false: "without SA"}[ch.up]
			}
			out = append(out, TimelineEvent{ch.at, s.seenBy, "polled: tunnel " + state})
		}
	}
	for _, f := range active {
		if v.Matches(f.Subject) {
			out = append(out, TimelineEvent{f.Since, "vpnwatchd", fmt.Sprintf("%s %s firing", strings.ToUpper(f.Severity), f.Rule)})
		}
	}
	return SortTimeline(out)
}

// Joined reports whether both sides are known.
func (v TunnelView) Joined() bool { return v.VPNConnectionID != "" && v.Router != "" }

// views is one TunnelView per tunnel of the join, joined ones first, each
// with its timeline (active: the evaluation's findings).
func (c *evaluation) views(active []Finding) []TunnelView {
	pathMTU := 0
	for _, p := range c.probes() {
		if p.Path == "tunnel" && (pathMTU == 0 || p.Result.PathMTU < pathMTU) {
			pathMTU = p.Result.PathMTU
		}
	}
	var out []TunnelView
	for _, p := range c.pairs {
		v := TunnelView{SASendSecond: -1, SARecvSecond: -1}
		if a := p.aws; a != nil {
			v.VPNConnectionID, v.VPNName, v.OutsideIP = a.conn.ID, a.conn.Name, a.tunnel.OutsideIP
			v.AWSStatus, v.AWSMessage, v.AcceptedRoutes, v.LastChange = a.tunnel.Status, a.tunnel.StatusMessage, a.tunnel.AcceptedRoutes, a.tunnel.LastStatusChange
			if a.conn.State != aws.StateAvailable {
				v.AWSStatus = a.conn.State
			}
		}
		if r := p.gw; r != nil {
			t := r.tunnel
			v.Router, v.RTXTunnel, v.Tunnel, v.RTXState, v.GatewayUp = r.router, t.Number, t.Name, t.State, t.Known && t.Up
			if k := r.snap.Source.Type; k != SourceRTX {
				v.GatewayKind = k
			}
			if v.OutsideIP == "" {
				v.OutsideIP = t.RemoteAddress
			}
			for _, sa := range t.SAs {
				secs := int(sa.Remaining.Seconds())
				if sa.Direction == "send" && secs > v.SASendSecond {
					v.SASendSecond = secs
				}
				if sa.Direction == "recv" && secs > v.SARecvSecond {
					v.SARecvSecond = secs
				}
			}
			if t.BGP != nil {
				v.BGPState = t.BGP.State
			}
			v.MTU, v.MSSLimit, v.PathMTU = t.Settings.MTU, mssText(t.Settings), pathMTU
		}
		v.Timeline = c.timeline(p, active, v)
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Joined() != out[j].Joined() {
			return out[i].Joined()
		}
		if out[i].VPNConnectionID != out[j].VPNConnectionID {
			return out[i].VPNConnectionID < out[j].VPNConnectionID
		}
		return out[i].OutsideIP < out[j].OutsideIP
	})
	return out
}

// JoinedRegions returns the AWS sources and regions of the connections
// joined to tunnels of the given routers, joined as Evaluate joins them
// (explicit joins of the configuration, then outside IPs), from fresh
// snapshots only.
func JoinedRegions(obs Observations, now time.Time, routers map[string]bool) []SourceRef {
	c := &evaluation{obs: obs, now: now, state: &State{joins: map[tunnelKey]joinMemo{}}}
	c.selectFresh()
	c.join()
	seen := map[SourceRef]bool{}
	var out []SourceRef
	for _, p := range c.pairs {
		if p.aws == nil || p.gw == nil || !routers[p.gw.router] {
			continue
		}
		if ref := (SourceRef{Type: SourceAWS, Name: p.aws.source, Region: p.aws.region}); !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}
