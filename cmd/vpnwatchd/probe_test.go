package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// `vpnwatchd probe mtu` from a client namespace through a router whose link
// to the server has MTU 1280 — the seed's tunnel: DF payload 1252 passes,
// 1253 does not.
func TestProbeMTUCommand(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1280, Unpriv: true})
	var code int
	var out, errOut string
	testenv.InNetns(t, tp.Client, func() {
		code, out, errOut = runMain("probe", "mtu", "--timeout", "300ms", "--tunnel", "1", "--mss-limit", "1379", testenv.ServerV4)
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"payload 1472 (packet 1500)  too big  (ICMP: next-hop MTU 1280)", "path MTU 1280 = largest DF payload 1252 + 28",
		"tunnel select 1; ip tunnel tcp mss limit 1240", "1280 − 40 (IPv4 20 + TCP 20) = 1240"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	testenv.InNetns(t, tp.Client, func() {
		code, out, _ = runMain("probe", "mtu", "--format", "json", "--path", "wan", "--timeout", "300ms", testenv.ServerV4)
	})
	var js struct {
		Result struct {
			PathMTU int `json:"path_mtu"`
		} `json:"result"`
		Recommendation []struct {
			Command string `json:"command"`
		} `json:"recommendation"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || js.Result.PathMTU != 1280 || len(js.Recommendation) == 0 || js.Recommendation[0].Command != "ip tunnel mtu 1207" {
		t.Errorf("json: %v %+v\n%s", err, js, out)
	}
	testenv.InNetns(t, tp.Client, func() {
		code, _, errOut = runMain("probe", "mtu", "--timeout", "200ms", "--retries", "0", "198.18.2.99")
	})
	if code != 1 || !strings.Contains(errOut, "no echo reply") {
		t.Errorf("unreachable: %d %s", code, errOut)
	}
}

// Flags after the target, unknown ESP algorithms refused before anything is
// printed or sent.
func TestProbeMTUCommandLine(t *testing.T) {
	code, out, errOut := runMain("probe", "mtu", "198.18.0.1", "--esp-encryption", "3des")
	if code != exitUsage || out != "" || !strings.Contains(errOut, `--esp-encryption "3des": one of des-cbc, 3des-cbc`) {
		t.Errorf("unknown ESP encryption: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runMain("probe", "mtu", "198.18.0.1", "--esp-auth", "sha1")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "--esp-auth") {
		t.Errorf("unknown ESP auth: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runMain("probe", "mtu", "198.18.0.1", "--path", "lan")
	if code != exitUsage || out != "" || !strings.Contains(errOut, `--path "lan"`) {
		t.Errorf("bad path after the target: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runMain("probe", "mtu", "198.18.0.1", "198.18.0.2")
	if code != exitUsage || !strings.Contains(errOut, "unexpected 198.18.0.2") {
		t.Errorf("two targets: %d %q", code, errOut)
	}
	_, help, _ := runMain("probe", "mtu", "--help")
	if !strings.Contains(help, "--tunnel-mtu=BYTES") || !strings.Contains(help, "--mss-limit=BYTES|auto") {
		t.Errorf("help placeholders:\n%s", help)
	}
}
