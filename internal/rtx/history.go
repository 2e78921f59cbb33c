package rtx

import (
	"slices"
	"time"
)

// SAHistory is everything vpnwatchd remembers of a router's IPsec SAs
// between polls, and the one place it is kept: when each SA was first seen,
// how many rekeys each tunnel has had, and when a tunnel's SAs ran out with
// nothing to replace them. The poller applies it to every good snapshot;
// the correlator, metrics and events read the result from the snapshot.
// The zero value is ready; it is not safe for concurrent use.
type SAHistory struct {
	tunnels map[int]*saTrack
}

// saTrack is one tunnel's history.
type saTrack struct {
	firstSeen map[int]time.Time // ESP SA id → when first seen
	rekeys    int
	// ids and expiresAt are the SAs of the last look that had any, and
	// the latest expiry among them.
	ids       []int
	expiresAt time.Time
	ranOut    time.Time // when the SAs ran out with no successor; zero otherwise
}

// Apply notes the SAs of a good snapshot's tunnels as seen at its TakenAt
// and fills each tunnel's Rekeys, Rekeyed and SAsRanOutAt and each SA's
// FirstSeen.
// A snapshot with an error (no data) changes nothing.
func (h *SAHistory) Apply(snap *Snapshot) {
	if snap.Err != nil {
		return
	}
	if h.tunnels == nil {
		h.tunnels = map[int]*saTrack{}
	}
	now := snap.TakenAt
	present := map[int]bool{}
	for i := range snap.Tunnels {
		t := &snap.Tunnels[i]
		n := t.Config.Number
		present[n] = true
		tr, known := h.tunnels[n]
		if !known {
			tr = &saTrack{}
			h.tunnels[n] = tr
		}
		before := tr.rekeys
		seen := make(map[int]time.Time, len(t.SAs))
		var ids []int
		var expires time.Time
		for j := range t.SAs {
			sa := &t.SAs[j]
			first, ok := tr.firstSeen[sa.ID]
			if !ok {
				first = now
				// After the first look, each new send SA is one rekey
				// (or reconnection).
				if known && sa.Direction == "send" {
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
		tr.firstSeen = seen // SAs the router no longer has are forgotten
		switch {
		case len(ids) > 0:
			slices.Sort(ids)
			tr.ids, tr.expiresAt, tr.ranOut = ids, expires, time.Time{}
		case len(tr.ids) > 0 && !tr.expiresAt.After(now) && tr.ranOut.IsZero():
			// The SAs ran out and nothing replaced them: the rekey failed.
			tr.ranOut = tr.expiresAt
		}
		t.Rekeys, t.Rekeyed, t.SAsRanOutAt = tr.rekeys, tr.rekeys > before, tr.ranOut
	}
	for n := range h.tunnels {
		if !present[n] {
			delete(h.tunnels, n) // a tunnel no longer configured
		}
	}
}
