package vpnlog

import (
	"errors"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// The two records AWS documents verbatim, and one of each tunnel activity
// form: JSON with seconds or milliseconds, states in any letter case, flags
// as bools or strings, and a text-format line.
func TestParseDocumentedRecords(t *testing.T) {
	for _, tc := range []struct {
		name, msg, stream string
		check             func(Event) bool
	}{
		{"BGP status (AWS doc)", `{"resource_id":"vpn-1234abcd_1.2.3.4","event_timestamp":1762580429641,"timestamp":"2025-11-08 05:40:29.641Z","type":"BGPStatus","status":"UP","message":{"details":"AWS-side peer BGP session state has changed from OpenConfirm to Established with neighbor 169.254.50.85"}}`,
			"vpn-1234abcd_1.2.3.4-BGP.log", func(e Event) bool {
				return e.Kind == KindBGP && e.VPNConnectionID == "vpn-1234abcd" && e.OutsideIP == "1.2.3.4" && e.Status == "UP" && e.Class == ClassBGPStateChange &&
					e.Time.Equal(time.UnixMilli(1762580429641))
			}},
		{"route denied (AWS doc)", `{"resource_id":"vpn-1234abcd_1.2.3.4","event_timestamp":1762579573243,"timestamp":"2025-11-08 05:26:13.243Z","type":"RouteStatus","status":"UPDATED","message":{"prefix":"172.31.0.0/16","asPath":"64512","localPref":100,"med":100,"nextHopIp":"169.254.50.85","weight":32768,"details":"DENIED due to: as-path contains our own AS"}}`,
			"vpn-1234abcd_1.2.3.4-BGP.log", func(e Event) bool {
				return e.Type == "RouteStatus" && e.Prefix == "172.31.0.0/16" && e.ASPath == "64512" && e.NextHop == "169.254.50.85" && e.Class == ClassRouteDenied
			}},
		{"PSK mismatch, seconds, lower-case states", `{"event_timestamp":1762580429,"details":"AWS tunnel detected a pre-shared key mismatch with cgw: 198.51.100.20","dpd_enabled":true,"nat_t_detected":"false","ike_phase1_state":"down","ike_phase2_state":"DOWN"}`,
			"vpn-0123456789abcdef0_203.0.113.10-IKE.log", func(e Event) bool {
				return e.Kind == KindTunnel && e.OutsideIP == "203.0.113.10" && e.Class == ClassPSKMismatch && e.Phase1 == "Down" && e.Phase2 == "Down" &&
					e.DPDEnabled != nil && *e.DPDEnabled && e.NATTDetect != nil && !*e.NATTDetect && e.Time.Equal(time.Unix(1762580429, 0))
			}},
		{"AWS starts a rekey", `{"event_timestamp":1762580429000,"details":"AWS tunnel is sending request (id=3) for CREATE_CHILD_SA","ike_phase1_state":"Established","ike_phase2_state":"Rekeying"}`,
			"vpn-0123456789abcdef0_203.0.113.10", func(e Event) bool { return e.Class == ClassRekeyRequest && e.Phase2 == "Rekeying" }},
		{"DPD timeout, text format", "AWS tunnel DPD timed out after 3 retransmits", "vpn-0123456789abcdef0_203.0.113.20-IKE.log",
			func(e Event) bool {
				return e.Class == ClassDPDTimeout && e.Time.Equal(at) && e.OutsideIP == "203.0.113.20"
			}},
		{"hold timer", `{"resource_id":"vpn-1234abcd_1.2.3.4","event_timestamp":1762580429641,"type":"BGPStatus","status":"down","message":{"details":"AWS-side peer sent a Hold Timer Expired notification to neighbor 169.254.50.86"}}`,
			"x", func(e Event) bool {
				return e.Class == ClassBGPHoldTimerExpired && e.Status == "DOWN" && e.OutsideIP == "1.2.3.4"
			}},
		{"readable timestamp only", `{"timestamp":"2025-11-08 05:40:29.641Z","details":"No Proposal Match Found by AWS"}`, "",
			func(e Event) bool {
				return e.Class == ClassProposalMismatch && e.Time.Equal(time.Date(2025, 11, 8, 5, 40, 29, 641e6, time.UTC))
			}},
	} {
		e, err := Parse(tc.msg, tc.stream, at)
		if err != nil || !tc.check(e) || e.Raw != tc.msg {
			t.Errorf("%s: %v %+v", tc.name, err, e)
		}
	}
}

func TestClassifyEveryDocumentedMessage(t *testing.T) {
	for msg, want := range map[string]string{
		"Peer is not responsive - Declaring peer dead":                                                             ClassPeerDead,
		"AWS tunnel DPD timed out after 5 retransmits":                                                             ClassDPDTimeout,
		"AWS tunnel payload decryption was unsuccessful due to invalid Pre-shared Key":                             ClassPSKMismatch,
		"AWS tunnel is sending AUTHENTICATION_FAILED as the response":                                              ClassAuthFailed,
		`No Proposal Match Found. Notifying with "No proposal chosen"`:                                             ClassProposalMismatch,
		"AWS: Traffic Selector: TS_UNACCEPTABLE: received from responder":                                          ClassTSUnacceptable,
		"AWS tunnel Phase 2 was unable to establish while keeping Phase 1":                                         ClassPhase2Failed,
		"AWS tunnel Timeout: deleting un-established Phase 1 IKE_SA with cgw: 198.51.100.20":                       ClassHalfOpenIKE,
		"AWS tunnel received DELETE for IKE_SA from CGW":                                                           ClassDeleteFromCGW,
		"AWS tunnel detected a (CHILD_REKEY) collision as CHILD_DELETE":                                            ClassRekeyCollision,
		"AWS tunnel processed request (id=12) for CREATE_CHILD_SA":                                                 ClassRekeyPeer,
		"AWS tunnel processed response (id=3) for CREATE_CHILD_SA":                                                 ClassRekeyResponse,
		"AWS-side peer detected a bad OPEN message from neighbor 169.254.50.85 remote AS is 65001, expected 65000": ClassBGPASNMismatch,
		"AWS-side peer is reporting a maximum prefix limit warning":                                                ClassBGPPrefixWarning,
		"AWS-side peer detected the maximum prefix limit was exceeded":                                             ClassBGPPrefixExceeded,
		"AWS-side peer sent a notification 6/2 (Cease/Administrative Shutdown) to neighbor 169.254.50.85":          ClassBGPCease,
		"DENIED due to: non-connected next-hop":                                                                    ClassRouteDenied,
		"AWS-side peer sent an End-of-RIB message to neighbor 169.254.50.85":                                       "",
	} {
		if got := Classify(msg); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}

// A record that does not decode is kept as it came, with an error to count.
func TestUnreadableRecordKept(t *testing.T) {
	for _, msg := range []string{`{"details": "AWS tunnel`, `{"type":"BGPStatus","message":[1,2]}`} {
		e, err := Parse(msg, "vpn-0123456789abcdef0_203.0.113.10-IKE.log", at)
		if !errors.Is(err, ErrUnreadable) || e.Raw != msg || e.Details == "" || e.OutsideIP != "203.0.113.10" {
			t.Errorf("%q: %v %+v", msg, err, e)
		}
	}
}

func TestParseStreamName(t *testing.T) {
	for name, want := range map[string][2]string{
		"vpn-0123456789abcdef0_203.0.113.10-IKE.log": {"vpn-0123456789abcdef0", "203.0.113.10"},
		"vpn-0123456789abcdef0_203.0.113.10-BGP.log": {"vpn-0123456789abcdef0", "203.0.113.10"},
		"vpn-1234abcd_1.2.3.4":                       {"vpn-1234abcd", "1.2.3.4"},
		"vpn-1234abcd_2001:db8::1":                   {"vpn-1234abcd", "2001:db8::1"},
		"something-else":                             {"", ""},
		"vpn-1234abcd_not-an-ip":                     {"", ""},
	} {
		id, ip, _ := ParseStreamName(name)
		if id != want[0] || ip != want[1] {
			t.Errorf("%q: %q %q, want %v", name, id, ip, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"resource_id":"vpn-1234abcd_1.2.3.4","event_timestamp":1762580429641,"type":"BGPStatus","status":"UP","message":{"details":"x"}}`, "vpn-1_1.2.3.4-BGP.log")
	f.Add(`{"event_timestamp":"1762580429","details":"AWS tunnel DPD timed out","dpd_enabled":"yes"}`, "")
	f.Add("AWS tunnel DPD timed out after 3 retransmits", "vpn-1_203.0.113.10-IKE.log")
	f.Fuzz(func(t *testing.T, msg, stream string) {
		e, err := Parse(msg, stream, at)
		if e.Raw != msg {
			t.Errorf("raw not kept")
		}
		if err == nil && e.Kind != KindTunnel && e.Kind != KindBGP {
			t.Errorf("kind %q", e.Kind)
		}
	})
}

// An AS path of several ASes is a string with spaces (AWS's example has one
// AS, "64512"); a number or a list is read too, never an unreadable record.
func TestParseASPathForms(t *testing.T) {
	for raw, want := range map[string]string{`"65000 64512"`: "65000 64512", `"64512"`: "64512", `64512`: "64512", `[65000, "64512"]`: "65000 64512"} {
		rec := `{"resource_id":"vpn-1234abcd_1.2.3.4","type":"RouteStatus","status":"ADVERTISED","message":{"prefix":"10.0.0.0/16","asPath":` + raw + `}}`
		e, err := Parse(rec, "vpn-1234abcd_1.2.3.4-BGP.log", time.Unix(0, 0))
		if err != nil || e.ASPath != want || e.Prefix != "10.0.0.0/16" {
			t.Errorf("asPath %s: %q %v", raw, e.ASPath, err)
		}
	}
}
