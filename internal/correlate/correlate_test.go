package correlate

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

func noHolds() *Evaluator {
	e := NewEvaluator(nil)
	e.NoHolds = true
	return e
}

// Stage (a) of the seed incident: after the move, AWS shows both tunnels
// DOWN with "IPSEC IS UP" and no routes while the RTX has them Online and
// BGP Active.
func TestSeedStageA_BGPDownIPsecUp(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	w.router.StickBGP(2, "Active")
	_, st := noHolds().Evaluate(State{}, w.observations(), w.now)
	fs := st.Findings
	got := byRule(fs)
	if len(got["BGPDownIPsecUp"]) != 2 || len(got["SideMismatch"]) != 2 || len(got["ConnectionDown"]) != 1 {
		t.Fatalf("findings: %v", rulesOf(fs))
	}
	if len(got["TunnelDown"]) != 0 {
		t.Errorf("TunnelDown must be inhibited by ConnectionDown: %v", rulesOf(fs))
	}
	f := got["BGPDownIPsecUp"][0]
	if f.Severity != SeverityCritical || f.Subject.VPNConnectionID != vpnID || f.Subject.OutsideIP != "203.0.113.10" || f.Subject.Router != "osaka-rtx1200" || f.Subject.RTXTunnel != 1 {
		t.Errorf("subject: %+v", f.Subject)
	}
	for _, want := range []string{"AWS says DOWN / IPSEC IS UP", "RTX osaka-rtx1200 tunnel 1 is Online, BGP Active"} {
		if !strings.Contains(f.Summary, want) {
			t.Errorf("summary %q lacks %q", f.Summary, want)
		}
	}
	a, r := f.Evidence.AWS, f.Evidence.RTX
	if a == nil || r == nil || a.StatusMessage != "IPSEC IS UP" || a.AcceptedRoutes != 0 || r.TunnelState != "Online" || r.BGPState != "Active" || len(r.SAs) != 2 || r.MSSLimit != "1379" || r.MTU != 1280 {
		t.Errorf("evidence of both sides: aws %+v rtx %+v", a, r)
	}
	if !strings.Contains(f.Remediation, "169.254.10.1") || !strings.Contains(f.Remediation, "ip tunnel tcp mss limit 1379") {
		t.Errorf("remediation: %s", f.Remediation)
	}
	if len(st.Unchecked) != 0 {
		t.Errorf("unchecked: %v", st.Unchecked)
	}
}

// Stage (b): it worked until the first rekey; the SAs run out with no
// successor and the tunnels never come back.
func TestSeedStageB_SARekeyFailed(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.FailRekey(1)
	w.router.FailRekey(2)
	e := NewEvaluator(nil)
	var st State
	fs := w.run(e, &st, 59*time.Minute, 30*time.Second)
	if len(byRule(fs)["SARekeyFailed"]) != 0 || len(byRule(fs)["ConnectionDown"]) != 0 {
		t.Fatalf("before expiry: %v", rulesOf(fs))
	}
	fs = w.run(e, &st, 5*time.Minute, 30*time.Second)
	got := byRule(fs)
	if len(got["SARekeyFailed"]) != 2 || len(got["ConnectionDown"]) != 1 {
		t.Fatalf("after expiry: %v", rulesOf(fs))
	}
	f := got["SARekeyFailed"][0]
	if !strings.Contains(f.Remediation, "ip tunnel tcp mss limit 1240") || !strings.Contains(f.Summary, "no new SA replaced them") || f.Evidence.RTX.TunnelState != "Offline" {
		t.Errorf("finding: %+v", f)
	}
	// Hours later it is still down and still reported.
	fs = w.run(e, &st, 6*time.Hour, 5*time.Minute)
	if len(byRule(fs)["SARekeyFailed"]) != 2 {
		t.Errorf("six hours later: %v", rulesOf(fs))
	}
	// Recovery (the VPN recreated): SAs again, the finding clears.
	w.router.Reconnect(1)
	w.router.Reconnect(2)
	fs = w.run(e, &st, time.Minute, 30*time.Second)
	if len(byRule(fs)["SARekeyFailed"]) != 0 {
		t.Errorf("after reconnect: %v", rulesOf(fs))
	}
}

// Stage (c): `ip tunnel tcp mss limit 1379` with the default tunnel MTU.
func TestSeedStageC_MSSExceedsTunnelMTU(t *testing.T) {
	w := newWorld(t, seedConfig)
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	got := byRule(fs)["MSSExceedsTunnelMTU"]
	if len(got) != 2 {
		t.Fatalf("findings: %v", rulesOf(fs))
	}
	f := got[0]
	if !strings.Contains(f.Summary, "`ip tunnel tcp mss limit 1379` exceeds tunnel MTU 1280 − 40 = 1240") {
		t.Errorf("summary: %s", f.Summary)
	}
	if !strings.Contains(f.Remediation, "`tunnel select 1`, `ip tunnel tcp mss limit 1240` (or `ip tunnel tcp mss limit auto`)") {
		t.Errorf("remediation: %s", f.Remediation)
	}
	if f.Evidence.Detail["max_mss"] != "1240" {
		t.Errorf("detail: %v", f.Evidence.Detail)
	}
}

// Stage (d): the customer gateway still has the old line's address.
func TestSeedStageD_CustomerGatewayAddressMismatch(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.cgwIP = "198.51.100.7"
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	got := byRule(fs)["CustomerGatewayAddressMismatch"]
	if len(got) != 2 {
		t.Fatalf("findings: %v", rulesOf(fs))
	}
	if !strings.Contains(got[0].Summary, "IP 198.51.100.7, but RTX osaka-rtx1200 tunnel 1 sends from 198.18.0.2") ||
		!strings.Contains(got[0].Remediation, "create a customer gateway with IP 198.18.0.2") {
		t.Errorf("finding: %+v", got[0])
	}
}

func TestOneTunnelDownThenBoth(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.router.FailRekey(2)
	e := NewEvaluator(nil)
	var st State
	fs := w.run(e, &st, 62*time.Minute, 30*time.Second)
	got := byRule(fs)
	if len(got["TunnelDown"]) != 1 || got["TunnelDown"][0].Subject.OutsideIP != "203.0.113.20" || len(got["ConnectionDown"]) != 0 {
		t.Fatalf("one tunnel down: %v", rulesOf(fs))
	}
	w.router.FailRekey(1)
	w.router.Reconnect(1) // fresh SAs that will also fail to rekey
	w.router.FailRekey(1)
	fs = w.run(e, &st, 62*time.Minute, 30*time.Second)
	got = byRule(fs)
	if len(got["ConnectionDown"]) != 1 || len(got["TunnelDown"]) != 0 {
		t.Fatalf("both down: %v", rulesOf(fs))
	}
}

