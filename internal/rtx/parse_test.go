package rtx

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var jst = time.FixedZone("JST", 9*3600)

func TestParseIPsecSASamples(t *testing.T) {
	for _, tc := range []struct {
		file               string
		rows, esp, tunnel  int
		total              [3]int
		firstLife, espLife time.Duration
		mode               string
	}{
		{"show-ipsec-sa.1.txt", 4, 2, 1, [3]int{2, 1, 1}, 27132 * time.Second, 1944 * time.Second, "tun"},
		// Old and rekeyed SAs side by side; Total disagrees with the rows.
		{"show-ipsec-sa.2.txt", 6, 4, 1, [3]int{3, 3, 3}, 21398 * time.Second, 21399 * time.Second, "tun"},
		// Spaces collapsed in the source, transport-mode rows of L2TP/IPsec.
		{"show-ipsec-sa.transport-l2tp.1.txt", 3, 2, 88, [3]int{1, 1, 1}, 3589 * time.Second, 3590 * time.Second, "tra"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			st, err := ParseIPsecSA(sample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(st.SAs) != tc.rows || [3]int{st.TotalISAKMP, st.TotalSend, st.TotalRecv} != tc.total {
				t.Errorf("rows %d totals %v: %+v", len(st.SAs), [3]int{st.TotalISAKMP, st.TotalSend, st.TotalRecv}, st)
			}
			if st.SAs[0].Kind != SAKindISAKMP || st.SAs[0].Remaining != tc.firstLife || st.SAs[0].Direction != "" {
				t.Errorf("first row: %+v", st.SAs[0])
			}
			var esp []SA
			for _, sa := range st.SAs {
				if sa.Kind == SAKindESP {
					esp = append(esp, sa)
				}
			}
			if len(esp) != tc.esp || esp[0].Tunnel != tc.tunnel || esp[0].Mode != tc.mode || esp[0].Remaining != tc.espLife || esp[0].Direction != "send" || esp[1].Direction != "recv" {
				t.Errorf("esp rows: %+v", esp)
			}
			if len(st.Warnings) != 0 {
				t.Errorf("warnings: %v", st.Warnings)
			}
		})
	}
}

func TestParseIPsecSACases(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		sas        int
		err        string
	}{
		{"tunnel down: no SAs", "Total: isakmp:0 send:0 recv:0\n", 0, ""},
		{"IKEv2 ike row and tabs", "sa\tsgw isakmp connection dir life[s] remote-id\n1\t1\t-\tike\t-\t28000\t203.0.113.10\n2\t1\t1\ttun[0001]esp\tsend\t3000\t203.0.113.10\n", 2, ""},
		{"ESP without isakmp row (dangling SA)", "3 1 - tun[0002]esp recv 120 203.0.113.20\n", 1, ""},
		{"bad direction", "3 1 2 tun[0001]esp both 1944 203.0.113.10\n", 0, "show ipsec sa: line 1: dir must be send, recv or -"},
		{"bad life", "3 1 2 tun[0001]esp send soon 203.0.113.10\n", 0, "life[s] is not a number"},
		{"unknown connection", "3 1 2 gre[1] send 10 x\n", 0, `unknown connection type "gre[1]"`},
		{"short row", "3 1 2\n", 0, "an SA row needs"},
		{"bad total", "Total: lots\n", 0, "cannot read the Total line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseIPsecSA(tc.text)
			if tc.err != "" {
				var pe *ParseError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &pe) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(st.SAs) != tc.sas {
				t.Fatalf("%v, %d SAs: %+v", err, len(st.SAs), st)
			}
		})
	}
	st, _ := ParseIPsecSA("3 1 - tun[0002]esp recv 120 203.0.113.20\n4 1 - tun[0002]esp send 120 203.0.113.20\n5 2 - isakmp - 100 x\n")
	if got := st.ForTunnel(2); len(got) != 2 || got[0].ISAKMP != 0 {
		t.Errorf("ForTunnel(2) = %+v", got)
	}
	if got := st.ForGateway(2); len(got) != 1 {
		t.Errorf("ForGateway(2) = %+v", got)
	}
}

