package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// The status page of a daemon watching the seed incident (ec2sim + rtxsim),
// loaded by headless Chromium: the finding and the fix are on it.
func TestStatusPageInChromium(t *testing.T) {
	chromium := testenv.Binary(t, "chromium")
	cfg := seedSetup(t)
	body, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(body, []byte("rules:\n  BGPDownIPsecUp: {hold: 0s}\n  SideMismatch: {hold: 0s}\n  ConnectionDown: {hold: 0s}\n")...), 0o600)
	d, err := daemon.New(daemon.Options{ConfigFile: cfg, ListenAddresses: []string{"127.0.0.1:0"}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := "http://" + d.Addrs()[0].String()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/status")
		if err == nil {
			var s struct {
				Findings []struct{ Rule string }
			}
			json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if len(s.Findings) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no findings on /api/v1/status")
		}
		time.Sleep(100 * time.Millisecond)
	}
	dir := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-quic", "--user-data-dir=" + filepath.Join(dir, "profile")}
	out, err := exec.Command(chromium, append(args, "--dump-dom", base+"/?refresh=0")...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	dom := string(out)
	for _, want := range []string{"BGPDownIPsecUp", "ip tunnel tcp mss limit 1240", "203.0.113.10", "IPSEC IS UP", "Active", `href="/metrics"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	shot := filepath.Join(dir, "status.png")
	if out, err := exec.Command(chromium, append(args, "--window-size=1280,1600", "--screenshot="+shot, base+"/?refresh=0")...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
	if os.Getenv("VPNWATCHD_KEEP_SCREENSHOT") != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(os.Getenv("VPNWATCHD_KEEP_SCREENSHOT"), b, 0o644)
	}
}
