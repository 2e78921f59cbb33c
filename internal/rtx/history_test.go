package rtx

import (
	"errors"
	"testing"
	"time"
)

// The SA history is the one record of SAs between polls: first-seen times,
// rekeys and a failed rekey (SAs that ran out with no successor).
func TestSAHistory(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	cfg := &TunnelConfig{Number: 1}
	look := func(sas ...SA) Tunnel { return Tunnel{Config: cfg, SAs: sas} }
	var h SAHistory
	apply := func(at time.Time, tu Tunnel) Tunnel {
		s := Snapshot{TakenAt: at, Tunnels: []Tunnel{tu}}
		h.Apply(&s)
		return s.Tunnels[0]
	}
	send := func(id int, left time.Duration) SA {
		return SA{ID: id, Kind: SAKindESP, Direction: "send", Remaining: left}
	}

	got := apply(t0, look(send(10, time.Hour)))
	if got.Rekeys != 0 || got.Rekeyed || !got.SAs[0].FirstSeen.Equal(t0) || !got.SAsRanOutAt.IsZero() {
		t.Fatalf("first look: %+v", got)
	}
	// A new send SA beside the old one: one rekey; the old keeps its time.
	got = apply(t0.Add(59*time.Minute), look(send(10, time.Minute), send(11, time.Hour)))
	if got.Rekeys != 1 || !got.Rekeyed || !got.SAs[0].FirstSeen.Equal(t0) || !got.SAs[1].FirstSeen.Equal(t0.Add(59*time.Minute)) {
		t.Fatalf("rekey: %+v", got)
	}
	// A poll that failed changes nothing.
	bad := Snapshot{TakenAt: t0.Add(2 * time.Hour), Err: errors.New("timeout")}
	h.Apply(&bad)
	// The SAs gone before their expiry (cleared): not a failed rekey.
	end := t0.Add(59*time.Minute + time.Hour)
	got = apply(end.Add(-time.Minute), look())
	if !got.SAsRanOutAt.IsZero() || got.Rekeyed {
		t.Fatalf("SAs gone before they expired: %+v", got)
	}
	// Past their expiry with none: the rekey failed, at the expiry.
	got = apply(end.Add(time.Minute), look())
	if !got.SAsRanOutAt.Equal(end) || got.Rekeys != 1 {
		t.Fatalf("ran out: %+v", got)
	}
	got = apply(end.Add(time.Hour), look())
	if !got.SAsRanOutAt.Equal(end) {
		t.Fatalf("still out, same time: %+v", got)
	}
	// SAs again: recovered, and the new SA counts as a rekey.
	got = apply(end.Add(2*time.Hour), look(send(20, time.Hour)))
	if !got.SAsRanOutAt.IsZero() || got.Rekeys != 2 {
		t.Fatalf("back: %+v", got)
	}
	// A tunnel removed from the configuration is forgotten.
	s := Snapshot{TakenAt: end.Add(3 * time.Hour)}
	h.Apply(&s)
	if got = apply(end.Add(4*time.Hour), look(send(20, time.Hour))); got.Rekeys != 0 {
		t.Fatalf("a tunnel seen again after removal starts over: %+v", got)
	}
}