func TestParseTunnelStatusSamples(t *testing.T) {
	for _, tc := range []struct {
		file   string
		since  time.Time
		uptime time.Duration
		rx, tx int64
		mtu    int
		desc   string
	}{
		{"show-status-tunnel.1.txt", time.Date(2011, 8, 15, 18, 19, 45, 0, jst), 5*time.Hour + 7*time.Minute + 58*time.Second, 3933, 3933, 0, ""},
		{"show-status-tunnel.2.txt", time.Date(2025, 12, 8, 13, 14, 20, 0, jst), 20*time.Minute + 56*time.Second, 171847, 154224, 1280, ""},
		{"show-status-tunnel.3.txt", time.Date(2021, 3, 25, 15, 4, 47, 0, jst), 2*time.Hour + 5*time.Minute + 10*time.Second, 391, 4964, 0, "とある接続先"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			st, err := ParseTunnelStatus(sample(t, tc.file), jst)
			if err != nil {
				t.Fatal(err)
			}
			if st.Number != 1 || !st.Online() || st.InterfaceType != "IPsec" || !st.Since.Equal(tc.since) || st.Uptime != tc.uptime ||
				st.RxPackets != tc.rx || st.TxPackets != tc.tx || st.MTU != tc.mtu || st.Description != tc.desc {
				t.Errorf("%+v", st)
			}
			if len(st.Warnings) != 0 {
				t.Errorf("warnings: %v", st.Warnings)
			}
		})
	}
	st, err := ParseTunnelStatus(sample(t, "show-status-ipip.1.txt"), jst)
	if err != nil || !st.Online() || st.Uptime != 69*time.Second || st.TxPackets != 10 {
		t.Errorf("ipip sample: %v %+v", err, st)
	}
}

func TestParseTunnelStatusCases(t *testing.T) {
	down, err := ParseTunnelStatus("TUNNEL[2]:\nDescription:\n  Interface type: IPsec\n  Current status is Offline.\n  Received:    (IPv4) 0 packet [0 octet]\n", jst)
	if err != nil || down.Online() || down.Status != "Offline" || down.Number != 2 {
		t.Errorf("offline: %v %+v", err, down)
	}
	ja, err := ParseTunnelStatus("TUNNEL[2]:\n説明:\n  トンネルインタフェースは接続されていません\n", jst)
	if err != nil || ja.Online() || ja.Status != "Offline" {
		t.Errorf("japanese offline: %v %+v", err, ja)
	}
	odd, err := ParseTunnelStatus("TUNNEL[3]:\n  Current status is Connecting.\n", jst)
	if err != nil || odd.Online() {
		t.Errorf("any status but Online is down: %v %+v", err, odd)
	}
	long, err := ParseTunnelStatus("TUNNEL[1]:\n  Current status is Online.\n  2 days 1 hour 0 minute 5 seconds  connection.\n", jst)
	if err != nil || long.Uptime != 49*time.Hour+5*time.Second {
		t.Errorf("days: %v %v", err, long.Uptime)
	}
	if _, err := ParseTunnelStatus("Invalid command name\n", jst); err == nil {
		t.Error("output without a TUNNEL header accepted")
	}
	if _, err := ParseTunnelStatus("TUNNEL[1]:\n  from 2011/13/45 99:99:99.\n", jst); err == nil || !strings.Contains(err.Error(), "line 2: cannot read the start time") {
		t.Errorf("bad date: %v", err)
	}
}

