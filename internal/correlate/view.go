package correlate

import (
	"sort"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
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

	Router       string `json:"router,omitempty"`
	RTXTunnel    int    `json:"rtx_tunnel,omitempty"`
	RTXState     string `json:"rtx_state,omitempty"`
	SASendSecond int    `json:"sa_send_remaining_seconds"`
	SARecvSecond int    `json:"sa_recv_remaining_seconds"`
	BGPState     string `json:"bgp_state,omitempty"`
	MTU          int    `json:"mtu,omitempty"`
	MSSLimit     string `json:"mss_limit,omitempty"`
	PathMTU      int    `json:"measured_path_mtu,omitempty"`
}

// Joined reports whether both sides are known.
func (v TunnelView) Joined() bool { return v.VPNConnectionID != "" && v.Router != "" }

// views is one TunnelView per tunnel of the join, joined ones first.
func (c *evaluation) views() []TunnelView {
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
		if r := p.rtx; r != nil {
			t := r.tunnel
			v.Router, v.RTXTunnel, v.RTXState = r.router, t.Config.Number, t.Status.Status
			if v.OutsideIP == "" {
				v.OutsideIP = t.Config.RemoteAddress
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
			v.MTU, v.MSSLimit, v.PathMTU = t.Config.MTU, mssText(t.Config), pathMTU
		}
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
		if p.aws == nil || p.rtx == nil || !routers[p.rtx.router] {
			continue
		}
		if ref := (SourceRef{Type: SourceAWS, Name: p.aws.source, Region: p.aws.region}); !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}
