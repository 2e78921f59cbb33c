package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

// The README's commands against a real strongSwan gateway with FRR (two
// charons and two FRRs in namespaces), AWS's side in the EC2 simulator
// mirrored from the stand-in's real IPsec and BGP state: `run` exports the
// gateway's series and polls it when charon reports a change; `check`
// says healthy, then BGPDownIPsecUp in FRR's words once a firewall drops
// BGP; `collect` keeps strongSwan's answers and `diagnose` finds the same
// in the bundle.
func TestStrongSwanEndToEnd(t *testing.T) {
	lab := swanlab.Start(t, swanlab.Options{FRR: true}) // skips where it cannot run
	sim, url := ec2sim.Start(t, nil)
	const region, vpnID = "ap-northeast-1", "vpn-0a1b2c3d4e5f60009"
	sim.Update(region, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0a1b2c3d4e5f60009", IP: swanlab.CustomerIP, BGPASN: swanlab.CustomerAS}}
		v := &ec2sim.VPNConnection{ID: vpnID, CustomerGatewayID: "cgw-0a1b2c3d4e5f60009", VPNGatewayID: "vgw-0a1b2c3d4e5f60009"}
		for n, ip := range []string{swanlab.AWSIP1, swanlab.AWSIP2} {
			cidr, _, _ := swanlab.Inside(n + 1)
			v.Tunnels = append(v.Tunnels, &ec2sim.Tunnel{OutsideIP: ip, InsideCIDR: cidr, Status: "DOWN", StatusMessage: "IPSEC IS DOWN",
				Phase1LifetimeSeconds: 60, Phase2LifetimeSeconds: 40})
		}
		r.VPNConnections = []*ec2sim.VPNConnection{v}
	})
	var mu sync.Mutex
	said := map[int]string{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lab.MirrorAWS(ctx, func(n int, status, msg string, routes int) {
		sim.SetTunnel(region, vpnID, []string{swanlab.AWSIP1, swanlab.AWSIP2}[n-1], status, msg, routes)
		mu.Lock()
		said[n] = status + " / " + msg
		mu.Unlock()
	})
	awsSays := func(want string) bool {
		mu.Lock()
		defer mu.Unlock()
		return said[1] == want && said[2] == want
	}
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(within); !ok(); time.Sleep(time.Second) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %s", what, within)
			}
		}
	}
	waitFor("AWS says UP with BGP", 90*time.Second, func() bool { return awsSays("UP / 1 BGP ROUTES") })

	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  poll_interval: 10m
  state_dir: %s/state
aws:
  - name: prod
    regions: [%s]
    endpoint: %s
    logs: false # the simulated tunnels send no logs
strongswan:
  - name: lab
    vici: %s
    netns: %s
    frr: true
    vty_socket: %s