func TestParseBGPSample(t *testing.T) {
	st, err := ParseBGPNeighbors(sample(t, "show-status-bgp-neighbor.1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Neighbors) != 2 {
		t.Fatalf("%+v", st)
	}
	n := st.Neighbors[0]
	if n.Address != "169.254.255.1" || n.RemoteAS != "7224" || n.LocalAS != "65000" || n.State != "Active" || n.Established() || n.ReceivedPrefixes != -1 {
		t.Errorf("%+v", n)
	}
	if st.Neighbors[1].Address != "169.254.255.5" || len(st.Warnings) != 0 {
		t.Errorf("%+v", st)
	}
}

func TestParseBGPEstablished(t *testing.T) {
	text := "BGP neighbor is 169.254.10.1, remote AS 64512, local AS 65000, external link\n  BGP state = Established, up for 01:02:03\n" +
		"  Last read 00:00:05, hold time is 30, keepalive interval is 10 seconds\n  Received prefixes: 2\n  Connection established 3; dropped 2\n"
	st, err := ParseBGPNeighbors(text)
	if err != nil {
		t.Fatal(err)
	}
	n := st.Neighbors[0]
	if !n.Established() || n.Uptime != "01:02:03" || n.HoldTime != 30 || n.KeepaliveInterval != 10 || n.ReceivedPrefixes != 2 || n.EstablishedCount != 3 || n.Dropped != 2 {
		t.Errorf("%+v", n)
	}
	if _, err := ParseBGPNeighbors("BGP neighbor is 169.254.10.1, remote AS 64512\n"); err == nil {
		t.Error("neighbor without a state accepted")
	}
	if _, err := ParseBGPNeighbors("BGP neighbor is nowhere\n"); err == nil {
		t.Error("bad neighbor header accepted")
	}
}

// An error reply to received-routes is the firmware not offering it, not
// an output to read: with the prefix whatever the message, without it
// only the known messages. A support bundle holding such a reply reads the
// same way.
func TestReceivedRoutesRefused(t *testing.T) {
	for _, tc := range []struct {
		reply   string
		refused bool
	}{
		{"Error: Invalid parameter\n", true},
		{"ERROR: Invalid parameter\n", true},
		{"\r\nError: Invalid command name\r\n", true},
		{"エラー: パラメータが不正です\n", true},
		{"エラー：コマンド名を確認してください\n", true},
		{"Invalid parameter\n", true},
		{"Invalid command name\n", true},
		{"コマンド名を確認してください\n", true},
		{"Total routes: 0\n", false},
		{"Errors: 3\n", false},
		{"* 10.0.0.0/16  169.254.10.1  100  7224 IGP\nError: Invalid parameter\n", false},
	} {
		_, err := ParseReceivedRoutes(tc.reply)
		if got := errors.Is(err, ErrCommandUnknown); got != tc.refused {
			t.Errorf("%q: refused %v (%v), want %v", tc.reply, got, err, tc.refused)
		}
	}
	out := Outputs{CmdConfig: sample(t, "aws-yamaha-sample-config.txt"),
		CmdBGPNeighbor: "BGP neighbor is 169.254.255.1, remote AS 7224, local AS 65000, external link\n  BGP state = Established, up for 00:10:00\n" +
			"BGP neighbor is 169.254.255.5, remote AS 7224, local AS 65000, external link\n  BGP state = Established, up for 00:10:00\n",
		ReceivedRoutesCommand("169.254.255.1"): "Error: Invalid parameter\n",
		ReceivedRoutesCommand("169.254.255.5"): "エラー: パラメータが不正です\n"}
	snap, _, err := Build("r", out, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Warnings) > 0 {
		t.Errorf("bundle with refusals: warnings %v", snap.Warnings)
	}
	if len(snap.Tunnels) != 2 {
		t.Fatalf("tunnels: %+v", snap.Tunnels)
	}
	for _, tu := range snap.Tunnels {
		if tu.BGP == nil || tu.BGP.ReceivedPrefixes != -1 {
			t.Errorf("tunnel %d: received %+v, want unknown (-1)", tu.Config.Number, tu.BGP)
		}
	}
}

func TestParseIPRouteSamples(t *testing.T) {
	st, err := ParseIPRoute(sample(t, "show-ip-route.1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) != 2 || st.Routes[1].Kind != "BGP" || st.Routes[1].Tunnel != 1 || st.Routes[1].Info != "path=10124" {
		t.Errorf("%+v", st)
	}
	if got := st.BGPRoutesByTunnel(); got[1] != 1 || len(got) != 1 {
		t.Errorf("BGP routes by tunnel = %v", got)
	}
	st, err = ParseIPRoute(sample(t, "show-ip-route.2.txt"))
	if err != nil || len(st.Routes) != 10 || len(st.BGPRoutesByTunnel()) != 0 || st.Routes[6].Tunnel != 1 || st.Routes[6].Kind != "implicit" {
		t.Errorf("%v %+v", err, st)
	}
	if _, err := ParseIPRoute("10.0.0.0/16 169.254.255.1\n"); err == nil {
		t.Error("truncated route row accepted")
	}
}

func TestParseConfigAWSSample(t *testing.T) {
	c, err := ParseConfig(sample(t, "aws-yamaha-sample-config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tunnels) != 2 {
		t.Fatalf("tunnels: %+v", c.Tunnels)
	}
	t1 := c.Tunnels[0]
	checks := map[string]bool{
		"number":          t1.Number == 1 && t1.Enabled,
		"gateway":         t1.Gateway == 1,
		"remote":          t1.RemoteAddress == "72.21.209.225",
		"local":           t1.LocalAddress == "YOUR_LOCAL_NETWORK_ADDRESS",
		"inside":          t1.InsideAddress == "169.254.255.2/30" && t1.InsideRemote == "169.254.255.1",
		"default mtu":     t1.MTU == DefaultTunnelMTU && !t1.MTUConfigured,
		"mss 1387":        t1.MSSLimit == 1387 && t1.MSSConfigured && !t1.MSSAuto,
		"ipsec-sa 3600":   t1.IPsecSALifetime == time.Hour && t1.IPsecSALifetimeConfigured,
		"isakmp default":  t1.ISAKMPLifetime == DefaultSALifetime && !t1.ISAKMPLifetimeConfigured,
		"dpd":             t1.Keepalive == Keepalive{Enabled: true, Configured: true, Type: "dpd", Interval: 10, Retries: 3},
		"esp algorithms":  t1.ESPEncryption == "aes-cbc" && t1.ESPAuth == "sha-hmac",
		"ike algorithms":  t1.IKEEncryption == "aes-cbc" && t1.IKEHash == "sha" && t1.IKEGroup == "modp1024" && t1.PFS,
		"df bit":          t1.OuterDFBit == "clear",
		"ike v1":          t1.IKEVersion == 1,
		"tunnel 2 remote": c.Tunnels[1].RemoteAddress == "72.21.209.193" && c.Tunnels[1].Gateway == 2,
		"bgp":             c.BGP.Use && c.BGP.AS == "YOUR_BGP_ASN" && len(c.BGP.Neighbors) == 2,
		"bgp neighbor":    c.BGP.Neighbors[0] == BGPNeighborConfig{ID: 1, RemoteAS: "7224", Address: "169.254.255.1", HoldTime: 30, LocalAddress: "169.254.255.2"},
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s: %+v", name, t1)
		}
	}
	if strings.Contains(strings.Join(c.Unused, "\n"), "plain-text-password") {
		t.Error("a pre-shared key reached the unused lines")
	}
}

func TestParseConfigIndented(t *testing.T) {
	c, err := ParseConfig(sample(t, "aws-yamaha-config-ikev2-adapted.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t2, ok := c.Tunnel(2)
	if !ok || t2.Gateway != 1 || t2.RemoteAddress != "<AWS_TUNNEL1_OUTSIDE_IP>" || t2.LocalAddress != "192.168.128.1" ||
		!t2.MSSAuto || t2.IKEVersion != 2 || !t2.NATTraversal || t2.ISAKMPLifetime != 8*time.Hour || !t2.ISAKMPLifetimeConfigured ||
		t2.Keepalive.Type != "rfc4306" || t2.Encapsulation != "ipsec" {
		t.Errorf("tunnel 2 (gateway 1): %+v", t2)
	}
	if t3, _ := c.Tunnel(3); t3.Gateway != 2 || t3.InsideRemote != "169.254.222.133" {
		t.Errorf("tunnel 3: %+v", t3)
	}
	c, err = ParseConfig(sample(t, "show-config.1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := c.Tunnel(1)
	if c.Model != "RTX1100 Rev.8.03.92" || t1.RemoteAddress != "200.1.1.1" || t1.Keepalive.Type != "heartbeat" || !t1.MSSAuto || !t1.Enabled {
		t.Errorf("RTX1100 sample: model %q tunnel %+v", c.Model, t1)
	}
	if len(c.LANs) != 1 || c.LANs[0].Address != "192.168.1.1/24" {
		t.Errorf("LANs: %+v", c.LANs)
	}
}

func TestParseConfigCases(t *testing.T) {
	c, err := ParseConfig("ip lan2 mtu 1480\nip lan2 tcp mss limit 1440\ntunnel select 1\n ip tunnel mtu 1280\n ip tunnel tcp mss limit 1240\n")
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := c.Tunnel(1)
	if c.LANs[0] != (LANConfig{Name: "lan2", MTU: 1480, MSSLimit: 1440, MSSConfigured: true}) || t1.MTU != 1280 || !t1.MTUConfigured || t1.MSSLimit != 1240 {
		t.Errorf("the seed's fix: %+v %+v", c.LANs, t1)
	}
	for _, tc := range []struct{ text, want string }{
		{"tunnel select 1\n ip tunnel mtu big\n", "show config: line 2: MTU must be a number of bytes"},
		{"tunnel select 1\n ip tunnel tcp mss limit lots\n", "line 2: MSS limit must be a number of bytes, auto or off"},
		{"ipsec ike duration ipsec-sa 1 forever\n", "lifetime must be a number of seconds"},
		{"tunnel select one\n", "tunnel number expected"},
		{"ipsec ike keepalive use 1 maybe\n", "keepalive use must be on, off or auto"},
	} {
		if _, err := ParseConfig(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	c, _ = ParseConfig("ip filter 1 pass * * * * *\npp auth myname user@isp s3cret-pp-pass\n")
	if want := []string{"line 1: ip filter …", "line 2: pp auth myname …"}; !slices.Equal(c.Unused, want) {
		t.Errorf("unused lines %q, want %q (keywords only)", c.Unused, want)
	}
}

// TestEverySampleParses runs each sample through the parser for its
// command: none may fail or panic.
func TestEverySampleParses(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, f := range files {
		text := sample(t, filepath.Base(f))
		var err error
		switch b := filepath.Base(f); {
		case strings.HasPrefix(b, "show-ipsec-sa."):
			_, err = ParseIPsecSA(text)
		case strings.HasPrefix(b, "show-status-tunnel"), strings.HasPrefix(b, "show-status-ipip"):
			_, err = ParseTunnelStatus(text, jst)
		case b == "show-status-bgp-neighbor.1.txt":
			_, err = ParseBGPNeighbors(text)
		case strings.HasPrefix(b, "show-ip-route"):
			_, err = ParseIPRoute(text)
		case strings.HasPrefix(b, "show-config"), strings.HasPrefix(b, "aws-yamaha"):
			_, err = ParseConfig(text)
		default:
			continue // syslog, command lists, references: other parsers
		}
		if err != nil {
			t.Errorf("%s: %v", b(f), err)
		}
	}
}

func b(f string) string { return filepath.Base(f) }

func TestRedactConfig(t *testing.T) {
	in := "tunnel select 1\n  ipsec ike pre-shared-key 1 text plain-text-password1\n login password s3cret\n administrator password encrypted ABCDEF\n" +
		"login user monitor pw123\n pp auth myname user@isp ppp-pass\nbgp neighbor pre-shared-key 1 text bgp-secret\nip lan1 address 192.0.2.1/24\n"
	out := RedactConfig(in)
	for _, secret := range []string{"plain-text-password1", "s3cret", "ABCDEF", "pw123", "ppp-pass", "bgp-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived redaction:\n%s", secret, out)
		}
	}
	for _, keep := range []string{"ipsec ike pre-shared-key 1 <redacted>", "login user <redacted>", "pp auth <redacted>", "ip lan1 address 192.0.2.1/24"} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q:\n%s", keep, out)
		}
	}
	c, err := ParseConfig(RedactConfig(sample(t, "aws-yamaha-sample-config.txt")))
	if err != nil || len(c.Tunnels) != 2 {
		t.Errorf("redacted sample no longer parses: %v", err)
	}
}

// Every string of a TunnelConfig is interned: none still points into the
// text it was cut from (a new field left out would pin `show config`).
func TestTunnelConfigInternsEveryString(t *testing.T) {
	text := strings.Repeat("x", 64) + "value"
	var tc TunnelConfig
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		for i := range v.NumField() {
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				f.SetString(text[64:])
			case reflect.Struct:
				fill(f)
			}
		}
	}
	fill(reflect.ValueOf(&tc).Elem())
	tc.intern()
	lo, hi := uintptr(unsafe.Pointer(unsafe.StringData(text))), uintptr(unsafe.Pointer(unsafe.StringData(text)))+uintptr(len(text))
	var check func(v reflect.Value, path string)
	check = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.String:
				if p := uintptr(unsafe.Pointer(unsafe.StringData(f.String()))); p >= lo && p < hi {
					t.Errorf("TunnelConfig.%s is not interned", name)
				}
			case reflect.Struct:
				check(f, name+".")
			}
		}
	}
	check(reflect.ValueOf(tc), "")
}