// A healthy BGP VPN for a simulated week: hourly phase-2 and 8-hourly
// phase-1 rekeys, polls every 30 s with jitter. Rekeys are not outages:
// nothing may fire, ever.
func TestHealthyWeekHasNoFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated week")
	}
	w := newWorld(t, healthyConfig)
	e := NewEvaluator(nil)
	var st State
	seed := uint32(1)
	end := w.now.Add(7 * 24 * time.Hour)
	evaluations := 0
	for w.now.Before(end) {
		var fs []Finding
		st, fs = findingsOf(e.Evaluate(st, w.observations(), w.now))
		evaluations++
		if len(fs) > 0 {
			t.Fatalf("%s: findings in a healthy week: %v", w.now.Format(time.RFC3339), rulesOf(fs))
		}
		seed = seed*1664525 + 1013904223
		w.now = w.now.Add(24*time.Second + time.Duration(seed%12000)*time.Millisecond) // 30 s ± 6 s
	}
	rekeys := 0
	for _, ev := range w.router.Events() {
		if strings.Contains(ev, "rekeyed") {
			rekeys++
		}
	}
	if rekeys < 2*24*7-4 {
		t.Errorf("only %d rekeys in the week", rekeys)
	}
	t.Logf("%d evaluations, %d rekeys, no findings", evaluations, rekeys)
}

// A router installs only the best path: on a healthy active/standby VPN the
// standby tunnel has no route in `show ip route`, yet its neighbor sent the
// VPC prefix. NoRoutes is for an established neighbor that sent nothing.
func TestNoRoutesActiveStandby(t *testing.T) {
	e := NewEvaluator(nil)
	e.NoHolds = true
	w := newWorld(t, healthyConfig)
	snap := w.rtxSnapshot()
	if t1, t2 := snap.Tunnels[0], snap.Tunnels[1]; t1.InstalledRoutes != 1 || t2.InstalledRoutes != 0 || t1.BGP.ReceivedPrefixes != 1 || t2.BGP.ReceivedPrefixes != 1 {
		t.Fatalf("world is not active/standby: installed %d/%d, received %d/%d", t1.InstalledRoutes, t2.InstalledRoutes, t1.BGP.ReceivedPrefixes, t2.BGP.ReceivedPrefixes)
	}
	if _, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now)); len(fs) > 0 {
		t.Errorf("healthy active/standby: %v", rulesOf(fs))
	}
	// A firmware that does not know received-routes: unknown, not zero.
	w.router.SetReceivedRoutes(false)
	if _, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now)); len(fs) > 0 {
		t.Errorf("without received-routes: %v", rulesOf(fs))
	}
	w.router.SetReceivedRoutes(true)
	w.router.SetRoutes(2, nil)
	_, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now))
	nr := byRule(fs)["NoRoutes"]
	if len(nr) != 1 || nr[0].Subject.RTXTunnel != 2 || !strings.Contains(nr[0].Summary, "sent no routes") || nr[0].Evidence.RTX.ReceivedRoutes != 0 {
		t.Errorf("established neighbor sending nothing: %v", rulesOf(fs))
	}
}

// A status line in wording vpnwatchd does not know leaves the tunnel's state
// unknown (no SideMismatch from the RTX side, no flap) and is reported with
// the line quoted, in every console character set.
func TestRouterOutputUnreadable(t *testing.T) {
	for _, cs := range rtxsim.Charsets {
		e := NewEvaluator(nil)
		e.NoHolds = true
		w := newWorld(t, healthyConfig)
		w.router.SetConsoleCharacter(cs)
		w.router.SetOfflineWording(rtxsim.OfflineUnknownWords)
		w.router.Disconnect(1)
		_, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now))
		got := byRule(fs)
		u := got["RouterOutputUnreadable"]
		if len(u) != 1 || u[0].Subject.Router != "osaka-rtx1200" || u[0].Subject.RTXTunnel != 1 || u[0].Evidence.Detail["command"] != "show status tunnel 1" ||
			!strings.Contains(u[0].Summary, "unknown") || u[0].Evidence.Detail["line"] == "" {
			t.Errorf("%s: %v", cs, u)
		}
		if len(got["SideMismatch"]) > 0 {
			t.Errorf("%s: an unreadable status was compared with AWS: %v", cs, rulesOf(fs))
		}
		for _, f := range fs {
			if f.Evidence.RTX != nil && f.Subject.RTXTunnel == 1 && f.Evidence.RTX.TunnelState != rtx.StatusUnknown {
				t.Errorf("%s: %s shows tunnel 1 as %q", cs, f.Rule, f.Evidence.RTX.TunnelState)
			}
		}
	}
}

func TestSourceStaleHidesStaleData(t *testing.T) {
	w := newWorld(t, seedConfig) // MSS finding when the router data is used
	w.rtxErr = errors.New("connect: connection refused")
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	got := byRule(fs)
	if len(got["SourceStale"]) != 1 || got["SourceStale"][0].Subject.Router != "osaka-rtx1200" {
		t.Fatalf("findings: %v", rulesOf(fs))
	}
	if len(got["MSSExceedsTunnelMTU"]) != 0 || len(got["SideMismatch"]) != 0 {
		t.Errorf("findings from a failed source: %v", rulesOf(fs))
	}
	// An old AWS snapshot is stale too.
	w.rtxErr = nil
	obs := w.observations()
	obs.AWS[0].TakenAt = w.now.Add(-2 * time.Minute)
	_, st := noHolds().Evaluate(State{}, obs, w.now)
	fs = st.Findings
	if got := byRule(fs)["SourceStale"]; len(got) != 1 || got[0].Subject.Source != "prod" {
		t.Errorf("old AWS snapshot: %v", rulesOf(fs))
	}
	if len(st.Unchecked) == 0 || !strings.Contains(st.Unchecked[0], "aws prod ap-northeast-1: not checked") {
		t.Errorf("unchecked: %v", st.Unchecked)
	}
}

func TestHoldTimes(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.override["203.0.113.20"] = aws.Tunnel{Status: "DOWN", StatusMessage: "IPSEC IS DOWN"}
	e := NewEvaluator(nil)
	var st State
	st, fs := findingsOf(e.Evaluate(st, w.observations(), w.now))
	if len(byRule(fs)["TunnelDown"]) != 0 {
		t.Errorf("TunnelDown fired before its hold: %v", rulesOf(fs))
	}
	w.now = w.now.Add(61 * time.Second)
	st, fs = findingsOf(e.Evaluate(st, w.observations(), w.now))
	if got := byRule(fs)["TunnelDown"]; len(got) != 1 || !got[0].Since.Equal(w.now.Add(-61*time.Second)) {
		t.Errorf("TunnelDown after its hold: %v", rulesOf(fs))
	}
	// A condition that clears starts over.
	delete(w.override, "203.0.113.20")
	st, _ = findingsOf(e.Evaluate(st, w.observations(), w.now))
	w.override["203.0.113.20"] = aws.Tunnel{Status: "DOWN"}
	_, fs = findingsOf(e.Evaluate(st, w.observations(), w.now.Add(time.Second)))
	if len(byRule(fs)["TunnelDown"]) != 0 {
		t.Errorf("hold did not restart: %v", rulesOf(fs))
	}
	// Overrides from the configuration.
	hold := time.Duration(0)
	e = NewEvaluator(map[string]config.RuleOverride{"TunnelDown": {Hold: &hold, Severity: "critical"}, "MSSExceedsTunnelMTU": {Disabled: true}})
	_, fs = findingsOf(e.Evaluate(State{}, w.observations(), w.now))
	if got := byRule(fs)["TunnelDown"]; len(got) != 1 || got[0].Severity != SeverityCritical {
		t.Errorf("override: %v", rulesOf(fs))
	}
}

