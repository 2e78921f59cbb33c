package strongswan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lab is a real poll of the lab's customer gateway (charon 5.9.8 with
// kernel-libipsec, FRR 8.4, nftables 1.0.6), kept by
// VPNWATCHD_SWAN_CAPTURE=testdata/lab go test -run TestRealStrongSwanOverSSH.
func lab(t testing.TB) Outputs {
	t.Helper()
	outs := Outputs{}
	files, _ := filepath.Glob("testdata/lab/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outs[filepath.Base(f)] = b
	}
	if len(outs) == 0 {
		t.Fatal("no testdata/lab")
	}
	return outs
}

func TestBuildFromRealOutputs(t *testing.T) {
	at := time.Date(2026, 11, 30, 16, 42, 0, 0, time.UTC)
	snap, err := Build("lab", lab(t), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Warnings) > 0 || len(snap.Unchecked) > 0 {
		t.Errorf("warnings %v, unchecked %v", snap.Warnings, snap.Unchecked)
	}
	if len(snap.Tunnels) != 2 {
		t.Fatalf("tunnels = %+v", snap.Tunnels)
	}
	for i, tn := range snap.Tunnels {
		n := string(rune('1' + i))
		if tn.Name != "aws-"+n || !tn.Known || !tn.Up || tn.LocalAddress != "198.18.1.1" || tn.RemoteAddress != "198.18.1."+string(rune('2'+i)) {
			t.Errorf("tunnel %d = %+v", i, tn)
		}
		if len(tn.SAs) != 2 || tn.Settings.MTU != 1400 || tn.Settings.MSSKnown || tn.Settings.IKELifetime != time.Minute || !tn.Settings.DPD.Enabled {
			t.Errorf("%s: SAs %+v, settings %+v", tn.Name, tn.SAs, tn.Settings)
		}
		if tn.BGP == nil || !tn.BGP.Established || tn.BGP.ReceivedPrefixes != 1 || tn.BGP.RemoteAS != "64512" {
			t.Errorf("%s: BGP %+v", tn.Name, tn.BGP)
		}
	}
	if !snap.BGP.Known || snap.BGP.AS != "65000" || len(snap.Peers) != 2 {
		t.Errorf("BGP %+v, peers %+v", snap.BGP, snap.Peers)
	}
}

