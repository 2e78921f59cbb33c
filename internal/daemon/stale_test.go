package daemon

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
	}
}

func resolvedSent(sent []string, rule string) bool {
	return slices.ContainsFunc(sent, func(s string) bool { return strings.HasPrefix(s, "resolved "+rule+" ") })
}

// Losing sight is not recovery, end to end through the real SSH client, the
// real AWS SDK and a webhook receiver, with resolve_hold 0 so that any
// resolution would leave at once: a tunnel goes down; the router then stops
// answering (its line is down), later the EC2 API answers 500 too. No
// RESOLVED leaves while either is silent, the finding is shown as stale on
// the page, and it resolves only when both answer again and the tunnel is
// back.
func TestLostSightIsNotRecovery(t *testing.T) {
	e := startLatencyEnv(t, latencyOptions{poll: time.Second, hold: 0, alerting: "  resolve_hold: 0s\n"})
	e.inject(t, faultTunnelDown)
	e.wait(t, "TunnelDown", 15*time.Second)

	page := func() string {
		_, p := get(t, http.DefaultClient, "http://"+e.d.Addrs()[0].String()+"/")
		return p
	}
	// The router stops answering; AWS alone still sees the tunnel down.
	e.srv.SetUnreachable(true)
	waitFor(t, 20*time.Second, "the router seen as not answering", func() bool { return strings.Contains(page(), "rtx osaka: not checked") })
	time.Sleep(3 * time.Second)
	// The EC2 endpoint fails too: nothing current at all.
	e.sim.ServeRaw("DescribeVpnConnections", http.StatusInternalServerError, []byte(`<?xml version="1.0"?><Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>r-1</RequestID></Response>`))
	waitFor(t, 20*time.Second, "the page shows TunnelDown held as stale", func() bool {
		p := page()
		return strings.Contains(p, "STALE since") && strings.Contains(p, "aws prod ap-northeast-1")
	})
	time.Sleep(3 * time.Second)
	if sent := e.notifications(); resolvedSent(sent, "TunnelDown") || slices.ContainsFunc(sent, func(s string) bool { return strings.HasPrefix(s, "resolved ") && !strings.Contains(s, "SourceStale") }) {
		t.Fatalf("resolved while sources were silent: %v", sent)
	}
	firings := func() int {
		n := 0
		for _, s := range e.notifications() {
			if strings.HasPrefix(s, "firing TunnelDown") {
				n++
			}
		}
		return n
	}
	before := firings()

	// Both answer again, the tunnel still down: no new FIRING.
	e.sim.ServeRaw("DescribeVpnConnections", 0, nil)
	e.srv.SetUnreachable(false)
	waitFor(t, 40*time.Second, "fresh data again", func() bool { return !strings.Contains(page(), "STALE since") })
	time.Sleep(2 * time.Second)
	if n := firings(); n != before {
		t.Errorf("TunnelDown fired again on recovery of the sources (%d → %d): %v", before, n, e.notifications())
	}
	if resolvedSent(e.notifications(), "TunnelDown") {
		t.Fatalf("TunnelDown resolved while the tunnel is still down: %v", e.notifications())
	}
	// The tunnel comes back: now it resolves.
	if err := e.sim.SetTunnel(latencyRegion, latencyVPN, latencyOutsideIPs[0], "UP", "1 BGP ROUTES", 1); err != nil {
		t.Fatal(err)
	}
	e.router.Reconnect(1)
	waitFor(t, 20*time.Second, "TunnelDown resolved", func() bool { return resolvedSent(e.notifications(), "TunnelDown") })

	// The tunnel's timeline tells the story: both sides' state changes
	// seen by polling, the finding firing and resolving.
	var status struct {
		Tunnels []correlate.TunnelView `json:"tunnels"`
	}
	_, body := get(t, http.DefaultClient, "http://"+e.d.Addrs()[0].String()+"/api/v1/status")
	if err := json.Unmarshal([]byte(body), &status); err != nil {
		t.Fatal(err)
	}
	var timeline []string
	for _, tv := range status.Tunnels {
		if tv.OutsideIP == latencyOutsideIPs[0] {
			for _, ev := range tv.Timeline {
				timeline = append(timeline, ev.Side+": "+ev.Text)
			}
		}
	}
	got := strings.Join(timeline, "\n")
	for _, want := range []string{"rtx: polled: tunnel Offline", "aws: polled: tunnel DOWN", "vpnwatchd: WARNING TunnelDown firing", "vpnwatchd: TunnelDown resolved", "rtx: polled: tunnel Online"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline lacks %q:\n%s", want, got)
		}
	}
}
