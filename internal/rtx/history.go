package rtx

import (
	"strconv"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// SAHistory is what vpnwatchd remembers of a router's IPsec SAs between
// polls: the gateway-neutral history (gateway.SAHistory) keyed by tunnel
// number. The poller applies it to every good snapshot; the correlator,
// metrics and events read the result from the snapshot. The zero value is
// ready; it is not safe for concurrent use.
type SAHistory struct {
	h gateway.SAHistory
}

// Apply notes the SAs of a good snapshot's tunnels as seen at its TakenAt
// and fills each tunnel's Rekeys, Rekeyed and SAsRanOutAt and each SA's
// FirstSeen. A snapshot with an error (no data) changes nothing.
func (h *SAHistory) Apply(snap *Snapshot) {
	if snap.Err != nil {
		return
	}
	for i := range snap.Tunnels {
		t := &snap.Tunnels[i]
		sas := make([]gateway.SA, len(t.SAs))
		for j, sa := range t.SAs {
			sas[j] = gateway.SA{ID: sa.ID, Direction: sa.Direction, Remaining: sa.Remaining}
		}
		t.Rekeys, t.Rekeyed, t.SAsRanOutAt = h.h.Look(snap.TakenAt, strconv.Itoa(t.Config.Number), sas)
		for j := range t.SAs {
			t.SAs[j].FirstSeen = sas[j].FirstSeen
		}
	}
	h.h.Forget()
}