`, dir, region, url, lab.Socket("c"), lab.NSC, lab.VtySocket("c")))

	// run: the gateway's series, and a poll at each charon event although
	// the poll interval is 10 minutes (child SAs rekey every ~30 s).
	cmd := vpnwatchd("run", "--config.file", cfg, "--web.listen-address", "127.0.0.1:0", "--log.format", "json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRE := regexp.MustCompile(`"listen":\["(127\.0\.0\.1:[0-9]+)"\]`)
	sc := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	go io.Copy(io.Discard, stderr)
	scrape := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	lastPoll := regexp.MustCompile(`vpnwatch_source_last_success_timestamp_seconds\{region="",router="lab",source="",type="strongswan"\} (\S+)`)
	var first string
	waitFor("the gateway's series", 30*time.Second, func() bool {
		m := scrape()
		if p := lastPoll.FindStringSubmatch(m); p != nil && strings.Contains(m, `vpnwatch_gateway_tunnel_up{kind="strongswan",outside_ip="198.18.1.2",router="lab",tunnel="aws-1"} 1`) &&
			strings.Contains(m, `vpnwatch_gateway_bgp_neighbor_up{kind="strongswan",neighbor="198.18.100.1",remote_as="64512",router="lab"} 1`) {
			first = p[1]
			return true
		}
		return false
	})
	waitFor("a poll triggered by a charon event", 60*time.Second, func() bool {
		p := lastPoll.FindStringSubmatch(scrape())
		return p != nil && p[1] != first
	})

	code, out, errOut := runMainEnv(t, "check", "--config.file", cfg, "--format", "json")
	if code != checkOK || len(decode(t, out).Findings) != 0 {
		t.Fatalf("healthy: check exit %d\n%s\n%s", code, out, errOut)
	}

	lab.DropBGP()
	waitFor("AWS says DOWN / IPSEC IS UP", 60*time.Second, func() bool { return awsSays("DOWN / IPSEC IS UP") })
	var got map[string]int
	waitFor("check reports BGPDownIPsecUp with FRR's state", 60*time.Second, func() bool {
		code, out, _ = runMainEnv(t, "check", "--config.file", cfg, "--format", "json")
		got = ruleCounts(decode(t, out))
		return code == checkCritical && got["BGPDownIPsecUp"] == 2 && !strings.Contains(out, "BGP Established")
	})
	for _, f := range decode(t, out).Findings {
		if f.Rule == "BGPDownIPsecUp" && (f.Subject["gateway_kind"] != "strongswan" || !strings.Contains(f.Remediation, "vtysh")) {
			t.Errorf("finding: %+v", f)
		}
	}
	code, text, _ := runMainEnv(t, "check", "--config.file", cfg)
	if code != checkCritical || !strings.Contains(text, "CRITICAL BGPDownIPsecUp") || !strings.Contains(text, "strongSwan lab connection aws-1") {
		t.Errorf("text report:\n%s", text)
	}

	bundleDir := filepath.Join(dir, "bundle")
	if code, out, errOut := runMainEnv(t, "collect", "--config.file", cfg, "--out", bundleDir); code != 0 || !strings.Contains(out, "1 strongSwan gateways") {
		t.Fatalf("collect: %d %s %s", code, out, errOut)
	}
	for _, f := range []string{"list-conns.json", "list-sas.json", "ip-addr.json", "nft-ruleset.json", "bgp-summary.json", "events.json"} {
		if _, err := os.Stat(filepath.Join(bundleDir, "strongswan", "lab", f)); err != nil {
			t.Errorf("bundle lacks strongswan/lab/%s", f)
		}
	}
	code, out, errOut = runMain("diagnose", "--format", "json", bundleDir)
	if diag := ruleCounts(decode(t, out)); code != 0 || diag["BGPDownIPsecUp"] != 2 {
		t.Errorf("diagnose of the collected bundle: %d %v (check said %v)\n%s", code, diag, got, errOut)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A gateway that cannot be read is unknown, never healthy or down: check
// says so with the reason and the fix in strongSwan's terms (no root
// needed: the socket is simply not there).
func TestStrongSwanGatewayUnreadable(t *testing.T) {
	_, url := ec2sim.Start(t, nil)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  state_dir: %s/state
aws:
  - name: prod
    regions: [ap-northeast-1]
    endpoint: %s
    logs: false
strongswan:
  - name: lab
    vici: %s/charon.vici
`, dir, url, dir))
	code, out, errOut := runMain("check", "--config.file", cfg, "--format", "json")
	r := decode(t, out)
	if code != checkUnknown {
		t.Errorf("exit %d, want %d (unknown)\n%s\n%s", code, checkUnknown, out, errOut)
	}
	want := "strongswan lab: not checked: strongswan lab: open vici socket: dial unix " + dir + "/charon.vici: connect: no such file or directory"
	if len(r.Unchecked) != 1 || r.Unchecked[0] != want {
		t.Errorf("unchecked = %q, want %q", r.Unchecked, want)
	}
	stale := false
	for _, f := range r.Findings {
		if f.Rule == "SourceStale" && f.Subject["router"] == "lab" {
			stale = strings.Contains(f.Remediation, "vici socket") && strings.Contains(f.Remediation, "swanctl")
		}
	}
	if !stale {
		t.Errorf("no SourceStale for the gateway with strongSwan's fix:\n%s", out)
	}
}
