package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, Report{}); err != nil {
		t.Fatal(err)
	}
	// Scripts get lists, never null.
	if got := strings.Join(strings.Fields(b.String()), ""); got != `{"findings":[],"unchecked":[]}` {
		t.Errorf("empty report: %s", got)
	}
	b.Reset()
	f := correlate.Finding{Rule: "MSSExceedsTunnelMTU", Severity: "warning", Subject: correlate.Subject{Router: "osaka", RTXTunnel: 1},
		Summary: "mss too big", Remediation: "`ip tunnel tcp mss limit 1240`", Evidence: correlate.Evidence{Detail: map[string]string{"max_mss": "1240"}}}
	JSON(&b, Report{Findings: []correlate.Finding{f}, Unchecked: []string{"rtx osaka: no show_ip_route.txt"}})
	var back struct {
		Findings  []map[string]any `json:"findings"`
		Unchecked []string         `json:"unchecked"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Unchecked) != 1 {
		t.Errorf("unchecked: %v", back.Unchecked)
	}
	got := back.Findings[0]
	for _, k := range []string{"rule", "severity", "subject", "summary", "evidence", "remediation"} {
		if _, ok := got[k]; !ok {
			t.Errorf("finding lacks %q (DESIGN.md's diagnose --format json)", k)
		}
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	Text(&b, Report{})
	if b.String() != "OK: no findings.\n" {
		t.Errorf("%q", b.String())
	}
	b.Reset()
	f := correlate.Finding{Rule: "SARekeyFailed", Severity: "critical", Subject: correlate.Subject{Router: "osaka", RTXTunnel: 2},
		Summary: "the rekey failed", Remediation: "`ipsec refresh sa`",
		Evidence: correlate.Evidence{RTX: &correlate.RTXEvidence{TunnelState: "Offline", SAs: []correlate.SAEvidence{}, MTU: 1280, MSSLimit: "1379", DPD: "off"}}}
	Text(&b, Report{Findings: []correlate.Finding{f}, Unchecked: []string{"aws prod ap-northeast-1: not checked"}})
	for _, want := range []string{"CRITICAL SARekeyFailed — RTX osaka tunnel 2", "RTX: tunnel Offline, no IPsec SA", "Fix: `ipsec refresh sa`", "Not checked:\n  - aws prod", "1 critical, 0 warning, 0 info"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// Names, log lines and errors in a report come from routers, AWS and
// support bundles: an escape sequence in them (OSC 52 writes the reader's
// clipboard) or a newline (a forged line) must not reach the terminal.
func TestTextPrintsUntrustedTextAsOneLine(t *testing.T) {
	const evil = "\x1b]52;c;cm0gLXJmIH4K\x07\nCRITICAL Forged — line\r\x1b[2J"
	f := correlate.Finding{Rule: "TunnelDown", Severity: "warning", Subject: correlate.Subject{Router: "osaka" + evil, RTXTunnel: 1},
		Summary: "summary" + evil, Remediation: "fix" + evil,
		Evidence: correlate.Evidence{Detail: map[string]string{"error": "detail" + evil},
			AWS: &correlate.AWSEvidence{Status: "DOWN", Routing: "bgp" + evil, CustomerGatewayIP: "192.0.2.1" + evil, Log: []string{"log" + evil}},
			RTX: &correlate.RTXEvidence{TunnelState: "Offline" + evil, MSSLimit: "auto" + evil, DPD: "off"}}}
	var b bytes.Buffer
	Text(&b, Report{Findings: []correlate.Finding{f}, Unchecked: []string{"unchecked" + evil},
		Timelines: []correlate.TunnelView{{OutsideIP: "203.0.113.1" + evil, Router: "osaka" + evil, RTXTunnel: 1,
			Timeline: []correlate.TimelineEvent{{Side: "rtx", Text: "event" + evil}}}}})
	for _, c := range b.String() {
		if c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("control character %q in:\n%s", c, b.String())
		}
	}
	if strings.Contains(b.String(), "\nCRITICAL Forged") {
		t.Errorf("a newline in untrusted text starts a line of its own:\n%s", b.String())
	}
}