func TestFlapping(t *testing.T) {
	w := newWorld(t, healthyConfig)
	e := NewEvaluator(nil)
	var st State
	var fs []Finding
	for i := range 6 {
		if i%2 == 0 {
			w.override["203.0.113.10"] = aws.Tunnel{Status: "DOWN", StatusMessage: "IPSEC IS DOWN"}
		} else {
			delete(w.override, "203.0.113.10")
		}
		st, fs = findingsOf(e.Evaluate(st, w.observations(), w.now))
		w.now = w.now.Add(5 * time.Minute)
	}
	if got := byRule(fs)["TunnelFlapping"]; len(got) != 1 || got[0].Subject.OutsideIP != "203.0.113.10" {
		t.Errorf("flapping: %v", rulesOf(fs))
	}
	w.now = w.now.Add(2 * time.Hour)
	_, fs = findingsOf(e.Evaluate(st, w.observations(), w.now))
	if len(byRule(fs)["TunnelFlapping"]) != 0 {
		t.Errorf("flapping outlived its window: %v", rulesOf(fs))
	}
}

func TestConfigRules(t *testing.T) {
	w := newWorld(t, routerConfig("auto", 28800, false)) // RTX defaults: no lifetime, no DPD
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	got := byRule(fs)
	if len(got["SALifetimeMismatch"]) != 2 || !strings.Contains(got["SALifetimeMismatch"][0].Remediation, "`ipsec ike duration ipsec-sa 1 3600`") {
		t.Errorf("lifetime: %v %v", rulesOf(fs), got["SALifetimeMismatch"])
	}
	if len(got["DPDDisabled"]) != 2 || !strings.Contains(got["DPDDisabled"][0].Remediation, "`ipsec ike keepalive use 1 on dpd 10 3`") {
		t.Errorf("dpd: %v", rulesOf(fs))
	}
	w = newWorld(t, strings.Replace(healthyConfig, " ip tunnel tcp mss limit auto\n tunnel enable 1", " ip tunnel mtu 1500\n ip tunnel tcp mss limit auto\n tunnel enable 1", 1))
	_, fs = findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	if got := byRule(fs)["TunnelMTUExceedsPath"]; len(got) != 1 || !strings.Contains(got[0].Remediation, "`ip tunnel mtu 1438`") {
		t.Errorf("mtu: %v", rulesOf(fs))
	}
}

func TestJoinsAndGone(t *testing.T) {
	w := newWorld(t, healthyConfig)
	obs := w.observations()
	// The VPN was recreated: new outside IPs that the RTX does not have.
	obs.AWS[0].Connections[0].Tunnels[0].OutsideIP = "203.0.113.110"
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)
	if len(got["TunnelNotJoined"]) != 2 {
		t.Errorf("unjoined after a recreate: %v", rulesOf(fs))
	}
	// An explicit join wins over the address.
	obs.Joins = map[string][]config.TunnelJoin{"osaka-rtx1200": {{RTXTunnel: 1, OutsideIP: "203.0.113.110"}}}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	if len(byRule(fs)["TunnelNotJoined"]) != 0 {
		t.Errorf("explicit join ignored: %v", rulesOf(fs))
	}
	obs = w.observations()
	obs.AWS[0].Connections[0].State = aws.StateDeleted
	obs.AWS[0].Missing = []string{"vpn-0c1b2c3d4e5f67892"}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	if got := byRule(fs)["VPNConnectionGone"]; len(got) != 2 {
		t.Errorf("gone: %v", rulesOf(fs))
	}
}

func TestMaintenancePending(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.override["203.0.113.20"] = aws.Tunnel{Status: "UP", StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1,
		Maintenance: &aws.Maintenance{Pending: "replacement scheduled", AutoAppliedAfter: w.now.Add(48 * time.Hour)}}
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	if got := byRule(fs)["MaintenancePending"]; len(got) != 1 || got[0].Severity != SeverityInfo {
		t.Errorf("maintenance: %v", rulesOf(fs))
	}
}

func TestEvaluateIsPureAndDeterministic(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	obs := w.observations()
	e := NewEvaluator(nil)
	st1, _ := findingsOf(e.Evaluate(State{}, obs, w.now))
	snapshot := st1.clone()
	a2, f2 := findingsOf(e.Evaluate(st1, obs, w.now.Add(5*time.Minute)))
	b2, g2 := findingsOf(e.Evaluate(st1, obs, w.now.Add(5*time.Minute)))
	if !reflect.DeepEqual(f2, g2) || !reflect.DeepEqual(a2, b2) {
		t.Error("same input, different output")
	}
	if !reflect.DeepEqual(st1.since, snapshot.since) || !reflect.DeepEqual(st1.changes, snapshot.changes) || !reflect.DeepEqual(st1.joins, snapshot.joins) {
		t.Error("Evaluate modified the previous state")
	}
}

func TestRuleNamesMatchConfigValidation(t *testing.T) {
	names := RuleNames()
	if len(names) < 18 {
		t.Errorf("rules: %v", names)
	}
	for _, want := range []string{"BGPDownIPsecUp", "SideMismatch", "TunnelDown", "ConnectionDown", "NoRoutes", "SARekeyFailed", "SANeverRekeyed",
		"SALifetimeMismatch", "TunnelFlapping", "MSSExceedsTunnelMTU", "TunnelMTUExceedsPath", "CustomerGatewayAddressMismatch", "MaintenancePending",
		"SourceStale", "RouterHostKeyChanged", "DPDDisabled"} {
		if _, ok := RuleDefaults(want); !ok {
			t.Errorf("rule %s missing", want)
		}
	}
}

func TestMSSConfirmedByProbe(t *testing.T) {
	w := newWorld(t, seedConfig)
	obs := w.observations()
	obs.Probes = []probe.Observation{{Name: "vpc", Target: "10.0.1.10", Path: "tunnel", TakenAt: w.now, Result: probe.Result{PathMTU: 1280, LargestPayload: 1252}}}
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)["MSSExceedsTunnelMTU"]
	if len(got) != 2 || !strings.Contains(got[0].Summary, "confirmed: probe vpc measured a path MTU of 1280 through the tunnel, room for an MSS of 1240") ||
		got[0].Evidence.Detail["measured_path_mtu"] != "1280" {
		t.Errorf("%+v", got)
	}
}

