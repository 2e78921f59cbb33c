package demo

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

// TestSeedScenario runs the README's first command end to end: the real
// daemon against ec2sim and rtxsim, the seed incident in about 72 s.
func TestSeedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("the seed scenario takes about 72 s")
	}
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Scenario: "seed", Out: &out}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	summary := text[strings.Index(text, "=== Summary"):]
	for _, want := range []string{"MSSExceedsTunnelMTU", "CustomerGatewayAddressMismatch", "BGPDownIPsecUp", "SARekeyFailed", "ConnectionDown"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %s:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`FIRING CRITICAL SARekeyFailed[^\n]*\n[^\n]*AWS logged at \S+ "AWS tunnel is sending request \(id=\d+\) for CREATE_CHILD_SA" and no answer followed, then at \S+ "AWS tunnel DPD timed out`).MatchString(text) {
		t.Errorf("SARekeyFailed does not quote AWS's side of the failed rekey:\n%s", text)
	}
	if !strings.Contains(text, "ip tunnel tcp mss limit 1240") || !strings.Contains(text, "/metrics") {
		t.Errorf("no fix or metrics URL:\n%s", text)
	}
	// The summary gives only fixes vpnwatchd itself produced: every RTX
	// command it shows in backquotes appears in a finding's remediation.
	fixes := summary[strings.Index(summary, "The fixes vpnwatchd gave"):]
	if strings.Contains(summary, "ip lan2 mtu 1480") && !strings.Contains(fixes, "ip lan2 mtu 1480") {
		t.Errorf("the summary shows a WAN fix no finding gave:\n%s", summary)
	}
	// One incident, one story: the operator's phone gets a message per
	// stage, not one per finding and tunnel, each led by the root cause
	// known then; the rekey failure is told as the MSS problem's.
	var n int
	if i := strings.Index(text, "The operator's phone got "); i < 0 {
		t.Fatalf("no notification count:\n%s", text)
	} else {
		fmt.Sscanf(text[i:], "The operator's phone got %d", &n)
	}
	if n < 4 || n > 6 {
		t.Errorf("%d notifications for the seed incident, want 4 to 6 (one per stage):\n%s", n, text)
	}
	lines := regexp.MustCompile(`NOTIFICATION #\d+ to the operator's phone: (.*)`).FindAllStringSubmatch(text, -1)
	if len(lines) != n {
		t.Fatalf("%d notification lines, %d counted", len(lines), n)
	}
	if !strings.Contains(lines[0][1], "MSSExceedsTunnelMTU") || !strings.Contains(lines[n-1][1], "[FIRING critical]") || !strings.Contains(lines[n-1][1], ": MSSExceedsTunnelMTU (+") {
		t.Errorf("first or last message does not lead with the MSS problem: %q … %q", lines[0][1], lines[n-1][1])
	}
	if !slices.ContainsFunc(lines, func(l []string) bool { return strings.Contains(l[1], "CustomerGatewayAddressMismatch") }) ||
		!slices.ContainsFunc(lines, func(l []string) bool { return strings.Contains(l[1], "BGPDownIPsecUp") }) {
		t.Errorf("the relocation and BGP stages are not told: %q", lines)
	}
	// The stages in order: the mismatch before BGP, BGP before the rekey failure.
	cgw, bgp, rekey := strings.Index(text, "FIRING CRITICAL CustomerGatewayAddressMismatch"), strings.Index(text, "FIRING CRITICAL BGPDownIPsecUp"), strings.Index(text, "FIRING CRITICAL SARekeyFailed")
	if !(cgw >= 0 && cgw < bgp && bgp < rekey) {
		t.Errorf("stages out of order (%d, %d, %d):\n%s", cgw, bgp, rekey, text)
	}
}

// AWS's own log lines name causes the RTX cannot see, quoted in the
// findings: the seed's rekey failure from AWS's side is checked above; here
// a pre-shared key typo and the prefix limit warning.
func TestAWSLogsScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("the aws-logs scenario takes about 25 s")
	}
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Scenario: "aws-logs", Out: &out}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"FIRING CRITICAL IKEPreSharedKeyMismatch", "pre-shared key mismatch with cgw: " + newWANIP, "`ipsec ike pre-shared-key 1 text KEY`",
		"FIRING WARNING BGPPrefixLimit", "(95 routes, limit 100)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestUnknownScenario(t *testing.T) {
	err := Run(context.Background(), Options{Scenario: "nope"})
	if err == nil || !strings.Contains(err.Error(), "seed") {
		t.Errorf("unknown scenario: %v", err)
	}
}

// The strongswan scenario runs real charon and FRR daemons where it can
// (root, the packages); elsewhere it says why and what runs instead.
func TestStrongSwanScenario(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := Run(context.Background(), Options{Scenario: "strongswan", Out: &out})
	if why := swanlab.Usable(); why != "" {
		if err == nil || !strings.Contains(err.Error(), "needs root") || !strings.Contains(err.Error(), why) {
			t.Errorf("without the lab (%s): %v", why, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	summary := text[strings.Index(text, "=== Summary"):]
	for _, want := range []string{"BGPDownIPsecUp", "SARekeyFailed", "strongSwan tokyo-swan connection aws-1"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(summary, "SALifetimeMismatch") {
		t.Errorf("AWS's lifetimes are the office's, yet:\n%s", summary)
	}
	for _, want := range []string{"FRR has `neighbor 198.18.100.1 remote-as 64512`", "swanctl --initiate --child aws-1"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
