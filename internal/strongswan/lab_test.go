package strongswan_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

// pollUntil polls the gateway every second until done says yes or the
// time is up, and returns the last snapshot.
func pollUntil(t *testing.T, src *strongswan.Source, within time.Duration, done func(gateway.Snapshot) bool) gateway.Snapshot {
	t.Helper()
	var snap gateway.Snapshot
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		snap = src.Poll(context.Background())
		if snap.Err == nil && done(snap) {
			return snap
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("not reached within %s; last snapshot: err=%v tunnels=%+v", within, snap.Err, snap.Tunnels)
	return snap
}

func TestRealCharonRekeysCounted(t *testing.T) {
	lab := swanlab.Start(t, swanlab.Options{})
	src := strongswan.New(strongswan.Options{Name: "lab", Socket: lab.Socket("c"), NetNS: lab.NSC})
	snap := pollUntil(t, src, 30*time.Second, func(s gateway.Snapshot) bool {
		return len(s.Tunnels) == 2 && s.Tunnels[0].Up && s.Tunnels[1].Up
	})
	t1 := snap.Tunnels[0]
	if t1.Name != "aws-1" || t1.RemoteAddress != swanlab.AWSIP1 || t1.LocalAddress != swanlab.CustomerIP {
		t.Fatalf("tunnel 1 = %+v", t1)
	}
	if t1.Settings.IKELifetime != 60*time.Second || !t1.Settings.DPD.Enabled || t1.Settings.ChildLifetime < 35*time.Second || t1.Settings.ChildLifetime > 41*time.Second {
		t.Errorf("settings = %+v", t1.Settings)
	}
	if t1.Settings.MTU == 0 {
		t.Errorf("tunnel MTU not read (libipsec's ipsec0): unchecked %v", snap.Unchecked)
	}
	// A child SA rekeys every ~30 s: within 80 s both tunnels have.
	snap = pollUntil(t, src, 80*time.Second, func(s gateway.Snapshot) bool {
		return len(s.Tunnels) == 2 && s.Tunnels[0].Rekeys >= 1 && s.Tunnels[1].Rekeys >= 1
	})
	for _, tn := range snap.Tunnels {
		if !tn.Up || !tn.SAsRanOutAt.IsZero() {
			t.Errorf("%s after rekeys: up=%v ran out %v", tn.Name, tn.Up, tn.SAsRanOutAt)
		}
	}
	if len(snap.Warnings) > 0 {
		t.Errorf("unreadable: %+v", snap.Warnings)
	}
}

func TestRealCharonEventsReachWatch(t *testing.T) {
	lab := swanlab.Start(t, swanlab.Options{})
	src := strongswan.New(strongswan.Options{Name: "lab", Socket: lab.Socket("c")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type event struct {
		conn   string
		upDown bool
	}
	changed := make(chan event, 64)
	go src.Watch(ctx, func(conn string, upDown bool) { changed <- event{conn, upDown} })
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e := <-changed:
			if !strings.HasPrefix(e.conn, "aws-") {
				t.Fatalf("event for %q", e.conn)
			}
			if e.upDown {
				continue // not a rekey (the daemon asks AWS too for these)
			}
			// A rekey: the gateway's own news, and kept for the evidence.
			snap := src.Poll(context.Background())
			for _, tn := range snap.Tunnels {
				for _, l := range tn.Log {
					if strings.Contains(l.Text, "vici child-rekey") || strings.Contains(l.Text, "vici ike-rekey") {
						return
					}
				}
			}
			t.Fatalf("a rekey event, but no rekey in the connections' logs: %+v", snap.Tunnels)
		case <-deadline:
			t.Fatal("no child event within 60 s")
		}
	}
}