func TestProbeRules(t *testing.T) {
	w := newWorld(t, strings.Replace(healthyConfig, " ip tunnel tcp mss limit auto\n tunnel enable 1", " ip tunnel mtu 1400\n ip tunnel tcp mss limit auto\n tunnel enable 1", 1))
	obs := w.observations()
	// Through the tunnel the path carries 1280 (DF payload 1252): tunnel 1's MTU 1400 is too big.
	obs.Probes = []probe.Observation{{Name: "vpc", Target: "10.0.1.10", Path: "tunnel", TakenAt: w.now,
		Result: probe.Result{PathMTU: 1280, LargestPayload: 1252}}}
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)["TunnelMTUExceedsPath"]
	if len(got) != 1 || got[0].Subject.RTXTunnel != 1 || !strings.Contains(got[0].Remediation, "`ip tunnel mtu 1280`, `ip tunnel tcp mss limit 1240`") ||
		!strings.Contains(got[0].Summary, "path MTU 1280 that probe vpc measured through the tunnel") {
		t.Errorf("measured through the tunnel: %v %+v", rulesOf(fs), got)
	}
	// A WAN probe to tunnel 2's outside IP: 1320 − ESP overhead 73 = 1247 < 1280.
	obs.Probes = []probe.Observation{{Name: "wan2", Target: "203.0.113.20", Path: "wan", TakenAt: w.now, Result: probe.Result{PathMTU: 1320, LargestPayload: 1292}}}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got = byRule(fs)["TunnelMTUExceedsPath"]
	if len(got) != 1 || got[0].Subject.RTXTunnel != 2 || !strings.Contains(got[0].Remediation, "`ip tunnel mtu 1247`") {
		t.Errorf("WAN probe: %v %+v", rulesOf(fs), got)
	}
	// The probe gets nothing through while AWS has tunnels UP.
	obs.Probes = []probe.Observation{{Name: "vpc", Target: "10.0.1.10", Path: "tunnel", TakenAt: w.now, Err: fmt.Errorf("10.0.1.10: %w", probe.ErrUnreachable)}}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	if got := byRule(fs)["DataPlaneUnreachable"]; len(got) != 1 || got[0].Severity != SeverityCritical {
		t.Errorf("data plane: %v", rulesOf(fs))
	}
	// A probe that cannot open a socket is a stale source, not an outage.
	obs.Probes = []probe.Observation{{Name: "vpc", Target: "10.0.1.10", Path: "tunnel", TakenAt: w.now, Err: fmt.Errorf("%w: permission denied", probe.ErrNoSocket)}}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	if got := byRule(fs); len(got["SourceStale"]) != 1 || len(got["DataPlaneUnreachable"]) != 0 {
		t.Errorf("no socket: %v", rulesOf(fs))
	}
}

func TestNextHoldEnd(t *testing.T) {
	hold := 90 * time.Second
	e := NewEvaluator(map[string]config.RuleOverride{"TunnelDown": {Hold: &hold}, "SideMismatch": {Disabled: true}})
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s := State{since: map[FindingID]time.Time{
		{Rule: "TunnelDown", Router: "a"}:     now.Add(-30 * time.Second), // due in 60 s
		{Rule: "BGPDownIPsecUp", Router: "b"}: now.Add(-30 * time.Second), // default 2 min hold: due in 90 s
		{Rule: "TunnelDown", Router: "c"}:     now.Add(-5 * time.Minute),  // already reported
		{Rule: "SideMismatch", Router: "d"}:   now,                        // disabled
	}}
	got, ok := e.NextHoldEnd(s, now)
	if want := now.Add(60 * time.Second); !ok || !got.Equal(want) {
		t.Errorf("NextHoldEnd = %s %v, want %s", got, ok, want)
	}
	delete(s.since, FindingID{Rule: "TunnelDown", Router: "a"})
	if got, _ := e.NextHoldEnd(s, now); !got.Equal(now.Add(90 * time.Second)) {
		t.Errorf("without a: NextHoldEnd = %s", got)
	}
	if _, ok := e.NextHoldEnd(State{since: map[FindingID]time.Time{{Rule: "TunnelDown", Router: "c"}: now.Add(-5 * time.Minute)}}, now); ok {
		t.Error("a condition already reported has no hold to wait for")
	}
}

func TestJoinedRegions(t *testing.T) {
	w := newWorld(t, healthyConfig)
	obs := w.observations()
	// A second region whose connection no tunnel of the router reaches.
	other := obs.AWS[0]
	other.Region = "us-east-1"
	other.Connections = []aws.Connection{other.Connections[0]}
	other.Connections[0].Tunnels = []aws.Tunnel{{OutsideIP: "203.0.113.99"}}
	obs.AWS = append(obs.AWS, other)
	want := []SourceRef{{Type: "aws", Name: "prod", Region: "ap-northeast-1"}}
	if got := JoinedRegions(obs, w.now, map[string]bool{"osaka-rtx1200": true}); !reflect.DeepEqual(got, want) {
		t.Errorf("JoinedRegions = %v, want %v", got, want)
	}
	if got := JoinedRegions(obs, w.now, map[string]bool{"another-router": true}); len(got) != 0 {
		t.Errorf("another router: %v, want none", got)
	}
	// An explicit join moves tunnel 1 to the other region.
	obs.Joins = map[string][]config.TunnelJoin{"osaka-rtx1200": {{RTXTunnel: 1, OutsideIP: "203.0.113.99"}}}
	got := JoinedRegions(obs, w.now, map[string]bool{"osaka-rtx1200": true})
	if len(got) != 2 {
		t.Errorf("with the explicit join: %v, want both regions", got)
	}
	// Stale data joins nothing.
	if got := JoinedRegions(obs, w.now.Add(time.Hour), map[string]bool{"osaka-rtx1200": true}); len(got) != 0 {
		t.Errorf("stale snapshots: %v, want none", got)
	}
}

// EvaluateView returns, beside what Evaluate returns, one row per tunnel of
// the join it evaluated: both sides of the seed's BGP failure.
func TestEvaluateView(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	e := noHolds()
	st, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now))
	st2, r2, views := e.EvaluateView(State{}, w.observations(), w.now)
	fs2 := r2.Findings
	if !reflect.DeepEqual(rulesOf(fs), rulesOf(fs2)) || !reflect.DeepEqual(st, st2) {
		t.Errorf("EvaluateView differs from Evaluate: %v / %v", rulesOf(fs), rulesOf(fs2))
	}
	if len(views) != 2 {
		t.Fatalf("views: %+v", views)
	}
	v := views[0]
	if !v.Joined() || v.VPNConnectionID != vpnID || v.OutsideIP != "203.0.113.10" || v.AWSMessage != "IPSEC IS UP" ||
		v.Router != "osaka-rtx1200" || v.RTXTunnel != 1 || v.BGPState != "Active" || v.MTU != 1280 || v.MSSLimit != "1379" || v.SASendSecond <= 0 {
		t.Errorf("tunnel 1: %+v", v)
	}
}

