package correlate

// The little history the time-based rules need besides the SAs (those are
// each gateway poller's, gateway.SAHistory): each side's tunnel state changes.

import (
	"cmp"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
)

func keyOf(rt *gwTunnel) tunnelKey {
	return tunnelKey{rt.snap.Source.Type, rt.router, rt.tunnel.Number, rt.tunnel.Name}
}

func (k tunnelKey) compare(o tunnelKey) int {
	return cmp.Or(cmp.Compare(k.router, o.router), cmp.Compare(k.kind, o.kind), cmp.Compare(k.number, o.number), cmp.Compare(k.name, o.name))
}

// side is one side's view of a pair's tunnel state.
type side struct {
	key    sideKey
	seenBy string // "aws" or the gateway's kind ("rtx", "strongswan")
	up     bool
	known  bool        // the side says up or down (an AWS connection not available, or an RTX output not understood, says neither)
	drops  []time.Time // the gateway's own reports of the tunnel going down
}

// sides lists the views of a pair's tunnel state, AWS first; the history
// of state changes is kept and read by these keys only.
func (p pair) sides() []side {
	var out []side
	if p.aws != nil {
		out = append(out, side{key: sideKey{awsOutsideIP: p.aws.tunnel.OutsideIP}, seenBy: SourceAWS,
			up: p.aws.tunnel.Up(), known: p.aws.conn.State == aws.StateAvailable})
	}
	if p.gw != nil {
		out = append(out, side{key: sideKey{gw: keyOf(p.gw)}, seenBy: p.gw.snap.Source.Type,
			up: p.gw.tunnel.Up, known: p.gw.tunnel.Known, drops: p.gw.tunnel.Drops()})
	}
	return out
}

// track updates the tunnel state changes the flapping rule reads.
func (c *evaluation) track() {
	st := c.state
	for _, p := range c.pairs {
		for _, s := range p.sides() {
			if s.known {
				changed := c.trackChange(s.key, s.up)
				c.trackDrops(s, changed)
			}
		}
	}
	for k, t := range st.dropsSeen {
		if c.now.Sub(t) > flapWindow {
			delete(st.dropsSeen, k) // a drop this old counts for nothing
		}
	}
	for k, times := range st.changes {
		kept := times[:0:0]
		for _, t := range times {
			if c.now.Sub(t.at) <= flapWindow {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			delete(st.changes, k)
		} else {
			st.changes[k] = kept
		}
	}
}

// trackChange records a side's polled state and reports whether it
// changed.
func (c *evaluation) trackChange(key sideKey, up bool) bool {
	st := c.state
	prev, ok := st.up[key]
	changed := ok && prev != up
	if changed {
		st.changes[key] = append(append([]stateChange(nil), st.changes[key]...), stateChange{at: c.now, up: up})
	}
	st.up[key] = up
	return changed
}

// trackDrops counts the drops a gateway reported itself that polling did
// not see: a tunnel up now, and not seen changing by this poll, that went
// down and came back since the last look was down and up once.
func (c *evaluation) trackDrops(s side, changed bool) {
	st := c.state
	seen := st.dropsSeen[s.key]
	latest := seen
	for _, t := range s.drops {
		if !t.After(seen) {
			continue
		}
		latest = t
		if changed || !s.up {
			continue // polling saw this outage, or it is still going on
		}
		st.changes[s.key] = append(append([]stateChange(nil), st.changes[s.key]...), stateChange{t, false, true}, stateChange{t, true, true})
	}
	if latest.After(seen) {
		st.dropsSeen[s.key] = latest
	}
}
