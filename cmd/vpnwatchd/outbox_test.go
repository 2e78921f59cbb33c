package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
)

// kill -9 of a running vpnwatchd with notifications still queued; after the
// restart every alert arrives exactly once.
func TestKill9LosesNoNotification(t *testing.T) {
	cfg := seedSetup(t)
	var up atomic.Bool
	var mu sync.Mutex
	delivered := map[string]int{}
	attempts := atomic.Int32{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		if !up.Load() {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		var p alert.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		for _, a := range p.Alerts {
			if a.Changed { // a grouped message also repeats what still fires
				delivered[a.Fingerprint+" "+a.Status]++
			}
		}
		mu.Unlock()
	}))
	defer hook.Close()
	body, _ := os.ReadFile(cfg)
	conf := strings.Replace(string(body), "global:\n", "global:\n  poll_interval: 1s\n", 1) +
		fmt.Sprintf("rules:\n  BGPDownIPsecUp: {hold: 0s}\n  SideMismatch: {hold: 0s}\n  ConnectionDown: {hold: 0s}\nalerting:\n  group_wait: 0s\n  webhook: [{url: %s/hook}]\n", hook.URL)
	os.WriteFile(cfg, []byte(conf), 0o600)
	stateFile := filepath.Join(filepath.Dir(cfg), "state", "alerts.json")

	start := func() *exec.Cmd {
		cmd := vpnwatchd("run", "--config.file", cfg, "--web.listen-address", "127.0.0.1:0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	queued := func() int {
		b, err := os.ReadFile(stateFile)
		if err != nil {
			return 0
		}
		var f struct{ Entries []json.RawMessage }
		json.Unmarshal(b, &f)
		return len(f.Entries)
	}
	first := start()
	deadline := time.Now().Add(20 * time.Second)
	for queued() < 5 || attempts.Load() == 0 {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("no notifications queued (queued %d, attempts %d)", queued(), attempts.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := queued()
	first.Process.Signal(os.Kill) // kill -9: no flush, no goodbye
	first.Wait()

	up.Store(true)
	second := start()
	defer func() { second.Process.Signal(os.Interrupt); second.Wait() }()
	deadline = time.Now().Add(30 * time.Second)
	for queued() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d queued after the restart", queued())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a few more cycles: nothing may be sent again
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for k, n := range delivered {
		total += n
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	if total < want {
		t.Errorf("%d notifications delivered, %d were queued at the kill", total, want)
	}
	t.Logf("%d queued at kill -9, %d delivered once each after the restart", want, total)
}