// Losing sight is not recovery. A router whose tunnel failed its rekey goes
// silent (line down, router rebooting): its findings stay, marked stale,
// with the same subjects — no new finding for the AWS side alone — and
// resolve only when the router answers again and says it is healthy.
func TestSilentRouterHoldsItsFindings(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.router.FailRekey(2)
	e := NewEvaluator(nil)
	var st State
	before := w.run(e, &st, 62*time.Minute, 30*time.Second)
	got := byRule(before)
	if len(got["TunnelDown"]) != 1 || len(got["SARekeyFailed"]) != 1 {
		t.Fatalf("set-up: %v", rulesOf(before))
	}
	w.rtxErr = errors.New("rtx osaka-rtx1200: connect: i/o timeout")
	during := w.run(e, &st, 10*time.Minute, 30*time.Second)
	held := map[string]Finding{}
	for _, f := range during {
		held[f.Fingerprint()] = f
	}
	for _, f := range before {
		h, ok := held[f.Fingerprint()]
		if !ok {
			t.Errorf("%s (%s) ended while the router was silent", f.Rule, f.Subject)
			continue
		}
		rtxOnly := f.Rule == "SARekeyFailed" || f.Rule == "MSSExceedsTunnelMTU"
		if rtxOnly && (!h.Stale || h.StaleSince.IsZero() || !strings.Contains(h.StaleNote(), "rtx osaka-rtx1200")) {
			t.Errorf("%s not marked stale: %+v", f.Rule, h)
		}
	}
	for _, f := range during {
		if f.Rule == "TunnelDown" && f.Subject.Router != "osaka-rtx1200" {
			t.Errorf("TunnelDown lost its RTX side while the router was silent: %s", f.Subject)
		}
	}
	if len(byRule(during)["SourceStale"]) != 1 {
		t.Errorf("no SourceStale for the router: %v", rulesOf(during))
	}
	// Back, healthy: the held findings resolve.
	w.rtxErr = nil
	w.router.Reconnect(2)
	after := w.run(e, &st, 6*time.Minute, 30*time.Second)
	if len(after) > 0 {
		t.Errorf("after the router came back healthy: %v", rulesOf(after))
	}
}

// The same for AWS: an EC2 endpoint answering 500 (the office line that
// took the router's tunnels took the API with it) neither resolves
// TunnelDown nor makes it fire again when AWS answers.
func TestFailingAWSHoldsItsFindings(t *testing.T) {
	w := newWorld(t, healthyConfig)
	w.router.FailRekey(2)
	e := NewEvaluator(nil)
	var st State
	before := w.run(e, &st, 62*time.Minute, 30*time.Second)
	td := byRule(before)["TunnelDown"]
	if len(td) != 1 {
		t.Fatalf("set-up: %v", rulesOf(before))
	}
	since := td[0].Since
	w.awsErr = errors.New("aws prod ap-northeast-1: DescribeVpnConnections: StatusCode: 500")
	during := w.run(e, &st, 5*time.Minute, 30*time.Second)
	h := byRule(during)["TunnelDown"]
	if len(h) != 1 || !h[0].Stale || h[0].Fingerprint() != td[0].Fingerprint() {
		t.Fatalf("TunnelDown while EC2 fails: %v", during)
	}
	if !slices.Contains(h[0].Sources, SourceRef{Type: "aws", Name: "prod", Region: "ap-northeast-1"}) {
		t.Errorf("sources %v", h[0].Sources)
	}
	w.awsErr = nil
	after := w.run(e, &st, time.Minute, 30*time.Second)
	h = byRule(after)["TunnelDown"]
	if len(h) != 1 || h[0].Stale || !h[0].Since.Equal(since) {
		t.Errorf("after EC2 answers again: %+v (since %v)", h, since)
	}
}

// A daemon restarting into an outage seeds the state with the findings it
// had firing: still held while the source is silent, resolved once fresh
// data shows the condition gone.
func TestHeldAcrossRestart(t *testing.T) {
	w := newWorld(t, seedConfig)
	e := noHolds()
	_, fs := findingsOf(e.Evaluate(State{}, w.observations(), w.now))
	if len(byRule(fs)["MSSExceedsTunnelMTU"]) != 2 {
		t.Fatalf("set-up: %v", rulesOf(fs))
	}
	seeded := Resume(fs)
	w.rtxErr = errors.New("no route to host")
	_, held := findingsOf(e.Evaluate(seeded, w.observations(), w.now))
	if n := len(byRule(held)["MSSExceedsTunnelMTU"]); n != 2 {
		t.Errorf("after a restart into a silent router: %v", rulesOf(held))
	}
	w.rtxErr = nil
	w.router.SetConfig(healthyConfig)
	_, now := findingsOf(e.Evaluate(seeded, w.observations(), w.now))
	if n := len(byRule(now)["MSSExceedsTunnelMTU"]); n != 0 {
		t.Errorf("fixed, fresh data: %v", rulesOf(now))
	}
}

func TestStateNotWritable(t *testing.T) {
	w := newWorld(t, healthyConfig)
	obs := w.observations()
	obs.StateError, obs.StateDir = "alert outbox: no space left on device", "/var/lib/vpnwatchd"
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)["StateNotWritable"]
	if len(got) != 1 || got[0].Severity != SeverityCritical || !strings.Contains(got[0].Summary, "no space left") || !strings.Contains(got[0].Remediation, "df -h /var/lib/vpnwatchd") {
		t.Errorf("%v", fs)
	}
	obs.StateError = ""
	if _, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now)); len(byRule(fs)["StateNotWritable"]) != 0 {
		t.Error("fires with a writable state dir")
	}
}

// A finding quotes what AWS itself logged about the tunnel, newest last.
func TestFindingQuotesAWSLog(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	obs := w.observations()
	tu := &obs.AWS[0].Connections[0].Tunnels[0]
	for i, d := range []string{"AWS-side peer BGP session state has changed from Connect to Active with neighbor 169.254.10.2", "AWS tunnel DPD timed out after 3 retransmits"} {
		tu.LogEvents = append(tu.LogEvents, vpnlog.Event{Time: w.now.Add(time.Duration(i) * time.Second), Details: d})
	}
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)["BGPDownIPsecUp"]
	if len(got) != 1 || len(got[0].Evidence.AWS.Log) != 2 || !strings.HasSuffix(got[0].Evidence.AWS.Log[1], "AWS tunnel DPD timed out after 3 retransmits") {
		t.Errorf("%+v", got)
	}
}

