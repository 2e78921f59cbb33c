package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// TestNoSecretLeaves plants one secret of every kind — in the router's
// configuration (pre-shared keys as text and hex, passwords, SNMP
// communities and SNMPv3 keys, RADIUS, XAUTH, auth user, DDNS), and in
// vpnwatchd's own configuration (SSH password, AWS secret key, webhook and
// Slack URLs, SMTP password) — runs the real daemon at debug log level
// against the simulators until notifications leave, and greps every output
// surface: logs, /metrics, the status page and API, HTTP error bodies,
// notification bodies, check and diagnose output, and the support bundle.
func TestNoSecretLeaves(t *testing.T) {
	secrets := []string{"rtx-s3cret-ssh-pass", "s3cret-webhook-token", "s3cret-slack-token", "s3cret-smtp-pass", ec2sim.Env["AWS_SECRET_ACCESS_KEY"],
		rtxsim.SamplePSK(1), rtxsim.SamplePSK(2)}
	for _, s := range rtxsim.SecretLines {
		secrets = append(secrets, s)
	}

	sim, url := ec2sim.Start(t, nil)
	sim.Update("ap-northeast-1", func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.18.0.2", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: "vpn-0a1b2c3d4e5f67890", CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
			Tunnels: []*ec2sim.Tunnel{
				{OutsideIP: "203.0.113.10", InsideCIDR: "169.254.10.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
				{OutsideIP: "203.0.113.20", InsideCIDR: "169.254.20.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
			}}}
	})
	var lines []string
	for l := range rtxsim.SecretLines {
		lines = append(lines, l)
	}
	router := rtxsim.New("RTX1200 Rev.10.01.65", seedRouterConfig+strings.Join(lines, "\n")+"\n", nil)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512"})
	router.AddTunnel(rtxsim.Tunnel{Number: 2, Remote: "203.0.113.20", Neighbor: "169.254.20.1", RemoteAS: "64512"})
	router.StickBGP(1, "Active")
	router.StickBGP(2, "Active")
	srv, kh := rtxsim.Start(t, router, "monitor", "rtx-s3cret-ssh-pass")

	var mu sync.Mutex
	var bodies bytes.Buffer
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies.Write(b)
		bodies.WriteString("\n")
		mu.Unlock()
	}))
	defer hook.Close()

	dir := t.TempDir()
	for name, v := range map[string]string{"rtx.password": "rtx-s3cret-ssh-pass", "slack.url": hook.URL + "/slack/s3cret-slack-token", "smtp.password": "s3cret-smtp-pass"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	body := fmt.Sprintf(`global:
  poll_interval: 1s
  state_dir: %s/state
aws:
  - name: prod
    regions: [ap-northeast-1]
    endpoint: %s
routers:
  - name: osaka-rtx1200
    address: %s
    user: monitor
    password_file: rtx.password
    known_hosts: %s
rules:
  BGPDownIPsecUp: {hold: 0s}
alerting:
  group_wait: 0s
  webhook:
    - url: %s/hook/s3cret-webhook-token
  slack:
    - webhook_url_file: slack.url
  email:
    - smarthost: 127.0.0.1:1
      from: vpnwatchd@example.com
      to: [ops@example.com]
      username: mailer
      password_file: smtp.password
`, dir, url, srv.Addr(), kh, hook.URL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := vpnwatchd("run", "--config.file", cfg, "--web.listen-address", "127.0.0.1:0", "--web.enable-lifecycle", "--log.level", "debug", "--log.format", "json")
	for k, v := range ec2sim.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs bytes.Buffer
	var logMu sync.Mutex
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		addrRE := regexp.MustCompile(`"listen":\["(127\.0\.0\.1:[0-9]+)"\]`)
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(20 * time.Second):
		t.Fatal("no listen address logged")
	}
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := bodies.Len()
		mu.Unlock()
		if got > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a few more cycles: e-mail retries, debug lines

	surfaces := map[string]string{}
	fetch := func(name, method, path string) {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		surfaces[name] = string(b)
	}
	fetch("/metrics", "GET", "/metrics")
	fetch("status page", "GET", "/")
	fetch("status API", "GET", "/api/v1/status")
	fetch("404 body", "GET", "/nope")
	// A reload that fails names the problem, not the values.
	os.WriteFile(filepath.Join(dir, "slack.url"), []byte("ftp://s3cret-slack-token@host/\n"), 0o600)
	fetch("reload error", "POST", "/-/reload")
	if !strings.Contains(surfaces["reload error"], "webhook_url_file: the file's content is not an http:// or https:// URL") {
		t.Errorf("reload with a bad Slack URL file: %s", surfaces["reload error"])
	}

	os.WriteFile(filepath.Join(dir, "slack.url"), []byte(hook.URL+"/slack/s3cret-slack-token\n"), 0o600)
	_, surfaces["check text"], surfaces["check stderr"] = runMainEnv(t, "check", "--config.file", cfg)
	_, surfaces["check json"], _ = runMainEnv(t, "check", "--config.file", cfg, "--format", "json")
	bundleDir := filepath.Join(t.TempDir(), "bundle")
	_, surfaces["collect"], surfaces["collect stderr"] = runMainEnv(t, "collect", "--config.file", cfg, "--out", bundleDir)
	_, surfaces["diagnose"], _ = runMainEnv(t, "diagnose", bundleDir)
	filepath.WalkDir(bundleDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			surfaces["bundle "+p[len(bundleDir):]] = string(b)
		}
		return nil
	})
	if _, ok := surfaces["bundle /rtx/osaka-rtx1200/show_config.txt"]; !ok {
		t.Errorf("the bundle has no show_config.txt: %v", surfaces["collect stderr"])
	}
	mu.Lock()
	surfaces["notification bodies"] = bodies.String()
	mu.Unlock()
	cmd.Process.Kill()
	cmd.Wait()
	logMu.Lock()
	surfaces["logs (debug)"] = logs.String()
	logMu.Unlock()
	if !strings.Contains(surfaces["logs (debug)"], `"level":"debug"`) {
		t.Errorf("no debug lines logged")
	}

	for name, text := range surfaces {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("%s leaks %q: …%s…", name, s, text[max(0, i-120):min(len(text), i+len(s)+40)])
			}
		}
	}
}

func runMainEnv(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range ec2sim.Env {
		t.Setenv(k, v)
	}
	return runMain(args...)
}
