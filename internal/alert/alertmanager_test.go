package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type amPayload struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// startAlertmanager runs the real prometheus-alertmanager binary on
// loopback; its webhook receiver delivers to the returned channel.
func startAlertmanager(t *testing.T) (string, chan amPayload) {
	bin := testenv.Binary(t, "prometheus-alertmanager")
	got := make(chan amPayload, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p amPayload
		json.NewDecoder(r.Body).Decode(&p)
		got <- p
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`route:
  receiver: hook
  group_by: [vpn_connection_id]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s/
        send_resolved: true
`, hook.URL)), 0o600)
	addr := freePort(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--cluster.listen-address=")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr, got
}

// TestRealAlertmanager sends vpnwatchd's alerts to the real
// prometheus-alertmanager binary, which passes them to a test webhook:
// grouped firing first, then resolved after endsAt.
func TestRealAlertmanager(t *testing.T) {
	addr, got := startAlertmanager(t)
	am := &Alertmanager{URL: "http://" + addr, GeneratorURL: "http://vpnwatchd.example/", Client: http.DefaultClient}
	f1, f2 := seedFinding(), seedFinding()
	f2.Subject.OutsideIP, f2.Subject.RTXTunnel = "203.0.113.20", 2
	now := time.Now()
	firing := []Alert{{Fingerprint: f1.Fingerprint(), Status: StatusFiring, Finding: f1, StartsAt: now}, {Fingerprint: f2.Fingerprint(), Status: StatusFiring, Finding: f2, StartsAt: now}}
	if _, err := am.Notify(context.Background(), firing); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.Status != "firing" || len(p.Alerts) != 2 || p.Alerts[0].Labels["alertname"] != "BGPDownIPsecUp" || p.Alerts[0].Labels["vpn_connection_id"] != "vpn-0a1b2c3d4e5f67890" {
			t.Errorf("firing notification: %+v", p)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no notification from alertmanager")
	}
	resolved := firing
	for i := range resolved {
		resolved[i].Status, resolved[i].EndsAt = StatusResolved, time.Now()
	}
	if _, err := am.Notify(context.Background(), resolved); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case p := <-got:
			if p.Status == "resolved" && len(p.Alerts) == 2 && p.Alerts[0].Status == "resolved" {
				return
			}
		case <-time.After(time.Second):
		}
	}
	t.Fatal("no resolved notification")
}

// Two vpnwatchd instances with the same configuration (the redundant setup
// the README describes) send the same alerts; Alertmanager deduplicates
// them into one notification.
func TestTwoInstancesOneNotification(t *testing.T) {
	addr, got := startAlertmanager(t)
	f := seedFinding()
	now := time.Now()
	for range 2 { // instance A, instance B: same finding, same labels
		am := &Alertmanager{URL: "http://" + addr, Client: http.DefaultClient}
		if _, err := am.Notify(context.Background(), []Alert{{Fingerprint: f.Fingerprint(), Status: StatusFiring, Finding: f, StartsAt: now}}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case p := <-got:
		if len(p.Alerts) != 1 {
			t.Errorf("alertmanager passed on %d alerts for one finding sent twice", len(p.Alerts))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no notification")
	}
	select {
	case p := <-got:
		t.Errorf("a second notification: %+v", p)
	case <-time.After(2500 * time.Millisecond): // more than group_interval
	}
}
