package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func sampleStatus() Status {
	f := correlate.Finding{Rule: "MSSExceedsTunnelMTU", Severity: "warning", Since: t0,
		Subject:     correlate.Subject{VPNConnectionID: "vpn-0a1b2c3d4e5f67890", VPNName: "osaka-office", OutsideIP: "203.0.113.10", Router: "osaka-rtx1200", RTXTunnel: 1},
		Summary:     "RTX osaka-rtx1200 tunnel 1: `ip tunnel tcp mss limit 1379` exceeds tunnel MTU 1280 − 40 = 1240",
		Evidence:    correlate.Evidence{RTX: &correlate.RTXEvidence{TunnelState: "Online", SAs: []correlate.SAEvidence{{ID: 3, Direction: "send", RemainingSeconds: 1944}}, MTU: 1280, MSSLimit: "1379"}},
		Remediation: "Type: `tunnel select 1`, `ip tunnel tcp mss limit 1240` (or `ip tunnel tcp mss limit auto`)."}
	flap := correlate.Finding{Rule: "TunnelFlapping", Severity: "warning", Since: t0, Subject: f.Subject,
		Summary: "tunnel 203.0.113.10 changed state 4 times in the last 1h0m0s (aws)", Remediation: "see the MSS finding", ExplainedBy: f.Fingerprint()}
	return Status{GeneratedAt: t0, Version: "(version=test)", Findings: []correlate.Finding{f, flap},
		Tunnels: []correlate.TunnelView{{VPNConnectionID: "vpn-0a1b2c3d4e5f67890", VPNName: "osaka-office", OutsideIP: "203.0.113.10", AWSStatus: "DOWN",
			AWSMessage: "IPSEC IS UP", LastChange: t0, Router: "osaka-rtx1200", RTXTunnel: 1, RTXState: "Online", GatewayUp: true, SASendSecond: 1944, SARecvSecond: 1944,
			BGPState: "Active", MTU: 1280, MSSLimit: "1379", PathMTU: 1280,
			Timeline: []correlate.TimelineEvent{{Time: t0.Add(-2 * time.Minute), Side: "aws", Text: "BGP log: AWS-side peer BGP session state has changed from Connect to Active with neighbor 169.254.10.2"},
				{Time: t0.Add(-time.Minute), Side: "rtx", Text: "polled: tunnel Online"}, {Time: t0, Side: "vpnwatchd", Text: "CRITICAL BGPDownIPsecUp firing"}}}},
		Unjoined: []correlate.TunnelView{{VPNConnectionID: "vpn-0b1b2c3d4e5f67891", OutsideIP: "203.0.113.30", AWSStatus: "UP", SASendSecond: -1, SARecvSecond: -1}},
		Sources:  []Source{{SourceID: config.AWSRegion("prod", "ap-northeast-1"), Up: true, LastSuccess: t0}, {SourceID: config.RouterSource("osaka-rtx1200"), LastError: "connect: connection refused"}},
		Events:   []Event{{Time: t0, Text: "WARNING MSSExceedsTunnelMTU firing: vpn-0a1b2c3d4e5f67890"}}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestPageGolden(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, sampleStatus(), 30); err != nil {
		t.Fatal(err)
	}
	golden(t, "page.html", b.Bytes())
	b.Reset()
	HTML(&b, sampleStatus(), 0)
	if bytes.Contains(b.Bytes(), []byte(`http-equiv="refresh"`)) || !bytes.Contains(b.Bytes(), []byte(`href="/">Auto-refresh`)) {
		t.Error("refresh=0 still refreshes")
	}
	b.Reset()
	JSON(&b, sampleStatus())
	var back Status
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Findings[0].Rule != "MSSExceedsTunnelMTU" || back.Tunnels[0].PathMTU != 1280 {
		t.Errorf("json: %v %+v", err, back)
	}
}

// The same cause on both tunnels of a connection is one cause: "tunnels
// 1 and 2", both summaries, both fixes' commands once each; a symptom of
// either tunnel is under it.
func TestIncidentsMergeTunnels(t *testing.T) {
	s := sampleStatus()
	mss2 := s.Findings[0]
	mss2.Subject.OutsideIP, mss2.Subject.RTXTunnel = "203.0.113.20", 2
	mss2.Summary = strings.Replace(mss2.Summary, "tunnel 1", "tunnel 2", 1)
	mss2.Remediation = strings.Replace(mss2.Remediation, "tunnel select 1", "tunnel select 2", 1)
	flap2 := s.Findings[1]
	flap2.Subject, flap2.ExplainedBy = mss2.Subject, mss2.Fingerprint()
	s.Findings = append(s.Findings, mss2, flap2)
	t2 := s.Tunnels[0]
	t2.OutsideIP, t2.RTXTunnel = "203.0.113.20", 2
	t2.Timeline = []correlate.TimelineEvent{{Time: t0, Side: "vpnwatchd", Text: "CRITICAL BGPDownIPsecUp firing"}, {Time: t0, Side: "rtx", Text: "polled: tunnel Online"}}
	s.Tunnels = append(s.Tunnels, t2)
	cs := Incidents(s.Findings, s.Tunnels)
	if len(cs) != 1 || len(cs[0].Causes) != 1 {
		t.Fatalf("%+v", cs)
	}
	c := cs[0].Causes[0]
	if len(c.Also) != 1 || len(c.Explains) != 2 || c.Where() != "tunnels 203.0.113.10 and 203.0.113.20 (RTX osaka-rtx1200 tunnels 1 and 2)" ||
		strings.Join(c.Commands(), "|") != "tunnel select 1|ip tunnel tcp mss limit 1240|ip tunnel tcp mss limit auto|tunnel select 2" {
		t.Errorf("cause: %s, %d also, %d explained, commands %q", c.Where(), len(c.Also), len(c.Explains), c.Commands())
	}
	var texts []string
	for _, e := range cs[0].Timeline {
		texts = append(texts, e.Text)
	}
	if got := strings.Join(texts, "|"); strings.Count(got, "CRITICAL BGPDownIPsecUp firing") != 1 || !strings.Contains(got, "tunnel 203.0.113.20: polled: tunnel Online") {
		t.Errorf("the connection's timeline: %s", got)
	}
	var b bytes.Buffer
	s.Connections = cs
	HTML(&b, s, 0)
	if !strings.Contains(b.String(), "tunnels 203.0.113.10 and 203.0.113.20") || !strings.Contains(b.String(), "<b>Fix (203.0.113.20):</b>") {
		t.Errorf("page: %s", b.String())
	}
}

// The overview: one row per VPN connection, worst first, its findings
// grouped under their root causes; findings about no connection get rows
// of their own; nothing is left out.
func TestIncidents(t *testing.T) {
	s := sampleStatus()
	stale := correlate.Finding{Rule: "SourceStale", Severity: "warning", Subject: correlate.Subject{Router: "osaka-rtx1200"}, Summary: "rtx osaka-rtx1200: no current data"}
	cs := Incidents(append(s.Findings, stale), append(s.Tunnels, s.Unjoined...))
	if len(cs) != 3 {
		t.Fatalf("%d rows: %+v", len(cs), cs)
	}
	byLabel := map[string]Connection{}
	for _, c := range cs {
		byLabel[c.Label] = c
	}
	c := byLabel["vpn-0a1b2c3d4e5f67890 (osaka-office)"]
	if c.VPNConnectionID != "vpn-0a1b2c3d4e5f67890" || c.Severity != "warning" || len(c.Causes) != 1 || c.Causes[0].Finding.Rule != "MSSExceedsTunnelMTU" ||
		len(c.Causes[0].Explains) != 1 || c.Causes[0].Explains[0].Rule != "TunnelFlapping" || strings.Join(c.AWS, ",") != "DOWN" || strings.Join(c.BGP, ",") != "Active" || c.SAMin != 1944 {
		t.Errorf("first row: %+v", c)
	}
	if len(c.Timeline) != 3 || c.Timeline[0].Text != "tunnel 203.0.113.10: BGP log: AWS-side peer BGP session state has changed from Connect to Active with neighbor 169.254.10.2" ||
		c.Timeline[2].Text != "CRITICAL BGPDownIPsecUp firing" {
		t.Errorf("the connection's timeline: %+v", c.Timeline)
	}
	if r := byLabel["RTX osaka-rtx1200"]; len(r.Causes) != 1 || r.Severity != "warning" {
		t.Errorf("router row: %+v", r)
	}
	if last := cs[2]; last.VPNConnectionID != "vpn-0b1b2c3d4e5f67891" || last.Severity != "" || len(last.Causes) != 0 {
		t.Errorf("the healthy connection is not last: %+v", last)
	}
	n := 0
	for _, c := range cs {
		for _, k := range c.Causes {
			n += 1 + len(k.Explains)
		}
	}
	if n != 3 {
		t.Errorf("%d findings in the overview, 3 active", n)
	}
}

// A strongSwan tunnel is named by its connection and shown up by what
// the gateway says, not by RTX's word "Online".
func TestStrongSwanTunnelRow(t *testing.T) {
	s := Status{GeneratedAt: t0, Tunnels: []correlate.TunnelView{{VPNConnectionID: "vpn-0a1b2c3d4e5f60123", OutsideIP: "198.18.1.2", AWSStatus: "UP",
		Router: "tokyo-swan", GatewayKind: "strongswan", Tunnel: "aws-1", RTXState: "ESTABLISHED/INSTALLED", GatewayUp: true, SASendSecond: 20, SARecvSecond: 20}},
		Findings: []correlate.Finding{{Rule: "TunnelNotJoined", Severity: "warning", Subject: correlate.Subject{Router: "tokyo-swan", GatewayKind: "strongswan", Tunnel: "aws-9"}}}}
	var b strings.Builder
	if err := HTML(&b, s, 0); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<td>tokyo-swan / aws-1</td><td class="up">ESTABLISHED/INSTALLED</td>`, `<span class="up">ESTABLISHED/INSTALLED</span>`, ">strongSwan tokyo-swan</a>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
}

// Summaries quote settings and commands in backticks, as the remediations
// do: the page shows them as code, escaped, and a lone backtick as typed.
func TestPageQuotedCommandsAsCode(t *testing.T) {
	s := sampleStatus()
	s.Findings[1].Summary = "tunnel 203.0.113.10 flapped; AWS logged \"a ` b\" and `<b>x</b>`"
	var b strings.Builder
	if err := HTML(&b, s, 0); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		"<p>RTX osaka-rtx1200 tunnel 1: <code>ip tunnel tcp mss limit 1379</code> exceeds tunnel MTU 1280 − 40 = 1240</p>",
		"tunnel 203.0.113.10 flapped; AWS logged &#34;a <code> b&#34; and </code>&lt;b&gt;x&lt;/b&gt;`",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "`ip tunnel") || strings.Contains(page, "<b>x</b>") {
		t.Errorf("page shows Markdown backticks or unescaped markup:\n%s", page)
	}
}

