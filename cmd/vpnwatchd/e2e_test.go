package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// seedRouterConfig is the AWS sample for RTX as in the seed incident:
// `ip tunnel tcp mss limit 1379`, default tunnel MTU.
var seedRouterConfig = rtxsim.SampleConfig{WAN: "198.18.0.2", OutsideIPs: []string{"203.0.113.10", "203.0.113.20"}, MSS: "1379", IPsecSALifetime: 3600, DPD: true}.Text()

// seedSetup starts ec2sim and rtxsim in the seed incident's first stage
// (AWS DOWN / IPSEC IS UP, RTX up with BGP Active) and writes a config.
func seedSetup(t *testing.T) string {
	t.Helper()
	cfg, _ := seedSetupSim(t, "")
	return cfg
}

// seedSetupSim is seedSetup with the simulator, whose tunnels log to
// logGroup when it is not "".
func seedSetupSim(t *testing.T, logGroup string) (string, *ec2sim.Sim) {
	t.Helper()
	sim, url := ec2sim.Start(t, nil)
	sim.Update("ap-northeast-1", func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.18.0.2", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: "vpn-0a1b2c3d4e5f67890", CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
			Tags: map[string]string{"Name": "osaka-office"},
			Tunnels: []*ec2sim.Tunnel{
				{OutsideIP: "203.0.113.10", InsideCIDR: "169.254.10.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP", Phase2LifetimeSeconds: 3600, LogGroup: logGroup, BGPLogGroup: logGroup},
				{OutsideIP: "203.0.113.20", InsideCIDR: "169.254.20.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP", Phase2LifetimeSeconds: 3600, LogGroup: logGroup, BGPLogGroup: logGroup},
			}}}
	})
	router := rtxsim.New("RTX1200 Rev.10.01.65", seedRouterConfig, nil)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512"})
	router.AddTunnel(rtxsim.Tunnel{Number: 2, Remote: "203.0.113.20", Neighbor: "169.254.20.1", RemoteAS: "64512"})
	router.StickBGP(1, "Active")
	router.StickBGP(2, "Active")
	srv, kh := rtxsim.Start(t, router, "monitor", "rtx-pass")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rtx.password"), []byte("rtx-pass\n"), 0o600)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	body := fmt.Sprintf(`global:
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
`, dir, url, srv.Addr(), kh)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, sim
}

type jsonReport struct {
	Findings []struct {
		Rule        string         `json:"rule"`
		Severity    string         `json:"severity"`
		Subject     map[string]any `json:"subject"`
		Summary     string         `json:"summary"`
		Evidence    map[string]any `json:"evidence"`
		Remediation string         `json:"remediation"`
	} `json:"findings"`
	Unchecked []string `json:"unchecked"`
}

func decode(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return r
}

func ruleCounts(r jsonReport) map[string]int {
	m := map[string]int{}
	for _, f := range r.Findings {
		m[f.Rule]++
	}
	return m
}

func TestCheckCollectDiagnoseSeedIncident(t *testing.T) {
	cfg := seedSetup(t)

	code, out, errOut := runMain("check", "--config.file", cfg, "--format", "json")
	if code != checkCritical {
		t.Fatalf("check exit %d, want 2 (critical)\n%s\n%s", code, out, errOut)
	}
	checked := decode(t, out)
	got := ruleCounts(checked)
	if got["BGPDownIPsecUp"] != 2 || got["MSSExceedsTunnelMTU"] != 2 || got["ConnectionDown"] != 1 || got["SideMismatch"] != 2 {
		t.Errorf("check findings: %v", got)
	}
	for _, f := range checked.Findings {
		if f.Rule == "MSSExceedsTunnelMTU" && !strings.Contains(f.Remediation, "ip tunnel tcp mss limit 1240") {
			t.Errorf("fix: %s", f.Remediation)
		}
		if f.Rule == "BGPDownIPsecUp" && (f.Evidence["aws"] == nil || f.Evidence["rtx"] == nil) {
			t.Errorf("evidence of one side only: %v", f.Evidence)
		}
	}

	code, text, _ := runMain("check", "--config.file", cfg)
	if code != checkCritical || !strings.Contains(text, "CRITICAL BGPDownIPsecUp") || !strings.Contains(text, `AWS: DOWN "IPSEC IS UP"`) || !strings.Contains(text, "Fix: ") {
		t.Errorf("text report:\n%s", text)
	}

	// An empty directory is a good --out, as a new one is.
	bundleDir := t.TempDir()
	code, out, errOut = runMain("collect", "--config.file", cfg, "--out", bundleDir)
	if code != 0 {
		t.Fatalf("collect: %d %s %s", code, out, errOut)
	}
	for _, f := range []string{"meta.json", "aws/prod/ap-northeast-1/describe-vpn-connections.xml", "aws/prod/ap-northeast-1/describe-customer-gateways.xml",
		"rtx/osaka-rtx1200/show_config.txt", "rtx/osaka-rtx1200/show_ipsec_sa.txt", "rtx/osaka-rtx1200/show_status_tunnel_1.txt",
		"rtx/osaka-rtx1200/show_status_tunnel_2.txt", "rtx/osaka-rtx1200/show_status_bgp_neighbor.txt", "rtx/osaka-rtx1200/show_ip_route.txt"} {
		if _, err := os.Stat(filepath.Join(bundleDir, f)); err != nil {
			t.Errorf("bundle lacks %s", f)
		}
	}
	showConfig, _ := os.ReadFile(filepath.Join(bundleDir, "rtx/osaka-rtx1200/show_config.txt"))
	if strings.Contains(string(showConfig), rtxsim.SamplePSK(1)) || !strings.Contains(string(showConfig), "pre-shared-key 1 <redacted>") {
		t.Errorf("show_config.txt not redacted:\n%s", showConfig)
	}
	// The simulator sends the customer gateway configuration with its
	// pre-shared keys, as AWS does; the bundle keeps none of it.
	vpnsXML, _ := os.ReadFile(filepath.Join(bundleDir, "aws/prod/ap-northeast-1/describe-vpn-connections.xml"))
	if strings.Contains(string(vpnsXML), "ec2simPSK") || strings.Contains(string(vpnsXML), "pre_shared_key") || !strings.Contains(string(vpnsXML), "<customerGatewayConfiguration>") {
		t.Errorf("describe-vpn-connections.xml: customer gateway configuration not redacted:\n%s", vpnsXML)
	}
	filepath.WalkDir(bundleDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "rtx-pass") || strings.Contains(string(b), ec2sim.Env["AWS_SECRET_ACCESS_KEY"]) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})

	code, out, errOut = runMain("diagnose", "--format", "json", bundleDir)
	if code != 0 {
		t.Fatalf("diagnose: %d %s", code, errOut)
	}
	if diag := ruleCounts(decode(t, out)); fmt.Sprint(diag) != fmt.Sprint(got) {
		t.Errorf("diagnose of the collected bundle: %v, check said %v", diag, got)
	}
}

func TestCheckHealthyAndUnknown(t *testing.T) {
	cfg := seedSetup(t)
	// A router that does not answer: unknown, with the source named.
	body, _ := os.ReadFile(cfg)
	broken := regexp.MustCompile(`address: 127\.0\.0\.1:[0-9]+`).ReplaceAllString(string(body), "address: 127.0.0.1:1")
	os.WriteFile(cfg, []byte(broken), 0o600)
	code, out, _ := runMain("check", "--config.file", cfg, "--format", "json")
	r := decode(t, out)
	if code != checkCritical && code != checkUnknown {
		t.Errorf("exit %d", code)
	}
	if ruleCounts(r)["SourceStale"] != 1 || len(r.Unchecked) == 0 {
		t.Errorf("a failed router must be reported and listed unchecked: %+v", r)
	}
	if code, _, errOut := runMain("check", "--config.file", "/nonexistent.yaml"); code != checkUnknown || !strings.Contains(errOut, "nonexistent.yaml") {
		t.Errorf("missing config: %d %s", code, errOut)
	}
}

func TestDiagnoseHandMadeBundle(t *testing.T) {
	code, out, errOut := runMain("diagnose", "../../internal/bundle/testdata/handmade")
	if code != 0 || !strings.Contains(out, "BGPDownIPsecUp") || !strings.Contains(out, "Not checked:") {
		t.Errorf("diagnose: %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runMain("diagnose", "../../internal/bundle/testdata/bad")
	if code != 1 || !strings.Contains(errOut, "show_ipsec_sa.txt:6: dir must be send, recv or -") {
		t.Errorf("bad bundle: %d %s", code, errOut)
	}
}

// faultyRouterConfig starts a simulated router with one tunnel, lets fault
// spoil it, and writes a configuration that watches it with timeout.
func faultyRouterConfig(t *testing.T, timeout string, fault func(*rtxsim.Router, *rtxsim.Server)) string {
	t.Helper()
	router := rtxsim.New("RTX1200 Rev.10.01.65", seedRouterConfig, nil)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512"})
	srv, kh := rtxsim.Start(t, router, "monitor", "rtx-pass")
	fault(router, srv)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rtx.password"), []byte("rtx-pass\n"), 0o600)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  state_dir: %s/state\nrouters:\n  - name: osaka-rtx1200\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n    timeout: %s\n",
		dir, srv.Addr(), kh, timeout)), 0o600)
	return cfg
}

// check says what it is still waiting for when a source is slow: a router
// that takes commands and never answers holds it up to the router's
// timeout, and the operator sees why.
func TestCheckSaysWhatItWaitsFor(t *testing.T) {
	cfg := faultyRouterConfig(t, "4s", func(r *rtxsim.Router, _ *rtxsim.Server) { r.Hang() })
	code, out, errOut := runMain("check", "--config.file", cfg)
	if code != checkUnknown || !strings.Contains(errOut, "still waiting for rtx osaka-rtx1200 (") {
		t.Errorf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if n := strings.Count(out, "no answer") + strings.Count(out, "deadline"); n > 1 {
		t.Errorf("the error is printed %d times:\n%s", n, out)
	}
}

// check on a router that takes the SSH login and never answers the session
// channel returns within the router's timeout, unknown, naming the step.
func TestCheckStalledRouter(t *testing.T) {
	cfg := faultyRouterConfig(t, "2s", func(_ *rtxsim.Router, s *rtxsim.Server) { s.SetStall(rtxsim.StallChannelOpen) })
	code, out, errOut := runMain("check", "--config.file", cfg)
	if code != checkUnknown || !strings.Contains(out+errOut, "ssh session: no answer within 2s") {
		t.Errorf("exit %d, stderr %q\n%s", code, errOut, out)
	}
}

// AWS's own log lines reach the findings of check, go into the bundle as
// AWS sent them, and diagnose of the bundle quotes them the same.
func TestCollectKeepsAWSLogs(t *testing.T) {
	group := "arn:aws:logs:ap-northeast-1:111122223333:log-group:/aws/vpn/osaka:*"
	cfg, sim := seedSetupSim(t, group)
	line := "AWS-side peer BGP session state has changed from Connect to Active with neighbor 169.254.10.2"
	if err := sim.LogBGPStatus("ap-northeast-1", "vpn-0a1b2c3d4e5f67890", "203.0.113.10", time.Now().Add(-time.Minute), "DOWN", line); err != nil {
		t.Fatal(err)
	}
	quoted := func(r jsonReport) bool {
		for _, f := range r.Findings {
			if f.Rule == "BGPDownIPsecUp" && f.Subject["outside_ip"] == "203.0.113.10" && strings.Contains(f.Summary, line) {
				return true
			}
		}
		return false
	}
	code, out, errOut := runMain("check", "--config.file", cfg, "--format", "json")
	checked := decode(t, out)
	if code != checkCritical || !quoted(checked) {
		t.Fatalf("check does not quote AWS's log: %d %s %s", code, out, errOut)
	}
	if n := ruleCounts(checked)["TunnelLogsDisabled"]; n != 0 {
		t.Errorf("TunnelLogsDisabled with logging on: %d", n)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if code, out, errOut := runMain("collect", "--config.file", cfg, "--out", dir); code != 0 {
		t.Fatalf("collect: %d %s %s", code, out, errOut)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "aws/prod/ap-northeast-1/logs/aws_vpn_osaka.json"))
	if err != nil || !strings.Contains(string(raw), `"logStreamName": "vpn-0a1b2c3d4e5f67890_203.0.113.10-BGP.log"`) || !strings.Contains(string(raw), "from Connect to Active") {
		t.Fatalf("bundle log file: %v\n%s", err, raw)
	}
	code, text, _ := runMain("diagnose", dir)
	if code != 0 || !strings.Contains(text, "Timeline of tunnel 203.0.113.10 (RTX osaka-rtx1200 tunnel 1):") ||
		!regexp.MustCompile(`aws +BGP log: `+regexp.QuoteMeta(line)).MatchString(text) || !strings.Contains(text, "vpnwatchd CRITICAL BGPDownIPsecUp firing") {
		t.Errorf("diagnose text has no timeline of both sides:\n%s", text)
	}
	code, out, errOut = runMain("diagnose", "--format", "json", dir)
	if code != 0 || !quoted(decode(t, out)) || fmt.Sprint(ruleCounts(decode(t, out))) != fmt.Sprint(ruleCounts(checked)) {
		t.Errorf("diagnose: %d %v (check: %v) %s", code, ruleCounts(decode(t, out)), ruleCounts(checked), errOut)
	}
}
