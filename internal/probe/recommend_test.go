package probe

import (
	"strings"
	"testing"
)

func commands(as []Advice) string {
	var cs []string
	for _, a := range as {
		cs = append(cs, a.Command)
	}
	return strings.Join(cs, " | ")
}

func TestRecommendSeed(t *testing.T) {
	// The seed: DF payload 1252 passes through the tunnel, 1253 does not;
	// the new line's WAN path carries 1480; the RTX has the AWS sample's
	// `ip tunnel tcp mss limit 1379` and the default tunnel MTU.
	got := Recommend(Input{TunnelPathMTU: 1252 + HeaderIPv4, WANPathMTU: 1480, Tunnel: 1, TunnelMTU: 1280, MSSLimit: 1379,
		WANInterface: "lan2", ESPEncryption: "aes-cbc", ESPAuth: "sha-hmac"})
	want := "ip lan2 mtu 1480 | ip lan2 tcp mss limit 1440 | tunnel select 1; ip tunnel tcp mss limit 1240"
	if c := commands(got); c != want {
		t.Errorf("commands:\n got %s\nwant %s", c, want)
	}
	for _, a := range got {
		if strings.Contains(a.Command, "mss limit 1240") && !strings.Contains(a.Why, "1280 − 40 (IPv4 20 + TCP 20) = 1240") {
			t.Errorf("arithmetic not shown: %s", a.Why)
		}
		if strings.Contains(a.Command, "mss limit 1240") && !strings.Contains(a.Why, "1379 is larger") {
			t.Errorf("the configured value not named: %s", a.Why)
		}
	}
}

func TestRecommendCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"clean path, AWS cap", Input{TunnelPathMTU: 1500, Tunnel: 1, TunnelMTU: 1280, MSSAuto: true, ESPEncryption: "aes-cbc", ESPAuth: "sha-hmac"},
			"tunnel select 1; ip tunnel mtu 1438 | tunnel select 1; ip tunnel tcp mss limit 1398"},
		{"GCM with NAT-T", Input{TunnelPathMTU: 1500, TunnelMTU: 1500, MSSLimit: 1460, ESPEncryption: "aes-gcm", NATTraversal: true},
			"ip tunnel mtu 1438 | ip tunnel tcp mss limit 1398"},
		{"WAN path limits the tunnel", Input{WANPathMTU: 1400, TunnelMTU: 1438, MSSLimit: 1398, WANInterface: "lan2", ESPEncryption: "aes-cbc", ESPAuth: "sha256-hmac"},
			"ip tunnel mtu 1323 | ip lan2 mtu 1400 | ip lan2 tcp mss limit 1360 | ip tunnel tcp mss limit 1283"},
		{"already right", Input{TunnelPathMTU: 1280, TunnelMTU: 1280, MSSAuto: true}, ""},
		{"mss only", Input{TunnelMTU: 1280, MSSLimit: 1379}, "ip tunnel tcp mss limit 1240"},
	} {
		if c := commands(Recommend(tc.in)); c != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, c, tc.want)
		}
	}
	if o := ESPOverhead("aes-cbc", "sha-hmac", false); o != 20+8+16+15+2+12 {
		t.Errorf("ESP overhead AES-CBC/SHA1 = %d", o)
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		want  string
	}{
		{"largest passed", []Step{{Payload: 56, Result: "ok"}, {Payload: 1472, Result: "ok"}}, LimitNone},
		{"this host's MTU", []Step{{Payload: 1472, Result: "local"}, {Payload: 1200, Result: "ok"}}, LimitLocal},
		{"icmp", []Step{{Payload: 1472, Result: "too big", MTU: 1300}, {Payload: 1272, Result: "ok"}}, LimitICMP},
		{"silence", []Step{{Payload: 1472, Result: "timeout"}, {Payload: 1472, Result: "timeout"}, {Payload: 1272, Result: "ok"}}, LimitSilence},
		{"silence then icmp", []Step{{Payload: 1472, Result: "timeout"}, {Payload: 1400, Result: "too big"}, {Payload: 1272, Result: "ok"}}, LimitICMP},
	} {
		largest := 0
		for _, s := range tc.steps {
			if s.Result == "ok" {
				largest = max(largest, s.Payload)
			}
		}
		if got := limit(tc.steps, largest); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if e := (Result{Limit: LimitLocal, PathMTU: 1400}).Explain(); strings.Contains(e, "black hole") || !strings.Contains(e, "this host") {
		t.Errorf("local: %s", e)
	}
}
