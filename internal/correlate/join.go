package correlate

// Joining AWS tunnels and customer gateway tunnels, and remembering joins
// for the side that falls silent.

import (
	"maps"
	"slices"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// awsTunnel is one AWS tunnel with where it came from.
type awsTunnel struct {
	source, region string
	conn           *aws.Connection
	tunnel         *aws.Tunnel
	logsRead       bool // the source reads AWS's tunnel logs
}

// gwTunnel is one customer gateway tunnel with its gateway (an RTX, a
// strongSwan host), in vendor-neutral terms.
type gwTunnel struct {
	router string // the gateway's configured name
	snap   *gateway.Snapshot
	tunnel *gateway.Tunnel
}

// bgp returns the tunnel's BGP neighbor; nil for no tunnel or none.
func (r *gwTunnel) bgp() *gateway.BGPNeighbor {
	if r == nil {
		return nil
	}
	return r.tunnel.BGP
}

// d is the gateway's dialect.
func (r *gwTunnel) d() gateway.Dialect { return r.snap.Dialect }

// label names the tunnel as operators do: "RTX osaka tunnel 1",
// "strongSwan gw1 connection aws-1".
func (r *gwTunnel) label() string {
	return r.d().Kind() + " " + r.router + " " + r.d().Tunnel(r.tunnel)
}

// setting quotes one of the tunnel's settings in the gateway's words.
func (r *gwTunnel) setting(s gateway.Setting) string { return r.d().Setting(r.tunnel, s) }

// fix is the gateway's fix for what a rule found.
func (r *gwTunnel) fix(f gateway.Fix) string { return r.d().Fix(r.tunnel, f) }

// pair is a joined tunnel: both sides, or one when the other is unknown.
// When one side is missing because its source has no current data, the
// remembered join names it (memo), so that findings keep their subject.
type pair struct {
	aws  *awsTunnel
	gw   *gwTunnel
	memo *pairMemo
}

// pairMemo is the missing side of a pair, remembered from an earlier join.
type pairMemo struct {
	join   joinMemo
	router tunnelKey // router "" when not remembered
}

// join pairs AWS and gateway tunnels: explicit joins from the
// configuration first (RTX), then AWS outside IP = the gateway's remote
// address (RTX `ipsec ike remote address`, strongSwan `remote_addrs`).
func (c *evaluation) join() {
	byIP := map[string]*awsTunnel{}
	var all []*awsTunnel
	for si := range c.aws {
		s := &c.aws[si]
		for ci := range s.Connections {
			conn := &s.Connections[ci]
			for ti := range conn.Tunnels {
				at := &awsTunnel{s.Source, s.Region, conn, &conn.Tunnels[ti], s.LogsRead}
				all = append(all, at)
				if conn.State != aws.StateGone {
					byIP[at.tunnel.OutsideIP] = at
				}
			}
		}
	}
	joined := map[*awsTunnel]bool{}
	for ri := range c.gws {
		s := &c.gws[ri]
		for ti := range s.Tunnels {
			t := &s.Tunnels[ti]
			rt := &gwTunnel{s.Source.Name, s, t}
			ip := t.RemoteAddress
			joins := c.obs.Joins[s.Source.Name]
			if s.Source.Type != SourceRTX || t.Number == 0 {
				joins = nil // explicit joins name RTX tunnels
			}
			for _, j := range joins {
				if j.RTXTunnel == t.Number && j.OutsideIP != "" {
					ip = j.OutsideIP
				}
			}
			at := byIP[ip]
			for _, j := range joins {
				if j.RTXTunnel == t.Number && j.VPNConnectionID != "" && at != nil && at.conn.ID != j.VPNConnectionID {
					at = nil // the configuration says another connection
				}
			}
			if at != nil && !joined[at] {
				joined[at] = true
				if t.BGP == nil {
					// A session at AWS's inside address is this tunnel's
					// (strongSwan: FRR knows no tunnels).
					if awsIP, _, ok := awsInside(at.tunnel.InsideCIDR); ok {
						for i := range s.Peers {
							if s.Peers[i].Address == awsIP {
								t.BGP = &s.Peers[i]
							}
						}
					}
				}
				c.pairs = append(c.pairs, pair{aws: at, gw: rt})
			} else {
				c.pairs = append(c.pairs, pair{gw: rt})
			}
		}
	}
	for _, at := range all {
		if !joined[at] {
			c.pairs = append(c.pairs, pair{aws: at})
		}
	}
	c.rememberJoins()
}

// rememberJoins notes the joins of this evaluation, forgets those whose
// sides are both current but no longer joined, and gives a one-sided pair
// its missing side from memory when that side's source has no current
// data.
func (c *evaluation) rememberJoins() {
	st := c.state
	current := map[tunnelKey]bool{}
	for i := range c.pairs {
		p := &c.pairs[i]
		if p.aws != nil && p.gw != nil {
			k := keyOf(p.gw)
			current[k] = true
			st.joins[k] = joinMemo{AWS: SourceRef{Type: SourceAWS, Name: p.aws.source, Region: p.aws.region},
				ConnID: p.aws.conn.ID, ConnName: p.aws.conn.Name, OutsideIP: p.aws.tunnel.OutsideIP}
		}
	}
	routerStale := func(k tunnelKey) bool { return c.staleRefs[k.source()] }
	// The remembered joins by AWS tunnel, of routers without current data
	// (the first in key order, should two claim one AWS tunnel).
	type awsTunnelKey struct{ connID, outsideIP string }
	byAWS := map[awsTunnelKey]tunnelKey{}
	anyRouterStale := false
	for ref := range c.staleRefs {
		anyRouterStale = anyRouterStale || gatewayKind(ref.Type)
	}
	if anyRouterStale {
		for _, k := range slices.SortedFunc(maps.Keys(st.joins), tunnelKey.compare) {
			j := st.joins[k]
			at := awsTunnelKey{j.ConnID, j.OutsideIP}
			if _, taken := byAWS[at]; !taken && routerStale(k) {
				byAWS[at] = k
			}
		}
	}
	for i := range c.pairs {
		p := &c.pairs[i]
		switch {
		case p.gw != nil && p.aws == nil:
			if j, ok := st.joins[keyOf(p.gw)]; ok && c.staleRefs[j.AWS] {
				p.memo = &pairMemo{join: j}
			}
		case p.aws != nil && p.gw == nil:
			if k, ok := byAWS[awsTunnelKey{p.aws.conn.ID, p.aws.tunnel.OutsideIP}]; ok {
				p.memo = &pairMemo{join: st.joins[k], router: k}
			}
		}
	}
	for k, j := range st.joins {
		if !current[k] && !c.staleRefs[j.AWS] && !routerStale(k) {
			delete(st.joins, k) // both sides current and not joined: the join is gone
		}
	}
}