// Names, tags, ids and what the routers and AWS said are untrusted: an
// invisible or right-to-left character shows escaped, so that a name
// cannot pose as another; control characters are no longer there.
func TestPageEscapesInvisibleCharacters(t *testing.T) {
	const rlo, zwsp = "\u202e", "\u200b"
	s := sampleStatus()
	s.Findings[0].Subject.VPNName = "osaka" + rlo + "eciffo"
	s.Findings[0].Summary += " (" + zwsp + ")"
	s.Findings[1].Subject.VPNName = s.Findings[0].Subject.VPNName
	s.Findings[1].Summary = "flap\u0085\u009b31m" + rlo
	tu := &s.Tunnels[0]
	tu.VPNName, tu.VPNConnectionID, tu.Router = s.Findings[0].Subject.VPNName, "vpn-"+zwsp+"0a1b2c3d4e5f67890", "osaka"+rlo+"-rtx"
	tu.AWSMessage, tu.RTXState, tu.BGPState, tu.MSSLimit = "IPSEC"+rlo, "Online"+zwsp, "Active\ufeff", "1379\u2066"
	tu.Timeline[0].Text += rlo
	s.Unjoined[0].VPNName = "spoof" + rlo
	s.Sources[1].LastError = "connect: " + rlo + "refused"
	s.Events[0].Text += zwsp
	s.Unchecked = []string{"vpn-" + rlo}
	var b strings.Builder
	if err := HTML(&b, s, 0); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, raw := range []string{rlo, zwsp, "\u0085", "\u009b", "\ufeff", "\u2066"} {
		if n := strings.Count(page, raw); n > 0 {
			t.Errorf("page has %d raw %U", n, []rune(raw)[0])
		}
	}
	for _, want := range []string{`osaka\u202eeciffo`, `vpn-\u200b0a1b2c3d4e5f67890`, `osaka\u202e-rtx`, `connect: \u202erefused`, `flap  31m\u202e`, `Active\ufeff`, `1379\u2066`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