// What could not be read is said, and nothing else is lost.
func TestBuildSaysWhatWasNotRead(t *testing.T) {
	outs := lab(t)
	delete(outs, FileAddresses)
	outs[FileAddresses+ErrorSuffix] = []byte("ip -d -j addr: exit status 1: Cannot open netlink socket: Operation not permitted\n")
	outs[FileRuleset] = []byte("{not json")
	delete(outs, FileBGP)
	snap, err := Build("lab", outs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tunnel MTU not read: ip -d -j addr: exit status 1: Cannot open netlink socket: Operation not permitted", "MSS clamping not read: nft -j list ruleset: "}
	if len(snap.Unchecked) != 2 || snap.Unchecked[0] != want[0] || !strings.HasPrefix(snap.Unchecked[1], want[1]) {
		t.Errorf("unchecked = %q", snap.Unchecked)
	}
	if snap.BGP.Known || snap.Tunnels[0].BGP != nil || snap.Tunnels[0].Settings.MTU != 0 || !snap.Tunnels[0].Up {
		t.Errorf("without FRR and MTU: BGP %+v, tunnel %+v", snap.BGP, snap.Tunnels[0])
	}
	delete(outs, FileSAs)
	if _, err := Build("lab", outs, time.Now()); err == nil || err.Error() != "no list-sas.json" {
		t.Errorf("no list-sas: %v", err)
	}
	outs[FileSAs] = []byte(`[{"aws-1":{"state":1}}]`)
	if _, err := Build("lab", outs, time.Now()); err == nil || !strings.HasPrefix(err.Error(), "list-sas.json: offset ") {
		t.Errorf("bad list-sas: %v", err)
	}
}

// Encoding keeps charon's order of keys, so a bundle reads back as the
// messages vici sent.
func TestMessagesRoundTrip(t *testing.T) {
	for _, f := range []string{FileConns, FileSAs} {
		data := lab(t)[f]
		msgs, err := DecodeMessages(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if again := EncodeMessages(msgs); !bytes.Equal(again, data) {
			t.Errorf("%s: not the same after a round trip:\n%s\n%s", f, again, data)
		}
	}
}

func TestParseMSSClamp(t *testing.T) {
	for _, tc := range []struct {
		file string
		mss  int
		auto bool
	}{
		{"testdata/nft-mss-1360.json", 1360, false}, // two rules: the smaller clamp is what traffic gets
		{"testdata/nft-mss-rtmtu.json", 0, true},
		{"testdata/lab/nft-ruleset.json", 0, false},
	} {
		b, _ := os.ReadFile(tc.file)
		mss, auto, err := ParseMSSClamp(b)
		if err != nil || mss != tc.mss || auto != tc.auto {
			t.Errorf("%s: %d %v %v, want %d %v", tc.file, mss, auto, err, tc.mss, tc.auto)
		}
	}
}

func TestParseBGPSummaryActive(t *testing.T) {
	b, _ := os.ReadFile("testdata/bgp-summary-active.json")
	cfg, peers, err := ParseBGPSummary(b)
	if err != nil || cfg.AS != "65000" || len(peers) != 1 || peers[0].State != "Active" || peers[0].Established || peers[0].ReceivedPrefixes != 0 {
		t.Errorf("%+v %+v %v", cfg, peers, err)
	}
}

func TestAllowlist(t *testing.T) {
	for _, c := range []command{cmdAddresses, cmdRuleset, bgpSummary(""), bgpSummary("/run/frr/ns1")} {
		if err := allowed(c); err != nil {
			t.Errorf("%s refused: %v", c, err)
		}
	}
	for _, c := range []command{{"nft", []string{"flush", "ruleset"}}, {"vtysh", []string{"-c", "configure terminal"}},
		{"vtysh", []string{"--vty_socket", "/x", "-c", "show bgp ipv4 unicast summary json", "-c", "clear bgp *"}},
		{"ip", []string{"link", "set", "ipsec0", "down"}}, {"sh", []string{"-c", "ip -j addr"}}} {
		if allowed(c) == nil {
			t.Errorf("%s allowed", c)
		}
	}
	if got := shellLine(command{"vtysh", []string{"-c", "show bgp ipv4 unicast summary json", "it's"}}); got != `'vtysh' '-c' 'show bgp ipv4 unicast summary json' 'it'\''s'` {
		t.Errorf("shellLine = %s", got)
	}
}

func FuzzDecodeMessages(f *testing.F) {
	outs := lab(f)
	f.Add(outs[FileConns])
	f.Add(outs[FileSAs])
	f.Add([]byte(`[{"a":[],"b":{"c":"d"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := DecodeMessages(data)
		if err != nil {
			return
		}
		again, err := DecodeMessages(EncodeMessages(msgs))
		if err != nil || len(again) != len(msgs) {
			t.Fatalf("re-encoded messages do not decode: %v", err)
		}
		ParseConns(msgs)
		ParseSAs(msgs)
	})
}

// FuzzBuild fuzzes list-sas against the lab's list-conns: the mapping of
// vici's answers to tunnels. (The ip, nft and FRR outputs have fuzzers of
// their own or are plain encoding/json; with them in, this target ran a
// handful of inputs a second under the fuzzer's instrumentation.)
func FuzzBuild(f *testing.F) {
	outs := lab(f)
	f.Add(outs[FileSAs])
	f.Fuzz(func(t *testing.T, sas []byte) {
		snap, err := Build("fuzz", Outputs{FileConns: outs[FileConns], FileSAs: sas}, time.Time{})
		if err == nil && len(snap.Tunnels) != 2 {
			t.Fatalf("%d tunnels from list-conns' 2", len(snap.Tunnels))
		}
	})
}

func FuzzParseMSSClamp(f *testing.F) {
	for _, file := range []string{"testdata/nft-mss-1360.json", "testdata/nft-mss-rtmtu.json", "testdata/lab/nft-ruleset.json"} {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mss, auto, err := ParseMSSClamp(data)
		if err == nil && mss > 0 && auto {
			t.Fatal("both a number and rt mtu")
		}
	})
}

func FuzzParseBGPSummary(f *testing.F) {
	for _, file := range []string{"testdata/bgp-summary-active.json", "testdata/lab/bgp-summary.json"} {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, peers, err := ParseBGPSummary(data)
		if err == nil && len(cfg.Neighbors) != len(peers) {
			t.Fatalf("%d neighbors, %d peers", len(cfg.Neighbors), len(peers))
		}
	})
}

// BenchmarkBuild is the CPU of one strongSwan poll besides the I/O: a
// real poll's answers (two connections, FRR) to a snapshot.
func BenchmarkBuild(b *testing.B) {
	outs := lab(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build("lab", outs, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The moments of a healthy rekey are not outages: a listing that shows
// only the REKEYING child SA, or two IKE SAs of one connection (an IKE
// rekey or a collision) with the children on one of them, is a tunnel up.
func TestRekeyMomentsAreUp(t *testing.T) {
	child := func(id, state string) string {
		return `"aws-1-` + id + `":{"name":"aws-1","uniqueid":"` + id + `","state":"` + state + `","encap":"yes","encr-alg":"AES_CBC","encr-keysize":"128","integ-alg":"HMAC_SHA2_256_128","packets-in":"8","rekey-time":"16","life-time":"37","install-time":"3","local-ts":["198.18.100.2/32"],"remote-ts":["198.18.100.1/32"]}`
	}
	ike := func(id, state, children string) string {
		return `{"aws-1":{"uniqueid":"` + id + `","version":"2","state":"` + state + `","local-host":"198.18.1.1","remote-host":"198.18.1.2","encr-alg":"AES_CBC","encr-keysize":"128","integ-alg":"HMAC_SHA2_256_128","dh-group":"MODP_2048","child-sas":{` + children + `}}}`
	}
	for name, sas := range map[string]string{
		"child REKEYING, successor not yet installed": "[" + ike("1", "ESTABLISHED", child("7", "REKEYING")+","+child("8", "INSTALLING")) + "]",
		"IKE rekey: children on the first IKE SA":     "[" + ike("1", "ESTABLISHED", child("7", "INSTALLED")) + "," + ike("2", "ESTABLISHED", "") + "]",
		"IKE rekey: children on the second IKE SA":    "[" + ike("1", "REKEYING", "") + "," + ike("2", "ESTABLISHED", child("7", "INSTALLED")) + "]",
	} {
		outs := lab(t)
		outs[FileSAs] = []byte(sas)
		snap, err := Build("lab", outs, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tn := snap.Tunnels[0]; !tn.Up || tn.State != "ESTABLISHED/INSTALLED" || len(tn.SAs) == 0 {
			t.Errorf("%s: %s up=%v SAs %v", name, tn.State, tn.Up, tn.SAs)
		}
	}
	// Really down: an IKE SA whose only child is being deleted.
	outs := lab(t)
	outs[FileSAs] = []byte("[" + ike("1", "ESTABLISHED", child("7", "DELETING")) + "]")
	snap, _ := Build("lab", outs, time.Now())
	if tn := snap.Tunnels[0]; tn.Up || tn.State != "ESTABLISHED/no child SA" {
		t.Errorf("deleting: %s up=%v", tn.State, tn.Up)
	}
}

// One outage is one drop, however many down events it made (the IKE SA's
// and each child SA's arrive together); events.json keeps them for
// diagnose.
func TestDropsFromEvents(t *testing.T) {
	outs := lab(t)
	outs[FileEvents] = []byte(`{"aws-1":[
	 {"Time":"2026-11-30T17:33:50.100Z","Text":"vici ike-updown: IKE SA down (IKE state DESTROYING)","Down":true},
	 {"Time":"2026-11-30T17:33:50.101Z","Text":"vici child-updown: child SA down (IKE state DESTROYING)","Down":true},
	 {"Time":"2026-11-30T17:33:50.300Z","Text":"vici ike-updown: IKE SA up (IKE state ESTABLISHED)"},
	 {"Time":"2026-11-30T17:34:31Z","Text":"vici ike-updown: IKE SA down (IKE state DESTROYING)","Down":true}]}`)
	snap, err := Build("lab", outs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := snap.Tunnels[0].Drops()
	if len(d) != 2 || !d[0].Equal(time.Date(2026, 11, 30, 17, 33, 50, 100e6, time.UTC)) || !d[1].Equal(time.Date(2026, 11, 30, 17, 34, 31, 0, time.UTC)) {
		t.Errorf("drops = %v", d)
	}
	if d := snap.Tunnels[1].Drops(); len(d) != 0 {
		t.Errorf("aws-2 drops = %v", d)
	}
}

// charon leaves dpd_delay out of list-conns when it is 0 (unset or
// `dpd_delay = 0s`): DPD is off, not unknown (a real listing).
func TestDPDOffWhenListConnsOmitsIt(t *testing.T) {
	b, err := os.ReadFile("testdata/list-conns-dpd.json")
	if err != nil {
		t.Fatal(err)
	}
	outs := lab(t)
	outs[FileConns] = b
	snap, err := Build("lab", outs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Tunnels) != 2 {
		t.Fatalf("tunnels: %+v", snap.Tunnels)
	}
	for _, tn := range snap.Tunnels {
		if d := tn.Settings.DPD; !d.Known || d.Enabled || d.Text != "off (no dpd_delay)" {
			t.Errorf("%s: DPD %+v", tn.Name, d)
		}
	}
	// With dpd_delay: on, with the action.
	snap, _ = Build("lab", lab(t), time.Now())
	if d := snap.Tunnels[0].Settings.DPD; !d.Enabled || d.Interval != 10*time.Second || d.Text != "dpd_delay = 10s, dpd_action = start" {
		t.Errorf("aws-1: DPD %+v", d)
	}
}