// AWS's own words name the cause: a pre-shared key or proposal it refuses,
// on a tunnel that is DOWN, with the RTX lines to type. A later event of
// another meaning, or an old one, names nothing.
func TestFindingsFromAWSLog(t *testing.T) {
	cfg := strings.Replace(healthyConfig, "esp aes-cbc sha-hmac", "esp 3des-cbc md5-hmac", 1)
	cfg = strings.Replace(cfg, "  ipsec sa policy 201 1 esp 3des-cbc md5-hmac\n", "  ipsec sa policy 201 1 esp 3des-cbc md5-hmac\n  ipsec ike encryption 1 3des-cbc\n", 1)
	w := newWorld(t, cfg)
	w.router.Disconnect(1)
	say := func(details string, ago time.Duration) Observations {
		obs := w.observations()
		tu := &obs.AWS[0].Connections[0].Tunnels[0]
		tu.LogEvents = []vpnlog.Event{{Time: w.now.Add(-ago), Details: details, Class: vpnlog.Classify(details)}}
		return obs
	}
	_, fs := findingsOf(noHolds().Evaluate(State{}, say("AWS tunnel detected a pre-shared key mismatch with cgw: 198.18.0.2", time.Minute), w.now))
	psk := byRule(fs)["IKEPreSharedKeyMismatch"]
	if len(psk) != 1 || !strings.Contains(psk[0].Summary, "pre-shared key mismatch with cgw") || !strings.Contains(psk[0].Remediation, "`ipsec ike pre-shared-key 1 text KEY`") {
		t.Errorf("PSK: %+v", psk)
	}
	_, fs = findingsOf(noHolds().Evaluate(State{}, say("No Proposal Match Found by AWS", time.Minute), w.now))
	pm := byRule(fs)["IKEProposalMismatch"]
	if len(pm) != 1 || !strings.Contains(pm[0].Remediation, "`ipsec ike encryption 1 aes-cbc` (was 3des-cbc)") ||
		!strings.Contains(pm[0].Remediation, "`ipsec sa policy P 1 esp aes-cbc sha256-hmac`") {
		t.Errorf("proposal: %+v", pm)
	}
	if _, fs = findingsOf(noHolds().Evaluate(State{}, say("No Proposal Match Found by AWS", time.Hour), w.now)); len(byRule(fs)["IKEProposalMismatch"]) != 0 {
		t.Error("an hour-old log line still names the cause")
	}
	obs := say("AWS tunnel detected a pre-shared key mismatch with cgw: 198.18.0.2", 2*time.Minute)
	tu := &obs.AWS[0].Connections[0].Tunnels[0]
	tu.LogEvents = append(tu.LogEvents, vpnlog.Event{Time: w.now.Add(-time.Minute), Details: "AWS tunnel DPD timed out after 3 retransmits", Class: vpnlog.ClassDPDTimeout})
	if _, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now)); len(byRule(fs)["IKEPreSharedKeyMismatch"]) != 0 {
		t.Error("a later event of another meaning did not end the PSK finding")
	}
	// A BGP state change is the other log's story: the PSK mismatch stands.
	obs = say("AWS tunnel detected a pre-shared key mismatch with cgw: 198.18.0.2", 2*time.Minute)
	tu = &obs.AWS[0].Connections[0].Tunnels[0]
	tu.LogEvents = append(tu.LogEvents, vpnlog.Event{Time: w.now.Add(-time.Minute), Kind: vpnlog.KindBGP,
		Details: "AWS-side peer BGP session state has changed from Established to Idle with neighbor 169.254.10.2", Class: vpnlog.ClassBGPStateChange})
	if _, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now)); len(byRule(fs)["IKEPreSharedKeyMismatch"]) != 1 {
		t.Errorf("a BGP state change hid the PSK mismatch: %v", rulesOf(fs))
	}
}

