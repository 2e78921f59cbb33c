package alert

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// messages is a Notifier that keeps each message's title.
type messages struct {
	mu     sync.Mutex
	titles []string
	last   []Alert
}

func (m *messages) Notify(_ context.Context, alerts []Alert) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.titles = append(m.titles, MessageTitle(alerts))
	m.last = alerts
	return false, nil
}

// One incident, one story: a group's message is due group_wait after its
// first change, then at most every group_interval when its root causes
// change, its severity rises or it clears; a symptom explained by an
// active cause rides along without a message of its own; reminders come
// per group; a restart sends nothing again.
func TestGroupedMessages(t *testing.T) {
	dir := t.TempDir()
	rec := &messages{}
	life := Lifecycle{RepeatInterval: 4 * time.Hour, ResolveHold: 0, FlapWindow: time.Hour}
	newManager := func() *Manager {
		m, err := NewManager(zaptest.NewLogger(t), dir, life, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.Configure(life, nil, []Receiver{{Name: "webhook[0]", Integration: "webhook", SendResolved: true, Notifier: rec}})
		m.SetGrouping(Grouping{By: []string{"vpn_connection_id"}, Wait: 30 * time.Second, Interval: 5 * time.Minute})
		return m
	}
	m := newManager()
	step := func(at time.Duration, active ...correlate.Finding) int {
		t.Helper()
		if err := m.Update(active, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
		m.deliver(context.Background(), t0.Add(at))
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.titles)
	}
	mss1 := finding("MSSExceedsTunnelMTU", "vpn-1", "203.0.113.10")
	mss1.Severity = correlate.SeverityWarning
	mss2 := finding("MSSExceedsTunnelMTU", "vpn-1", "203.0.113.20")
	mss2.Severity = correlate.SeverityWarning
	rekey := finding("SARekeyFailed", "vpn-1", "203.0.113.10")
	rekey.ExplainedBy = mss1.Fingerprint()
	flap := finding("TunnelFlapping", "vpn-1", "203.0.113.10")
	flap.Severity, flap.ExplainedBy = correlate.SeverityWarning, mss1.Fingerprint()
	other := finding("TunnelDown", "vpn-2", "198.51.100.1")

	if n := step(0, mss1); n != 0 {
		t.Fatalf("sent before group_wait: %d", n)
	}
	if n := step(20*time.Second, mss1, mss2, other); n != 0 {
		t.Fatalf("sent before group_wait: %d", n)
	}
	if n := step(31*time.Second, mss1, mss2, other); n != 1 {
		t.Fatalf("after group_wait of vpn-1: %d messages", n)
	}
	if got := rec.titles[0]; !strings.Contains(got, "vpn-1") || !strings.Contains(got, "MSSExceedsTunnelMTU") || strings.Contains(got, "vpn-2") {
		t.Errorf("first message: %q", got)
	}
	if n := step(51*time.Second, mss1, mss2, other); n != 2 || !strings.Contains(rec.titles[1], "vpn-2") {
		t.Fatalf("vpn-2's own message after its group_wait: %v", rec.titles)
	}
	// An explained symptom of the same severity: no message of its own.
	if n := step(2*time.Minute, mss1, mss2, other, flap); n != 2 {
		t.Fatalf("an explained warning paged: %v", rec.titles)
	}
	// The rekey fails: the group's severity rises, a message at
	// lastSent + group_interval, led by the cause, the symptoms under it.
	step(3*time.Minute, mss1, mss2, other, flap, rekey)
	if n := step(5*time.Minute+32*time.Second, mss1, mss2, other, flap, rekey); n != 3 {
		t.Fatalf("the rekey failure: %v", rec.titles)
	}
	text := MessageText(rec.last)
	if !strings.Contains(rec.titles[2], "[FIRING critical] vpn-1: MSSExceedsTunnelMTU (+2 explained)") ||
		!strings.Contains(text, "tunnels 203.0.113.10 and 203.0.113.20") || strings.Index(text, "Because of it") < strings.Index(text, "MSSExceedsTunnelMTU") ||
		!strings.Contains(text, "CRITICAL SARekeyFailed") {
		t.Errorf("message:\n%s\n%s", rec.titles[2], text)
	}
	changed := 0
	for _, a := range rec.last {
		if a.Changed {
			changed++
		}
	}
	if len(rec.last) != 4 || changed != 2 {
		t.Errorf("the message has %d alerts (%d changed), want the 4 of vpn-1, 2 changed", len(rec.last), changed)
	}
	// The failed rekey recovers (the MSS problem stays): the severity falls
	// back, which the operator is told.
	if n := step(5*time.Minute+40*time.Second, mss1, mss2, other, flap); n != 3 {
		t.Fatalf("sent before group_interval: %v", rec.titles)
	}
	if n := step(10*time.Minute+33*time.Second, mss1, mss2, other, flap); n != 4 || rec.titles[3] != "[FIRING warning] vpn-1: MSSExceedsTunnelMTU (+1 explained)" {
		t.Fatalf("the critical symptom resolved: %v", rec.titles)
	}
	if text := MessageText(rec.last); !strings.Contains(text, "Resolved since the last message:\n  - SARekeyFailed") {
		t.Errorf("the message does not say what resolved:\n%s", text)
	}
	step(11*time.Minute, mss1, mss2, other, flap, rekey) // fails again
	if n := step(16*time.Minute, mss1, mss2, other, flap, rekey); n != 5 {
		t.Fatalf("the rekey failing again: %v", rec.titles)
	}
	// A restart: nothing is sent again; the reminder comes per group.
	m = newManager()
	if n := step(17*time.Minute, mss1, mss2, other, flap, rekey); n != 5 {
		t.Fatalf("a restart sent again: %v", rec.titles)
	}
	if n := step(17*time.Minute+4*time.Hour, mss1, mss2, other, flap, rekey); n != 7 || !strings.HasPrefix(rec.titles[5], "[STILL FIRING") || !strings.HasPrefix(rec.titles[6], "[STILL FIRING") {
		t.Fatalf("reminders: %v", rec.titles)
	}
	// Each group clears in one message (their last messages were more
	// than group_interval ago: at once).
	if n := step(5*time.Hour, other); n != 8 || rec.titles[7] != "[RESOLVED] vpn-1: all clear" {
		t.Fatalf("vpn-1 resolved: %v", rec.titles)
	}
	if n := step(5*time.Hour + time.Minute); n != 9 || rec.titles[8] != "[RESOLVED] vpn-2: all clear" {
		t.Fatalf("vpn-2 resolved: %v", rec.titles)
	}
}
