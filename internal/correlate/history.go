package correlate

// The little history the time-based rules need: SA expiries, rekey
// failures, state changes.

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
)

func rtxKey(router string, n int) string { return router + "/" + strconv.Itoa(n) }

// track updates the history the time-based rules need: SA expiries, rekey
// failures, tunnel state changes.
func (c *evaluation) track() {
	st := c.state
	c.currentSAs = map[string]bool{}
	routers := map[string]bool{}
	for _, s := range c.rtx {
		routers[s.Router] = true
	}
	defer func() {
		// Forget first-seen times of the SAs the routers no longer have
		// (routers without a good snapshot keep theirs).
		for fk := range st.SAFirstSeen {
			router, _, _ := strings.Cut(fk, "/")
			if routers[router] && !c.currentSAs[fk] {
				delete(st.SAFirstSeen, fk)
			}
		}
	}()
	for _, p := range c.pairs {
		if p.rtx != nil {
			c.trackSAs(p.rtx)
		}
		if p.aws != nil && p.aws.conn.State == aws.StateAvailable {
			c.trackChange("aws/"+p.aws.tunnel.OutsideIP, p.aws.tunnel.Up())
		}
		if p.rtx != nil && p.rtx.tunnel.Status.Known() {
			c.trackChange("rtx/"+rtxKey(p.rtx.router, p.rtx.tunnel.Config.Number), p.rtx.tunnel.Status.Online())
		}
	}
	for k, times := range st.Changes {
		kept := times[:0:0]
		for _, t := range times {
			if c.now.Sub(t) <= flapWindow {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			delete(st.Changes, k)
		} else {
			st.Changes[k] = kept
		}
	}
}

func (c *evaluation) trackChange(key string, up bool) {
	st := c.state
	if prev, ok := st.Up[key]; ok && prev != up {
		st.Changes[key] = append(append([]time.Time(nil), st.Changes[key]...), c.now)
	}
	st.Up[key] = up
}

func (c *evaluation) trackSAs(rt *rtxTunnel) {
	st := c.state
	key := rtxKey(rt.router, rt.tunnel.Config.Number)
	rec := saRecord{At: rt.snap.TakenAt}
	if rec.At.IsZero() {
		rec.At = c.now
	}
	for _, sa := range rt.tunnel.SAs {
		rec.IDs = append(rec.IDs, sa.ID)
		if exp := rec.At.Add(sa.Remaining); exp.After(rec.ExpiresAt) {
			rec.ExpiresAt = exp
		}
		fk := key + "/" + strconv.Itoa(sa.ID)
		if _, ok := st.SAFirstSeen[fk]; !ok {
			st.SAFirstSeen[fk] = c.now
		}
	}
	sort.Ints(rec.IDs)
	prev, hadPrev := st.SAs[key]
	switch {
	case len(rec.IDs) > 0:
		delete(st.RekeyFailed, key) // SAs again: recovered
	case hadPrev && len(prev.IDs) > 0 && !prev.ExpiresAt.After(c.now):
		// The SAs ran out and nothing replaced them: the rekey failed.
		if _, ok := st.RekeyFailed[key]; !ok {
			st.RekeyFailed[key] = prev.ExpiresAt
		}
	}
	for _, id := range rec.IDs {
		c.currentSAs[key+"/"+strconv.Itoa(id)] = true
	}
	if len(rec.IDs) > 0 || !hadPrev {
		st.SAs[key] = rec
	}
}
