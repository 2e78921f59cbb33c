package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

func evaluate(t *testing.T, b Bundle) ([]correlate.Finding, []string) {
	t.Helper()
	obs, unchecked, err := b.Observations(context.Background(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	new(SAHistory).Apply(&obs)
	e := correlate.NewEvaluator(nil)
	e.NoHolds = true
	_, r := e.Evaluate(correlate.State{}, obs, b.Meta.TakenAt)
	return r.Findings, append(unchecked, r.Unchecked...)
}

func rules(fs []correlate.Finding) map[string]int {
	out := map[string]int{}
	for _, f := range fs {
		out[f.Rule]++
	}
	return out
}

// A bundle made by hand from the public samples: the AWS CLI's raw
// DescribeVpnConnections answer and RTX console output.
func TestHandMadeBundleFromSamples(t *testing.T) {
	b, err := Read("testdata/handmade")
	if err != nil {
		t.Fatal(err)
	}
	if b.Meta.TakenAt.IsZero() {
		t.Error("no time for a bundle without meta.json")
	}
	fs, unchecked := evaluate(t, b)
	got := rules(fs)
	// AWS: tunnel 203.0.113.10 DOWN "IPSEC IS UP"; RTX: the AWS sample
	// config (mss 1387 on the default MTU) pointing at other outside IPs.
	if got["BGPDownIPsecUp"] != 1 || got["MSSExceedsTunnelMTU"] != 2 || got["TunnelNotJoined"] == 0 {
		t.Errorf("findings: %v", got)
	}
	joined := strings.Join(unchecked, "\n")
	for _, want := range []string{"no show_ip_route.txt", "no show_status_tunnel_2.txt"} {
		if !strings.Contains(joined, want) {
			t.Errorf("unchecked lacks %q:\n%s", want, joined)
		}
	}
}

func TestBadFileNamesFileAndLine(t *testing.T) {
	b, err := Read("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Observations(context.Background(), time.UTC)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("testdata", "bad", "rtx", "office", "show_ipsec_sa.txt")+":6: dir must be send, recv or -") {
		t.Errorf("error: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	if _, err := Read("testdata/nonexistent"); err == nil {
		t.Error("missing directory accepted")
	}
	empty := t.TempDir()
	if _, err := Read(empty); err == nil || !strings.Contains(err.Error(), "no aws/SOURCE/REGION/*.xml, rtx/ROUTER/*.txt or strongswan/GATEWAY/*.json files") {
		t.Errorf("empty bundle: %v", err)
	}
	os.WriteFile(filepath.Join(empty, "meta.json"), []byte("{bad"), 0o600)
	if _, err := Read(empty); err == nil || !strings.Contains(err.Error(), "meta.json") {
		t.Errorf("bad meta.json: %v", err)
	}
}

func TestWriteRedactsAndRoundTrips(t *testing.T) {
	src, err := Read("testdata/handmade")
	if err != nil {
		t.Fatal(err)
	}
	src.Meta = Meta{TakenAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), Version: "test"}
	dir := filepath.Join(t.TempDir(), "b")
	if err := Write(dir, src); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "rtx", "office", "show_config.txt"))
	xml, _ := os.ReadFile(filepath.Join(dir, "aws", "prod", "ap-northeast-1", "describe-vpn-connections.xml"))
	for _, secret := range []string{"plain-text-password1", "plain-text-password2"} {
		if strings.Contains(string(cfg), secret) {
			t.Errorf("show_config.txt keeps %s", secret)
		}
	}
	if strings.Contains(string(xml), "EXAMPLEpsk_tunnel1") || !strings.Contains(string(xml), "<preSharedKey>&lt;redacted&gt;</preSharedKey>") {
		t.Error("describe-vpn-connections.xml keeps a pre-shared key")
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Meta.TakenAt.Equal(src.Meta.TakenAt) || back.RTX["office"][rtx.CmdIPsecSA] != src.RTX["office"][rtx.CmdIPsecSA] {
		t.Errorf("round trip: %+v", back.Meta)
	}
	a, _ := evaluate(t, src)
	b, _ := evaluate(t, back)
	if len(a) != len(b) {
		t.Errorf("findings before %d, after the round trip %d", len(a), len(b))
	}
}

// A strongSwan gateway's answers (a real poll of the lab's charon and FRR)
// go into a bundle and come back as the same snapshot; a file that cannot
// be read is named.
func TestStrongSwanInBundle(t *testing.T) {
	outs := strongswan.Outputs{}
	files, _ := filepath.Glob("../strongswan/testdata/lab/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		outs[filepath.Base(f)] = b
	}
	outs[strongswan.FileRuleset+strongswan.ErrorSuffix] = []byte("nft -j list ruleset: exit status 1: Operation not permitted")
	delete(outs, strongswan.FileRuleset)
	dir := filepath.Join(t.TempDir(), "b")
	if err := Write(dir, Bundle{Meta: Meta{TakenAt: time.Date(2026, 11, 30, 16, 42, 0, 0, time.UTC)}, StrongSwan: map[string]strongswan.Outputs{"tokyo": outs}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "strongswan", "tokyo", "notes.txt"), []byte("x"), 0o600)
	b, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	obs, unchecked, err := b.Observations(context.Background(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Gateways) != 1 || len(obs.Gateways[0].Tunnels) != 2 || !obs.Gateways[0].Tunnels[0].Up || obs.Gateways[0].Tunnels[0].Settings.MTU != 1400 {
		t.Fatalf("gateways = %+v", obs.Gateways)
	}
	if obs.Expected[0] != config.StrongSwanSource("tokyo") {
		t.Errorf("expected = %v", obs.Expected)
	}
	want := []string{filepath.Join(dir, "strongswan/tokyo/notes.txt") + ": not a support bundle file, ignored",
		filepath.Join(dir, "strongswan/tokyo") + ": MSS clamping not read: nft -j list ruleset: exit status 1: Operation not permitted"}
	if strings.Join(unchecked, "\n") != strings.Join(want, "\n") {
		t.Errorf("unchecked:\n%s\nwant:\n%s", strings.Join(unchecked, "\n"), strings.Join(want, "\n"))
	}
	os.WriteFile(filepath.Join(dir, "strongswan", "tokyo", strongswan.FileSAs), []byte(`[{"aws-1":`), 0o600)
	b, _ = Read(dir)
	if _, _, err := b.Observations(context.Background(), time.UTC); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "strongswan/tokyo")+": list-sas.json: offset") {
		t.Errorf("corrupt list-sas.json: %v", err)
	}
	h := &SAHistory{}
	h.Apply(&obs)
	if obs.Gateways[0].Tunnels[0].SAs[0].FirstSeen.IsZero() {
		t.Error("SA history not applied to the gateway")
	}
}
