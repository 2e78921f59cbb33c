package alert

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func finding(rule, vpn, ip string) correlate.Finding {
	return correlate.Finding{Rule: rule, Severity: correlate.SeverityCritical, Since: t0,
		Subject: correlate.Subject{VPNConnectionID: vpn, OutsideIP: ip}, Summary: rule + " on " + ip, Remediation: "fix it"}
}

func statuses(as []Alert) string {
	s := ""
	for _, a := range as {
		if s != "" {
			s += " "
		}
		s += a.Finding.Rule + ":" + a.Status
		if a.Repeat {
			s += "(repeat)"
		}
		if a.Flapping {
			s += "(flapping)"
		}
	}
	return s
}

func TestLifecycle(t *testing.T) {
	down := finding("TunnelDown", "vpn-1", "203.0.113.10")
	conn := finding("ConnectionDown", "vpn-1", "")
	steps := []struct {
		at     time.Duration
		active []correlate.Finding
		want   string
	}{
		{0, []correlate.Finding{down}, "TunnelDown:firing"},
		{time.Minute, []correlate.Finding{down}, ""},
		{4*time.Hour + time.Minute, []correlate.Finding{down}, "TunnelDown:firing(repeat)"},
		// Gone, but the resolve hold (1m) has not passed: nothing yet.
		{4*time.Hour + 2*time.Minute, nil, ""},
		// Back within the hold: still the same firing alert, nothing sent.
		{4*time.Hour + 2*time.Minute + 30*time.Second, []correlate.Finding{down}, ""},
		{4*time.Hour + 3*time.Minute, nil, ""},
		{4*time.Hour + 4*time.Minute + time.Second, nil, "TunnelDown:resolved"},
		// Both tunnels down: ConnectionDown inhibits TunnelDown of the same VPN.
		{5 * time.Hour, []correlate.Finding{conn, down}, "ConnectionDown:firing"},
	}
	l := &Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: time.Minute, FlapThreshold: 4, FlapWindow: time.Hour}
	for _, s := range steps {
		if got := statuses(l.Step(s.active, t0.Add(s.at))); got != s.want {
			t.Errorf("at +%s: sent %q, want %q", s.at, got, s.want)
		}
	}
}

func TestFlapDamping(t *testing.T) {
	l := &Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: 0, FlapThreshold: 2, FlapWindow: time.Hour}
	f := finding("TunnelDown", "vpn-1", "203.0.113.10")
	var sent []string
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		var active []correlate.Finding
		if i%2 == 0 {
			active = []correlate.Finding{f}
		}
		if s := statuses(l.Step(active, at)); s != "" {
			sent = append(sent, s)
		}
	}
	// fire, resolve, fire, resolve, then the third firing is flapping: one
	// notice, and no more until it has been quiet for the window.
	want := []string{"TunnelDown:firing", "TunnelDown:resolved", "TunnelDown:firing", "TunnelDown:resolved", "TunnelDown:firing(flapping)"}
	if len(sent) != len(want) {
		t.Fatalf("sent %q, want %q", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Errorf("notification %d: %q, want %q", i, sent[i], want[i])
		}
	}
	if got := statuses(l.Step(nil, t0.Add(2*time.Hour))); got != "TunnelDown:resolved(flapping)" {
		t.Errorf("after a quiet hour: %q", got)
	}
}

// A maintenance window holds notifications back; what still fires when it
// ends is sent then.
func TestMaintenanceWindow(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	m, err := NewManager(zaptest.NewLogger(t), t.TempDir(), Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: time.Minute, FlapWindow: time.Hour},
		[]Receiver{{Name: "webhook[0]", Integration: "webhook", SendResolved: true, Notifier: &Webhook{URL: srv.URL, Client: srv.Client()}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Configure(Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: time.Minute, FlapWindow: time.Hour},
		[]Window{{Name: "router work", Start: t0, End: t0.Add(time.Hour), Matchers: map[string]string{"router": "osaka-rtx1200"}}}, m.receivers2())
	f := seedFinding()
	other := finding("TunnelDown", "vpn-2", "203.0.113.99")
	m.Update([]correlate.Finding{f, other}, t0.Add(time.Minute))
	m.deliver(context.Background(), t0.Add(time.Minute))
	if rec.count() != 1 || !strings.Contains(string(rec.bodies[0]), "203.0.113.99") || strings.Contains(string(rec.bodies[0]), "osaka-rtx1200") {
		t.Fatalf("during the window only the unmatched alert goes out: %d %s", rec.count(), rec.bodies)
	}
	m.Update([]correlate.Finding{f, other}, t0.Add(61*time.Minute))
	m.deliver(context.Background(), t0.Add(61*time.Minute))
	if rec.count() != 2 || !strings.Contains(string(rec.bodies[1]), "osaka-rtx1200") {
		t.Errorf("after the window the held alert is sent: %d", rec.count())
	}
}

func (m *Manager) receivers2() []Receiver {
	var rs []Receiver
	for _, r := range m.currentReceivers() {
		rs = append(rs, r)
	}
	return rs
}

// An info finding is sent when it starts and when it ends, never repeated.
func TestInfoIsNotRepeated(t *testing.T) {
	info := finding("TunnelLogsDisabled", "vpn-1", "")
	info.Severity = correlate.SeverityInfo
	l := &Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: 0, FlapWindow: time.Hour}
	var sent []string
	for _, at := range []time.Duration{0, 5 * time.Hour, 9 * time.Hour, 13 * time.Hour} {
		if s := statuses(l.Step([]correlate.Finding{info}, t0.Add(at))); s != "" {
			sent = append(sent, s)
		}
	}
	sent = append(sent, statuses(l.Step(nil, t0.Add(14*time.Hour))))
	if got := strings.Join(sent, " "); got != "TunnelLogsDisabled:firing TunnelLogsDisabled:resolved" {
		t.Errorf("sent %q", got)
	}
}
