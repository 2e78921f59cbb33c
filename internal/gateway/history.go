package gateway

import (
	"slices"
	"time"
)

// SAHistory is everything vpnwatchd remembers of a gateway's IPsec SAs
// between polls, and the one place it is kept, whatever the gateway: when
// each SA was first seen, how many rekeys each tunnel has had, and when a
// tunnel's SAs ran out with nothing to replace them. Each kind's poller
// feeds it every good poll (Look, then Forget). The zero value is ready;
// it is not safe for concurrent use.
type SAHistory struct {
	tunnels map[string]*saTrack
}

// saTrack is one tunnel's history.
type saTrack struct {
	firstSeen map[int]time.Time // SA id → when first seen
	rekeys    int
	// ids and expiresAt are the SAs of the last look that had any, and
	// the latest expiry among them.
	ids       []int
	expiresAt time.Time
	ranOut    time.Time // when the SAs ran out with no successor; zero otherwise
	seen      bool      // looked at in the current round
}

// Look notes the SAs of tunnel key as seen at now, sets each SA's
// FirstSeen and returns the tunnel's rekey count, whether this look saw a
// rekey, and when its SAs ran out with no successor (zero while it has
// SAs). After the first look, each new SA sent toward the peer (Direction
// "send", or "" for a record of both directions) is one rekey or
// reconnection.
func (h *SAHistory) Look(now time.Time, key string, sas []SA) (rekeys int, rekeyed bool, ranOut time.Time) {
	if h.tunnels == nil {
		h.tunnels = map[string]*saTrack{}
	}
	tr, known := h.tunnels[key]
	if !known {
		tr = &saTrack{}
		h.tunnels[key] = tr
	}
	tr.seen = true
	before := tr.rekeys
	seen := make(map[int]time.Time, len(sas))
	var ids []int
	var expires time.Time
	for j := range sas {
		sa := &sas[j]
		first, ok := tr.firstSeen[sa.ID]
		if !ok {
			first = now
			if known && sa.Direction != "recv" {
				tr.rekeys++
			}
		}
		sa.FirstSeen = first
		seen[sa.ID] = first
		ids = append(ids, sa.ID)
		if exp := now.Add(sa.Remaining); exp.After(expires) {
			expires = exp
		}
	}
	tr.firstSeen = seen // SAs the gateway no longer has are forgotten
	switch {
	case len(ids) > 0:
		slices.Sort(ids)
		tr.ids, tr.expiresAt, tr.ranOut = ids, expires, time.Time{}
	case len(tr.ids) > 0 && !tr.expiresAt.After(now) && tr.ranOut.IsZero():
		// The SAs ran out and nothing replaced them: the rekey failed.
		tr.ranOut = tr.expiresAt
	}
	return tr.rekeys, tr.rekeys > before, tr.ranOut
}

// Forget drops the tunnels not looked at since the last Forget: tunnels
// no longer configured.
func (h *SAHistory) Forget() {
	for k, tr := range h.tunnels {
		if !tr.seen {
			delete(h.tunnels, k)
		}
		tr.seen = false
	}
}

// Apply looks at every tunnel of a good snapshot (keyed by Name, or by
// Number when it has none) and forgets the others. A snapshot with an
// error changes nothing.
func (h *SAHistory) Apply(s *Snapshot) {
	if s.Err != nil {
		return
	}
	for i := range s.Tunnels {
		t := &s.Tunnels[i]
		t.Rekeys, t.Rekeyed, t.SAsRanOutAt = h.Look(s.TakenAt, t.Key(), t.SAs)
	}
	h.Forget()
}
