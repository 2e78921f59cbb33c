package alert

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// The rendered messages of the seed incident's first finding, firing and
// resolved, as people receive them.
func TestRenderGolden(t *testing.T) {
	firing := Alert{Fingerprint: "fp", Status: StatusFiring, Finding: seedFinding(), StartsAt: t0}
	resolved := firing
	resolved.Status, resolved.EndsAt = StatusResolved, t0.Add(90*time.Minute)
	golden(t, "firing.txt", []byte(Text(firing)))
	golden(t, "resolved.txt", []byte(Text(resolved)))
	golden(t, "firing.html", []byte(HTML(firing)))
	slack, _ := json.MarshalIndent(SlackPayload("#network", []Alert{firing}), "", "  ")
	golden(t, "slack.json", slack)
	am := AlertmanagerLabels(firing)
	if am["alertname"] != "BGPDownIPsecUp" || am["rtx_tunnel"] != "1" || am["severity"] != "critical" {
		t.Errorf("alertmanager labels: %v", am)
	}
}

// Two connections of one strongSwan gateway are two alerts in
// Alertmanager, and maintenance windows can match one of them.
func TestGatewayTunnelLabels(t *testing.T) {
	a := Alert{Status: StatusFiring, Finding: correlate.Finding{Rule: "TunnelNotJoined", Severity: "warning",
		Subject: correlate.Subject{Router: "tokyo-swan", GatewayKind: "strongswan", Tunnel: "aws-1"}}}
	b := a
	b.Finding.Subject.Tunnel = "aws-2"
	la, lb := AlertmanagerLabels(a), AlertmanagerLabels(b)
	if la["tunnel"] != "aws-1" || la["gateway_kind"] != "strongswan" || lb["tunnel"] != "aws-2" {
		t.Errorf("labels: %v, %v", la, lb)
	}
	if _, ok := AlertmanagerLabels(Alert{Finding: seedFinding()})["tunnel"]; ok {
		t.Error("an RTX finding has a tunnel label")
	}
	a.Finding.Evidence.RTX = &correlate.RTXEvidence{Kind: "strongSwan", TunnelState: "ESTABLISHED/INSTALLED"}
	if txt := Text(a); !strings.Contains(txt, "strongSwan side:") || strings.Contains(txt, "RTX side") {
		t.Errorf("text names the wrong side:\n%s", txt)
	}
	if !strings.Contains(HTML(a), ">strongSwan side</th>") {
		t.Errorf("HTML names the wrong side:\n%s", HTML(a))
	}
	w := []Window{{Name: "swan work", Start: t0, End: t0.Add(time.Hour), Matchers: map[string]string{"router": "tokyo-swan", "tunnel": "aws-2"}}}
	if _, ok := silenced(w, a, t0.Add(time.Minute)); ok {
		t.Error("aws-1 silenced by a window for aws-2")
	}
	if _, ok := silenced(w, b, t0.Add(time.Minute)); !ok {
		t.Error("aws-2 not silenced")
	}
}