// awsRecord is one of AWS's VPN log records, parsed as the poller parses
// it: a tunnel activity record (ike) or a BGP record.
func awsRecord(t *testing.T, at time.Time, ip string, bgp bool, json string) vpnlog.Event {
	t.Helper()
	stream := vpnID + "_" + ip + "-IKE.log"
	if bgp {
		stream = vpnID + "_" + ip + "-BGP.log"
	}
	e, err := vpnlog.Parse(json, stream, at)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every finding drawn from AWS's logs: what AWS said (its record, parsed
// as the poller parses it), on a tunnel in the state it logs it in, the
// rule it names, its words quoted and the fix.
func TestMoreFindingsFromAWSLog(t *testing.T) {
	ike := func(details string) string { return fmt.Sprintf(`{"event_timestamp":%d,"details":%q}`, 0, details) }
	bgp := func(status, details string) string {
		return fmt.Sprintf(`{"resource_id":"%s_203.0.113.10","type":"BGPStatus","status":%q,"message":{"details":%q}}`, vpnID, status, details)
	}
	route := func(prefix, denied string) string {
		d := ""
		if denied != "" {
			d = fmt.Sprintf(`,"details":"DENIED due to: %s"`, denied)
		}
		return fmt.Sprintf(`{"resource_id":"%s_203.0.113.10","type":"RouteStatus","status":"UPDATED","message":{"prefix":%q,"asPath":"65000 64512","nextHopIp":"169.254.10.2"%s}}`, vpnID, prefix, d)
	}
	type rec struct {
		bgp  bool
		json string
	}
	for _, tc := range []struct {
		name     string
		down     bool // the RTX tunnel (and so AWS's) is down
		records  []rec
		rule     string
		want     []string // in the summary or the fix
		disabled bool     // the rule must not fire
	}{
		{"TS", true, []rec{{false, ike("AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder")}}, "TrafficSelectorMismatch",
			[]string{"TS_UNACCEPTABLE", "`ipsec ike local id 1 0.0.0.0/0`"}, false},
		{"auth", true, []rec{{false, ike("AWS tunnel is sending AUTHENTICATION_FAILED as the response")}}, "IKEAuthenticationFailed",
			[]string{"AUTHENTICATION_FAILED", "`ipsec ike local address 1 198.18.0.2`"}, false},
		{"DPD, RTX down", true, []rec{{false, ike("AWS tunnel DPD timed out after 3 retransmits")}}, "AWSDeclaredPeerDead",
			[]string{"DPD timed out", "is Offline", "`ipsec auto refresh on`"}, false},
		{"peer dead, RTX up", false, []rec{{false, ike("Peer is not responsive - Declaring peer dead")}}, "AWSDeclaredPeerDead",
			[]string{"Declaring peer dead", "says Online", "do not reach AWS"}, false},
		{"hold timer", true, []rec{{true, bgp("DOWN", "AWS-side peer sent a Hold Timer Expired notification to neighbor 169.254.10.2")}}, "BGPHoldTimerExpired",
			[]string{"Hold Timer Expired", "hold-time=30"}, false},
		{"ASN", true, []rec{{true, bgp("DOWN", "AWS-side peer detected a bad OPEN message from neighbor 169.254.10.2 - remote AS is 65001, expected 65000")}}, "BGPASNMismatch",
			[]string{"sent AS 65001, AWS expects AS 65000", "`bgp autonomous-system 65000`"}, false},
		{"prefix warning", false, []rec{{true, bgp("UP", "AWS-side peer is reporting a maximum prefix limit warning - received 95 prefixes from neighbor 169.254.10.2, limit is 100")}}, "BGPPrefixLimit",
			[]string{"(95 routes, limit 100)", "`bgp export filter`"}, false},
		{"prefix warning, then re-established", false, []rec{
			{true, bgp("UP", "AWS-side peer is reporting a maximum prefix limit warning - received 95 prefixes from neighbor 169.254.10.2, limit is 100")},
			{true, bgp("UP", "AWS-side peer BGP session state has changed from OpenConfirm to Established with neighbor 169.254.10.2")}}, "BGPPrefixLimit", nil, true},
		{"route denied", false, []rec{{true, route("172.31.0.0/16", "as-path contains our own AS")}, {true, route("10.9.0.0/16", "non-connected next-hop")}}, "BGPRouteDenied",
			[]string{"denied 2 route(s)", "172.31.0.0/16 (DENIED due to: as-path contains our own AS)", "next hop must be 169.254.10.2"}, false},
		{"route denied, then accepted", false, []rec{{true, route("172.31.0.0/16", "as-path contains our own AS")}, {true, route("172.31.0.0/16", "")}}, "BGPRouteDenied", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, healthyConfig)
			if tc.down {
				w.router.Disconnect(1)
			}
			if tc.name == "peer dead, RTX up" { // AWS hears nothing while the RTX believes it is up
				w.override["203.0.113.10"] = aws.Tunnel{Status: "DOWN", StatusMessage: "IPSEC IS DOWN"}
			}
			obs := w.observations()
			tu := &obs.AWS[0].Connections[0].Tunnels[0]
			for i, r := range tc.records {
				tu.LogEvents = append(tu.LogEvents, awsRecord(t, w.now.Add(time.Duration(i-len(tc.records))*time.Minute), "203.0.113.10", r.bgp, r.json))
			}
			_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
			got := byRule(fs)[tc.rule]
			if tc.disabled && tc.want == nil {
				if len(got) != 0 {
					t.Errorf("%s fired: %+v", tc.rule, got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%s: %v", tc.rule, rulesOf(fs))
			}
			for _, want := range tc.want {
				if !strings.Contains(got[0].Summary, want) && !strings.Contains(got[0].Remediation, want) {
					t.Errorf("%s lacks %q:\n%s\n%s", tc.rule, want, got[0].Summary, got[0].Remediation)
				}
			}
			if got[0].Subject.OutsideIP != "203.0.113.10" || got[0].Evidence.Detail["aws_log"] == "" && tc.rule != "BGPRouteDenied" {
				t.Errorf("subject or quote: %+v", got[0])
			}
		})
	}
}

// A tunnel whose rekey failed is SARekeyFailed's: it quotes AWS's
// unanswered CREATE_CHILD_SA and the DPD timeout after it, and
// AWSDeclaredPeerDead stays quiet. BGPDownIPsecUp quotes AWS's BGP log.
func TestExistingFindingsQuoteAWS(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.FailRekey(1)
	e := NewEvaluator(nil)
	var st State
	w.run(e, &st, 62*time.Minute, 30*time.Second)
	obs := w.observations()
	tu := &obs.AWS[0].Connections[0].Tunnels[0]
	for i, d := range []string{"AWS tunnel is sending request (id=3) for CREATE_CHILD_SA", "AWS tunnel DPD timed out after 3 retransmits"} {
		tu.LogEvents = append(tu.LogEvents, awsRecord(t, w.now.Add(time.Duration(i-3)*time.Minute), "203.0.113.10", false, fmt.Sprintf(`{"details":%q}`, d)))
	}
	_, fs := findingsOf(noHolds().Evaluate(st, obs, w.now))
	got := byRule(fs)
	if len(got["SARekeyFailed"]) != 1 || len(got["AWSDeclaredPeerDead"]) != 0 {
		t.Fatalf("%v", rulesOf(fs))
	}
	if s := got["SARekeyFailed"][0].Summary; !strings.Contains(s, `"AWS tunnel is sending request (id=3) for CREATE_CHILD_SA" and no answer followed, then at`) ||
		!strings.Contains(s, "DPD timed out after 3 retransmits") {
		t.Errorf("SARekeyFailed does not quote AWS: %s", s)
	}

	w = newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	obs = w.observations()
	tu = &obs.AWS[0].Connections[0].Tunnels[0]
	tu.LogEvents = []vpnlog.Event{awsRecord(t, w.now.Add(-time.Minute), "203.0.113.10", true,
		fmt.Sprintf(`{"resource_id":"%s_203.0.113.10","type":"BGPStatus","status":"DOWN","message":{"details":"AWS-side peer BGP session state has changed from Connect to Active with neighbor 169.254.10.2"}}`, vpnID))}
	_, fs = findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	if b := byRule(fs)["BGPDownIPsecUp"]; len(b) != 1 || !strings.Contains(b[0].Summary, `AWS's BGP log at`) || !strings.Contains(b[0].Summary, "from Connect to Active") {
		t.Errorf("BGPDownIPsecUp: %+v", b)
	}
}

// AWS's logs are asked for (aws[].logs) but tunnels do not send them: one
// info finding per AWS region listing them, with the command and the
// warning that it replaces the endpoint.
func TestTunnelLogsDisabled(t *testing.T) {
	w := newWorld(t, healthyConfig)
	obs := w.observations()
	if _, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now)); len(byRule(fs)["TunnelLogsDisabled"]) != 0 {
		t.Error("fires when vpnwatchd does not read AWS's logs")
	}
	obs.AWS[0].LogsRead = true
	obs.AWS[0].Connections[0].Tunnels[1].Logs = &aws.TunnelLogs{Enabled: true, Group: "g", BGPEnabled: true, BGPGroup: "g"}
	_, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now))
	got := byRule(fs)["TunnelLogsDisabled"]
	if len(got) != 1 || got[0].Severity != SeverityInfo || !strings.Contains(got[0].Summary, "aws prod ap-northeast-1: 1 tunnel(s) do not send") ||
		!strings.Contains(got[0].Summary, vpnID+" 203.0.113.10") || got[0].Subject.Region != "ap-northeast-1" ||
		!strings.Contains(got[0].Remediation, "--vpn-tunnel-outside-ip-address 203.0.113.10") || strings.Contains(got[0].Remediation, "203.0.113.20") ||
		!strings.Contains(got[0].Remediation, "replaces its endpoint") {
		t.Errorf("%+v", got)
	}
	obs.AWS[0].Connections[0].Tunnels[0].Logs = obs.AWS[0].Connections[0].Tunnels[1].Logs
	if _, fs := findingsOf(noHolds().Evaluate(State{}, obs, w.now)); len(byRule(fs)["TunnelLogsDisabled"]) != 0 {
		t.Error("fires with both tunnels logging")
	}
}

