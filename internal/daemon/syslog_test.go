package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

const syslogRouterConfig = "tunnel select 1\n ipsec tunnel 201\n  ipsec sa policy 201 1 esp aes-cbc sha-hmac\n  ipsec ike keepalive use 1 on dpd 10 3\n" +
	"  ipsec ike remote address 1 203.0.113.10\n ip tunnel remote address 169.254.10.1\n ip tunnel tcp mss limit auto\n tunnel enable 1\n"

// syslogSetup runs a router whose tunnel 1 fails its first rekey, a daemon
// polling it only every 30 s, and the router's syslog going to the daemon.
// It returns when SARekeyFailed fired, and how long after the SAs ran out.
func syslogSetup(t testing.TB, withSyslog bool, poll string) time.Duration {
	router := rtxsim.New("RTX1210 Rev.14.01.42", syslogRouterConfig, nil)
	router.SetRekeyMargin(500 * time.Millisecond)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", IPsecLifetime: 3 * time.Second})
	router.FailRekey(1)
	srv, kh := rtxsim.Start(t, router, "monitor", "rtx-pass")
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "rtx.password"), "rtx-pass\n")
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	sys := ""
	if withSyslog {
		sys = "syslog:\n  listen: 127.0.0.1:0\n"
	}
	writeConfig(t, cfgFile, minimalConfig(dir, poll)+sys+fmt.Sprintf("routers:\n  - name: osaka\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n", srv.Addr(), kh))
	var mu sync.Mutex
	var firedAt time.Time
	fired := make(chan struct{})
	d, _ := start(t, Options{ConfigFile: cfgFile, OnFinding: func(firing bool, f correlate.Finding) {
		mu.Lock()
		defer mu.Unlock()
		if firing && f.Rule == "SARekeyFailed" && firedAt.IsZero() {
			firedAt = time.Now()
			close(fired)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if withSyslog {
		if err := router.SendSyslog(d.syslog.conn.LocalAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	go router.Tick(ctx, 20*time.Millisecond)
	expiry := time.Now().Add(3 * time.Second) // the SAs were made at AddTunnel
	select {
	case <-fired:
	case <-time.After(40 * time.Second):
		t.Fatal("SARekeyFailed never fired")
	}
	mu.Lock()
	defer mu.Unlock()
	return firedAt.Sub(expiry)
}

// With syslog, "IP Tunnel[1] Down" triggers a poll at once: the failed
// rekey is reported long before the next 30 s poll would have seen it.
func TestSyslogTriggersImmediatePoll(t *testing.T) {
	latency := syslogSetup(t, true, "30s")
	if latency > 20*time.Second {
		t.Errorf("reported %s after the SAs ran out: the syslog did not trigger a poll", latency)
	}
	t.Logf("SARekeyFailed reported %s after the SAs ran out (poll interval 30s)", latency.Round(time.Millisecond))
}

// BenchmarkDetectionLatency reports how long after the SAs run out the
// finding fires, with syslog and with polling only (5 s interval).
func BenchmarkDetectionLatency(b *testing.B) {
	for _, mode := range []struct {
		name   string
		syslog bool
		poll   string
	}{{"syslog", true, "30s"}, {"polling-5s", false, "5s"}} {
		b.Run(mode.name, func(b *testing.B) {
			var total time.Duration
			n := 0
			for b.Loop() {
				total += syslogSetup(b, mode.syslog, mode.poll)
				n++
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms-to-finding")
		})
	}
}
