package correlate

// Joining AWS and RTX tunnels, and remembering joins for the side that
// falls silent.

import (
	"maps"
	"slices"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// awsTunnel is one AWS tunnel with where it came from.
type awsTunnel struct {
	source, region string
	conn           *aws.Connection
	tunnel         *aws.Tunnel
	logsRead       bool // the source reads AWS's tunnel logs
}

// rtxTunnel is one RTX tunnel with its router.
type rtxTunnel struct {
	router string
	snap   *rtx.Snapshot
	tunnel *rtx.Tunnel
}

// bgp returns the tunnel's BGP neighbor; nil for no tunnel or none.
func (r *rtxTunnel) bgp() *rtx.BGPNeighbor {
	if r == nil {
		return nil
	}
	return r.tunnel.BGP
}

// pair is a joined tunnel: both sides, or one when the other is unknown.
// When one side is missing because its source has no current data, the
// remembered join names it (memo), so that findings keep their subject.
type pair struct {
	aws  *awsTunnel
	rtx  *rtxTunnel
	memo *pairMemo
}

// pairMemo is the missing side of a pair, remembered from an earlier join.
type pairMemo struct {
	join      joinMemo
	router    string
	rtxTunnel int
}

// join pairs AWS and RTX tunnels: explicit joins from the configuration
// first, then AWS outside IP = RTX `ipsec ike remote address`.
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
	for ri := range c.rtx {
		s := &c.rtx[ri]
		for ti := range s.Tunnels {
			t := &s.Tunnels[ti]
			rt := &rtxTunnel{s.Router, s, t}
			ip := t.Config.RemoteAddress
			for _, j := range c.obs.Joins[s.Router] {
				if j.RTXTunnel == t.Config.Number && j.OutsideIP != "" {
					ip = j.OutsideIP
				}
			}
			at := byIP[ip]
			for _, j := range c.obs.Joins[s.Router] {
				if j.RTXTunnel == t.Config.Number && j.VPNConnectionID != "" && at != nil && at.conn.ID != j.VPNConnectionID {
					at = nil // the configuration says another connection
				}
			}
			if at != nil && !joined[at] {
				joined[at] = true
				c.pairs = append(c.pairs, pair{aws: at, rtx: rt})
			} else {
				c.pairs = append(c.pairs, pair{rtx: rt})
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
		if p.aws != nil && p.rtx != nil {
			k := keyOf(p.rtx)
			current[k] = true
			st.joins[k] = joinMemo{AWS: SourceRef{Type: SourceAWS, Name: p.aws.source, Region: p.aws.region},
				ConnID: p.aws.conn.ID, ConnName: p.aws.conn.Name, OutsideIP: p.aws.tunnel.OutsideIP}
		}
	}
	routerStale := func(k tunnelKey) bool { return c.staleRefs[SourceRef{Type: SourceRTX, Name: k.router}] }
	// The remembered joins by AWS tunnel, of routers without current data
	// (the first in key order, should two claim one AWS tunnel).
	type awsTunnelKey struct{ connID, outsideIP string }
	byAWS := map[awsTunnelKey]tunnelKey{}
	anyRouterStale := false
	for ref := range c.staleRefs {
		anyRouterStale = anyRouterStale || ref.Type == SourceRTX
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
		case p.rtx != nil && p.aws == nil:
			if j, ok := st.joins[keyOf(p.rtx)]; ok && c.staleRefs[j.AWS] {
				p.memo = &pairMemo{join: j}
			}
		case p.aws != nil && p.rtx == nil:
			if k, ok := byAWS[awsTunnelKey{p.aws.conn.ID, p.aws.tunnel.OutsideIP}]; ok {
				p.memo = &pairMemo{join: st.joins[k], router: k.router, rtxTunnel: k.number}
			}
		}
	}
	for k, j := range st.joins {
		if !current[k] && !c.staleRefs[j.AWS] && !routerStale(k) {
			delete(st.joins, k) // both sides current and not joined: the join is gone
		}
	}
}
