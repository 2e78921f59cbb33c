package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// The fix is a block of plain commands to paste, one per line.
	if !strings.Contains(dom, `<pre class="cmds"`) || strings.Contains(dom, "<pre class=\"cmds\" title=\"the commands, one per line, to paste as they are\">`") {
		t.Errorf("no plain command block on the page")
	}
	// On a 390 px phone screen nothing scrolls sideways: the page as served,
	// with a line of script that records its width.
	resp, err := http.Get(base + "/?refresh=0")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Headless Chromium will not make a window that narrow, so the page is
	// laid out in a 390 px iframe and reports its width to the host page.
	probe := strings.Replace(string(page), "</body>", `<script>var w=[];document.querySelectorAll("body *").forEach(function(e){var r=e.getBoundingClientRect();if(r.right>document.documentElement.clientWidth+1)w.push(e.tagName+"."+e.className+":"+Math.round(r.right))});`+
		`parent.document.body.setAttribute("data-width", document.documentElement.scrollWidth+" "+document.documentElement.clientWidth+" "+w.slice(0,8).join(" "))</script></body>`, 1)
	os.WriteFile(filepath.Join(dir, "page.html"), []byte(probe), 0o600)
	host := filepath.Join(dir, "phone.html")
	os.WriteFile(host, []byte(`<!doctype html><html><body style="margin:0"><iframe src="page.html" style="border:0;width:390px;height:844px"></iframe></body></html>`), 0o600)
	out, err = exec.Command(chromium, append(args, "--allow-file-access-from-files", "--window-size=1024,900", "--virtual-time-budget=3000", "--dump-dom", "file://"+host)...).Output()
	if err != nil {
		t.Fatalf("chromium at 390 px: %v", err)
	}
	m := regexp.MustCompile(`data-width="(\d+) (\d+) ?([^"]*)"`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no width recorded: %s", out)
	}
	// clientWidth is 390 less a vertical scrollbar, if any.
	if sw, cw := atoi(m[1]), atoi(m[2]); sw > cw || cw < 370 {
		t.Errorf("at 390 px the page is %d px wide in a %d px viewport: it scrolls sideways (%s)", sw, cw, m[3])
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

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}