// Each tunnel has one timeline, both sides merged in time order: AWS's log,
// the RTX's syslog about the tunnel, state changes seen by polling and the
// findings firing.
func TestTimeline(t *testing.T) {
	w := newWorld(t, healthyConfig)
	e := noHolds()
	var st State
	w.run(e, &st, time.Minute, 30*time.Second)
	w.router.Disconnect(1)
	obs := w.observations()
	tu := &obs.AWS[0].Connections[0].Tunnels[0]
	tu.LogEvents = []vpnlog.Event{awsRecord(t, w.now.Add(-10*time.Second), "203.0.113.10", false, `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)}
	obs.RTX[0].Syslog = []rtx.Event{
		{Kind: rtx.EventTunnelDown, Tunnel: 1, Text: "IP Tunnel[1] Down", Time: w.now.Add(-20 * time.Second)},
		{Kind: rtx.EventTunnelDown, Tunnel: 2, Text: "IP Tunnel[2] Down", Time: w.now.Add(-15 * time.Second)}, // the other tunnel's
	}
	_, r, views := e.EvaluateView(st, obs, w.now)
	var v *TunnelView
	for i := range views {
		if views[i].OutsideIP == "203.0.113.10" {
			v = &views[i]
		}
	}
	if v == nil || len(r.Findings) == 0 {
		t.Fatalf("views %+v findings %v", views, rulesOf(r.Findings))
	}
	var got []string
	for i, ev := range v.Timeline {
		if i > 0 && ev.Time.Before(v.Timeline[i-1].Time) {
			t.Errorf("out of order: %+v", v.Timeline)
		}
		got = append(got, ev.Side+": "+ev.Text)
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{"rtx: syslog: IP Tunnel[1] Down", "aws: IKE log: AWS tunnel DPD timed out after 3 retransmits",
		"aws: polled: tunnel DOWN", "rtx: polled: tunnel Offline", "vpnwatchd: WARNING TunnelDown firing"} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "IP Tunnel[2]") {
		t.Errorf("the other tunnel's syslog in this timeline:\n%s", text)
	}
	if strings.Index(text, "syslog: IP Tunnel[1] Down") > strings.Index(text, "DPD timed out") {
		t.Errorf("not in time order:\n%s", text)
	}
}

// Root cause first: each finding names the root among the others that
// explains it, following causes of causes; roots name none.
func TestRootCause(t *testing.T) {
	w := newWorld(t, seedConfig)
	w.router.StickBGP(1, "Active")
	w.router.StickBGP(2, "Active")
	_, fs := findingsOf(noHolds().Evaluate(State{}, w.observations(), w.now))
	root := map[string][]string{}
	for _, f := range fs {
		root[f.Rule] = append(root[f.Rule], f.ExplainedBy)
	}
	// BGP down on both tunnels: SideMismatch and ConnectionDown are its
	// symptoms; the latent MSS problem explains neither and is a root.
	for _, f := range fs {
		switch f.Rule {
		case "SideMismatch":
			if !strings.HasPrefix(f.ExplainedBy, "BGPDownIPsecUp|") || !strings.Contains(f.ExplainedBy, f.Subject.OutsideIP) {
				t.Errorf("SideMismatch %s explained by %q", f.Subject.OutsideIP, f.ExplainedBy)
			}
		case "ConnectionDown":
			if !strings.HasPrefix(f.ExplainedBy, "BGPDownIPsecUp|") {
				t.Errorf("ConnectionDown explained by %q", f.ExplainedBy)
			}
		case "BGPDownIPsecUp", "MSSExceedsTunnelMTU":
			if f.ExplainedBy != "" {
				t.Errorf("%s is a root, explained by %q", f.Rule, f.ExplainedBy)
			}
		}
	}
	// The seed's rekey failure: the MSS problem is the root of the failed
	// rekeys and of everything they take down.
	w = newWorld(t, seedConfig)
	w.router.FailRekey(1)
	w.router.FailRekey(2)
	e := NewEvaluator(nil)
	var st State
	fs = w.run(e, &st, 65*time.Minute, 30*time.Second)
	n := 0
	for _, f := range fs {
		switch f.Rule {
		case "SARekeyFailed", "TunnelFlapping", "TunnelDown", "ConnectionDown":
			n++
			if !strings.HasPrefix(f.ExplainedBy, "MSSExceedsTunnelMTU|") {
				t.Errorf("%s %s explained by %q, want the MSS finding", f.Rule, f.Subject, f.ExplainedBy)
			}
		case "MSSExceedsTunnelMTU":
			if f.ExplainedBy != "" {
				t.Errorf("the MSS finding explained by %q", f.ExplainedBy)
			}
		}
	}
	if n < 3 {
		t.Errorf("symptoms: %v", rulesOf(fs))
	}
}

// A gateway that reports its own drops (strongSwan's vici events) flaps
// even when every poll finds it up: a drop and recovery between two polls
// count as two changes, once each, and not again when polling saw them.
func TestFlappingFromGatewayDrops(t *testing.T) {
	w := newWorld(t, healthyConfig)
	e := NewEvaluator(nil)
	var st State
	var fs []Finding
	eval := func(up bool, drops ...time.Time) {
		obs := w.observations()
		g := obs.RTX[0].Gateway()
		obs.RTX = nil
		g.Tunnels = slices.Clone(g.Tunnels)
		for _, d := range drops {
			g.Tunnels[0].Log = append(g.Tunnels[0].Log, gateway.LogLine{Time: d, Text: "vici ike-updown: IKE SA down", Down: true})
		}
		if !up {
			g.Tunnels[0].Up = false
		}
		obs.Gateways = []gateway.Snapshot{g}
		st, fs = findingsOf(e.Evaluate(st, obs, w.now))
		w.now = w.now.Add(30 * time.Second)
	}
	t0 := w.now
	eval(true)
	d1, d2 := t0.Add(10*time.Second), t0.Add(40*time.Second)
	eval(true, d1)
	if n := len(st.changes[sideKey{gw: tunnelKey{kind: SourceRTX, router: "osaka-rtx1200", number: 1}}]); n != 2 {
		t.Fatalf("one drop between polls: %d changes, want 2", n)
	}
	eval(true, d1) // the same drop again: not counted twice
	if len(byRule(fs)["TunnelFlapping"]) != 0 {
		t.Fatalf("one drop is not flapping: %v", rulesOf(fs))
	}
	eval(true, d1, d2)
	if got := byRule(fs)["TunnelFlapping"]; len(got) != 1 || got[0].Subject.RTXTunnel != 1 || !strings.Contains(got[0].Summary, "changed state 4 times") {
		t.Fatalf("two drops between polls: %v", rulesOf(fs))
	}

	// A drop the poll saw is the poll's: down, then up, two changes.
	w2 := newWorld(t, healthyConfig)
	w, st = w2, State{}
	t1 := w.now
	eval(true)
	eval(false, t1.Add(20*time.Second))
	eval(true, t1.Add(20*time.Second))
	if n := len(st.changes[sideKey{gw: tunnelKey{kind: SourceRTX, router: "osaka-rtx1200", number: 1}}]); n != 2 {
		t.Errorf("a drop polling saw: %d changes, want 2", n)
	}
}

// Untrusted text (AWS names and tags, log lines, a gateway's output) is
// shown on one line, as it is, and cannot pose as other text.
func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ name, in, want, lines string }{
		{"plain", "osaka-office 大阪", "osaka-office 大阪", ""},
		{"escape sequence, newline, DEL", "AWS tunnel\x1b[2J down\r\nfake line\x7f", "AWS tunnel [2J down  fake line ", "AWS tunnel [2J down \nfake line "},
		{"tab", "a\tb", "a b", "a\tb"},
		{"C1 controls: NEL, 8-bit CSI", "a\u0085b\u009b31mc\u0080", "a b 31mc ", ""},
		{"line and paragraph separators", "a\u2028b\u2029c", "a b c", ""},
		{"right-to-left override", "prod-\u202egnp.exe", `prod-\u202egnp.exe`, ""},
		{"bidi marks and embeddings", "\u200e\u200f\u202a\u202b\u202c\u202d\u061c", `\u200e\u200f\u202a\u202b\u202c\u202d\u061c`, ""},
		{"bidi isolates", "\u2066x\u2067y\u2068z\u2069", `\u2066x\u2067y\u2068z\u2069`, ""},
		{"zero-width space, joiners, word joiner, BOM", "prod\u200b\u200c\u200d\u2060\ufeff", `prod\u200b\u200c\u200d\u2060\ufeff`, ""},
		{"soft hyphen", "pro\u00addb", `pro\u00addb`, ""},
		{"tag characters", "vpn\U000e0041", `vpn\U000e0041`, ""},
		{"invalid UTF-8", "a\xffb", "a\ufffdb", ""},
		{"a backslash stays", `C:\u202e`, `C:\u202e`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Printable(tc.in); got != tc.want {
				t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
			lines := tc.lines
			if lines == "" {
				lines = tc.want
			}
			if got := PrintableLines(tc.in); got != lines {
				t.Errorf("PrintableLines(%q) = %q, want %q", tc.in, got, lines)
			}
		})
	}
}
