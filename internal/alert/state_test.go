package alert

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// A damaged alerts.json (truncated, empty, garbage, `null`) is set aside
// and the daemon starts; it never stops the start (a restart loop under
// systemd).
func TestDamagedOutboxSetAside(t *testing.T) {
	for name, content := range map[string]string{
		"truncated": `{"next_id":3,"entries":[{"id":1,"receiver":"webhook[0]","al`,
		"empty":     "",
		"garbage":   "\x00\x01 not json",
		"null":      "null",
		"array":     "[]",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "alerts.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := NewManager(zaptest.NewLogger(t), dir, Lifecycle{RepeatInterval: time.Hour, FlapWindow: time.Hour}, nil, nil)
			if err != nil {
				t.Fatalf("start refused: %v", err)
			}
			if m.outbox.SetAside == "" || m.outbox.Len() != 0 || len(m.life.States) != 0 {
				t.Errorf("set aside %q, %d entries, %d states", m.outbox.SetAside, m.outbox.Len(), len(m.life.States))
			}
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("damaged file not kept: %v", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != content {
				t.Errorf("set-aside file changed")
			}
		})
	}
}

// An entry scheduled far ahead (the clock stepped back since) is due, not
// stuck until the clock catches up.
func TestFutureEntriesAreDue(t *testing.T) {
	o, err := OpenOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o.Enqueue(now, nil, map[string][]Alert{"webhook[0]": {{Fingerprint: "a"}}, "slack[0]": {{Fingerprint: "b"}}})
	due := o.Due(now)
	var ids []int64
	for _, e := range due["webhook[0]"] {
		ids = append(ids, e.ID)
	}
	o.Retry(ids, now.Add(365*24*time.Hour), errors.New("x"))
	var slackIDs []int64
	for _, e := range due["slack[0]"] {
		slackIDs = append(slackIDs, e.ID)
	}
	o.Retry(slackIDs, now.Add(10*time.Minute), errors.New("x"))
	got := o.Due(now)
	if len(got["webhook[0]"]) != 1 || len(got["slack[0]"]) != 0 {
		t.Errorf("due: %v", got)
	}
}

// A state directory that cannot be written at run time: the alert still
// leaves, StateError says why (the StateNotWritable finding), and once the
// directory is writable again the state is saved, so a restart sends no
// second RESOLVED.
func TestUnwritableStateNoDuplicateResolved(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	srv := newServer(t, rec)
	life := Lifecycle{RepeatInterval: time.Hour, ResolveHold: 0, FlapWindow: time.Hour}
	recv := []Receiver{{Name: "webhook[0]", Integration: "webhook", SendResolved: true, Notifier: &Webhook{URL: srv.URL, Client: srv.Client()}}}
	m, err := NewManager(zaptest.NewLogger(t), dir, life, recv, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m.Update([]correlate.Finding{seedFinding()}, now)
	m.deliver(t.Context(), now)

	createTemp = func(string, string) (*os.File, error) { return nil, errors.New("no space left on device") }
	defer func() { createTemp = os.CreateTemp }()
	if err := m.Update(nil, now.Add(time.Minute)); err == nil || m.StateError() == nil {
		t.Fatalf("a failed save was not reported: %v", m.StateError())
	}
	m.deliver(t.Context(), now.Add(time.Minute))
	if n := rec.resolvedMessages(); n != 1 {
		t.Fatalf("RESOLVED sent %d times while the disk was full", n)
	}
	createTemp = os.CreateTemp
	m.Update(nil, now.Add(2*time.Minute))
	if m.StateError() != nil {
		t.Fatalf("not saved again once writable: %v", m.StateError())
	}
	// Restart.
	m2, err := NewManager(zaptest.NewLogger(t), dir, life, recv, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2.Update(nil, now.Add(3*time.Minute))
	m2.deliver(t.Context(), now.Add(3*time.Minute))
	if n := rec.resolvedMessages(); n != 1 {
		t.Errorf("RESOLVED sent %d times in all after the restart", n)
	}
}

func newServer(t *testing.T, rec *recorder) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv
}

// resolvedMessages counts the messages that carry a RESOLVED.
func (r *recorder) resolvedMessages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.bodies {
		if strings.Contains(string(x), `"status":"resolved"`) {
			n++
		}
	}
	return n
}
