package rtx

import (
	"strings"
	"testing"
)

func TestParseSyslog(t *testing.T) {
	for _, tc := range []struct {
		in     string
		kind   string
		tunnel int
		peer   string
	}{
		{"<190>IP Tunnel[1] Down", EventTunnelDown, 1, ""},
		{"<190>Nov 25 21:00:01 rtx1200 IP Tunnel[12] Up", EventTunnelUp, 12, ""},
		{"2018/10/29 17:32:55: IP Tunnel[3] Down", EventTunnelDown, 3, ""},
		{"<190>[IKE] initiate ISAKMP phase to 203.0.113.10 (local address 198.18.0.2)", EventIKE, 0, "203.0.113.10"},
		{"<190>[IKE] respond IPsec phase to 200.1.1.1", EventIKE, 0, "200.1.1.1"},
		{"<190>[BGP] neighbor 169.254.10.1 state changed", EventBGP, 0, ""},
		{"<190>PP[01] PPP/IPCP up  (Local: None, Remote: 203.0.113.2)", EventOther, 0, ""},
	} {
		e, err := ParseSyslog([]byte(tc.in))
		if err != nil || e.Kind != tc.kind || e.Tunnel != tc.tunnel || e.Peer != tc.peer {
			t.Errorf("%q: %+v %v", tc.in, e, err)
		}
	}
	for _, bad := range []string{"", "<190>", "<999>IP Tunnel[1] Down", "<190>\x01\x02"} {
		if _, err := ParseSyslog([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Every line of the syslog samples parses.
	for _, f := range []string{"syslog-ike.1.txt", "syslog-events.2.txt", "syslog-boot.3.txt"} {
		for _, l := range strings.Split(sample(t, f), "\n") {
			if l == "" || strings.HasPrefix(l, "#") || strings.Contains(l, "show log") {
				continue
			}
			if _, err := ParseSyslog([]byte(l)); err != nil {
				t.Errorf("%s: %q: %v", f, l, err)
			}
		}
	}
}

func FuzzParseSyslog(f *testing.F) {
	for _, s := range []string{"<190>IP Tunnel[1] Down", "2018/10/29 17:32:55: IP Tunnel[3] Down", "<190>[IKE] initiate IPsec phase to 200.1.1.1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { ParseSyslog(b) })
}

// A log line from a Japanese console arrives in Shift_JIS and is quoted as
// text.
func TestSyslogShiftJIS(t *testing.T) {
	raw := encodings(t, "<190>IP Tunnel[1] Down: トンネルが切断されました")[CharsetShiftJIS]
	e, err := ParseSyslog([]byte(raw))
	if err != nil || e.Tunnel != 1 || !strings.Contains(e.Text, "トンネルが切断されました") {
		t.Errorf("%v %+v", err, e)
	}
}
