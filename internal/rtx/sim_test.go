package rtx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
)

// seedConfig is the AWS sample configuration for RTX with the two tunnels
// of the seed incident: `ip tunnel tcp mss limit 1379` and no `ip tunnel
// mtu` (so the default 1280).
var seedConfig = rtxsim.SampleConfig{WAN: "198.18.0.2", OutsideIPs: []string{"203.0.113.10", "203.0.113.20"}, MSS: "1379", IPsecSALifetime: 3600, DPD: true}.Text()

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type simRouter struct {
	router *rtxsim.Router
	server *rtxsim.Server
	clock  *fakeClock
	cfg    config.Router
}

func startSim(t *testing.T) *simRouter {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	r := rtxsim.New("RTX1200 Rev.10.01.65", seedConfig, clock.Now)
	for _, tu := range []rtxsim.Tunnel{
		{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16", "10.1.0.0/16"}},
		{Number: 2, Remote: "203.0.113.20", Neighbor: "169.254.20.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16", "10.1.0.0/16"}},
	} {
		r.AddTunnel(tu)
	}
	key, err := rtxsim.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rtxsim.Listen("127.0.0.1:0", r, key, "monitor", "rtx-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeKnownHosts(t, kh, srv.Addr(), key.PublicKey())
	return &simRouter{router: r, server: srv, clock: clock, cfg: config.Router{
		Name: "osaka-rtx1200", Address: srv.Addr(), User: "monitor",
		SSHLogin: config.SSHLogin{Password: "rtx-pass", KnownHosts: kh}, Timeout: 5 * time.Second,
	}}
}

func writeKnownHosts(t *testing.T, path, addr string, key ssh.PublicKey) {
	t.Helper()
	if err := os.WriteFile(path, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *simRouter) sessionConfig() SessionConfig {
	return SessionConfig{Config: sshlogin.Config{Address: s.cfg.Address, User: s.cfg.User, Password: s.cfg.Password.Reveal(), KnownHosts: s.cfg.KnownHosts, Timeout: s.cfg.Timeout}}
}

func dial(t *testing.T, s *simRouter) *Session {
	t.Helper()
	sess, err := Dial(context.Background(), s.sessionConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// TestSessionAgainstSimulator reads every command through the real SSH
// client in each console character set an RTX may have: Shift_JIS (the
// Japanese models' default), EUC-JP, UTF-8 and ASCII. Both tunnels' BGP is
// established: the routing table has the VPC routes via tunnel 1 only (the
// best path), received-routes has them for both neighbors.
func TestSessionAgainstSimulator(t *testing.T) {
	for _, cs := range rtxsim.Charsets {
		t.Run(cs, func(t *testing.T) {
			s := startSim(t)
			s.router.SetConsoleCharacter(cs)
			testSession(t, s, cs)
		})
	}
}

func testSession(t *testing.T, s *simRouter, cs string) {
	sess := dial(t, s)
	ctx := context.Background()
	out, err := sess.Run(ctx, "show ipsec sa")
	if err != nil {
		t.Fatal(err)
	}
	sas, err := ParseIPsecSA(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := sas.ForTunnel(1); len(got) != 2 || got[0].Remaining != time.Hour || got[0].Remote != "203.0.113.10" {
		t.Errorf("tunnel 1 SAs: %+v\n%s", got, out)
	}
	out, err = sess.Run(ctx, "show status tunnel 1")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := ParseTunnelStatus(out, time.UTC); err != nil || !st.Online() || st.Number != 1 || len(st.Warnings) > 0 {
		t.Errorf("tunnel status: %v %+v\n%q", err, st, out)
	}
	if ja := strings.HasPrefix(cs, "ja."); ja != strings.Contains(out, "トンネルインタフェースは接続されています") {
		t.Errorf("%s console: Japanese output %v, got %q", cs, ja, out)
	}
	out, _ = sess.Run(ctx, "show status bgp neighbor")
	if bgp, err := ParseBGPNeighbors(out); err != nil || len(bgp.Neighbors) != 2 || !bgp.Neighbors[0].Established() || !bgp.Neighbors[1].Established() {
		t.Errorf("bgp: %v %+v", err, bgp)
	}
	for _, nb := range []string{"169.254.10.1", "169.254.20.1"} {
		out, _ = sess.Run(ctx, ReceivedRoutesCommand(nb))
		if r, err := ParseReceivedRoutes(out); err != nil || r.Total != 2 || len(r.Networks) != 2 {
			t.Errorf("received-routes %s: %v %+v\n%s", nb, err, r, out)
		}
	}
	out, _ = sess.Run(ctx, "show ip route")
	if rt, err := ParseIPRoute(out); err != nil || rt.BGPRoutesByTunnel()[1] != 2 || rt.BGPRoutesByTunnel()[2] != 0 {
		t.Errorf("routes (best path via tunnel 1 only): %v %+v", err, rt)
	}
	out, _ = sess.Run(ctx, "show config")
	c, err := ParseConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if t1, _ := c.Tunnel(1); t1.MSSLimit != 1379 || t1.MTU != 1280 || t1.RemoteAddress != "203.0.113.10" || c.Model != "RTX1200 Rev.10.01.65" {
		t.Errorf("config: %+v", t1)
	}
	want := []string{"console lines infinity", "console columns 200", "show ipsec sa", "show status tunnel 1", "show status bgp neighbor",
		ReceivedRoutesCommand("169.254.10.1"), ReceivedRoutesCommand("169.254.20.1"), "show ip route", "show config"}
	if got := s.server.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands sent: %q", got)
	}
}

// A firmware that keeps paging: the client answers the pager and the
// output comes back whole.
// The pager prompt arrives in the console's character set: "---つづく---"
// in Shift_JIS or EUC-JP bytes on Japanese consoles.
func TestPagerAnswered(t *testing.T) {
	for _, cs := range rtxsim.Charsets {
		t.Run(cs, func(t *testing.T) {
			s := startSim(t)
			s.router.SetConsoleCharacter(cs)
			s.server.KeepPaging = true
			sess := dial(t, s)
			out, err := sess.Run(context.Background(), "show config")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "more") || strings.Contains(out, "つづく") || strings.Contains(out, "---") ||
				!strings.Contains(out, "bgp neighbor 2 64512 169.254.20.1") || !strings.Contains(out, "tunnel select 1") {
				t.Errorf("paged output not reassembled:\n%s", out)
			}
			if n := strings.Count(out, "\n"); n < 30 {
				t.Errorf("only %d lines", n)
			}
		})
	}
}

// A healthy active/standby VPN: both neighbors established, the VPC
// prefixes installed via tunnel 1 only. Both tunnels received them, in
// every console character set and whether or not the firmware prints a
// prefix line; a firmware without received-routes leaves them unknown
// (never 0) and is not asked again.
func TestPollerActiveStandby(t *testing.T) {
	for _, cs := range rtxsim.Charsets {
		for _, variant := range []string{"received-routes", "prefix line too", "no received-routes"} {
			t.Run(cs+"/"+variant, func(t *testing.T) {
				s := startSim(t)
				s.router.SetConsoleCharacter(cs)
				want := 2
				switch variant {
				case "prefix line too":
					s.router.SetPrefixLine(true)
				case "no received-routes":
					s.router.SetReceivedRoutes(false)
					want = -1
				}
				p := newSimPoller(s)
				defer p.Close()
				for range 2 {
					snap := p.Poll(context.Background())
					if snap.Err != nil {
						t.Fatal(snap.Err)
					}
					t1, t2 := snap.Tunnels[0], snap.Tunnels[1]
					if t1.InstalledRoutes != 2 || t2.InstalledRoutes != 0 {
						t.Errorf("installed routes %d/%d, want 2/0 (best path only)", t1.InstalledRoutes, t2.InstalledRoutes)
					}
					for _, tu := range snap.Tunnels {
						if tu.BGP == nil || !tu.BGP.Established() || tu.BGP.ReceivedPrefixes != want {
							t.Errorf("tunnel %d: received %+v, want %d", tu.Config.Number, tu.BGP, want)
						}
					}
					if len(snap.Warnings) > 0 {
						t.Errorf("warnings: %v", snap.Warnings)
					}
				}
				asked := 0
				for _, c := range s.server.Commands() {
					if strings.HasSuffix(c, "received-routes") {
						asked++
					}
				}
				if wantAsked := map[bool]int{true: 1, false: 4}[want < 0]; asked != wantAsked {
					t.Errorf("received-routes asked %d times in two polls, want %d", asked, wantAsked)
				}
			})
		}
	}
}

// A firmware that knows `show status bgp neighbor` but not its
// received-routes argument answers with an error, in English or (in the
// console's character set) in Japanese, with or without the "Error:"
// prefix. It is not a line vpnwatchd failed to read: no warning, the
// routes received stay unknown, the refusal is counted, and it is not
// asked again in the session. The Japanese wordings after the prefix are
// not known from a sample: the prefix is what tells.
func TestPollerReceivedRoutesRefused(t *testing.T) {
	for _, tc := range []struct{ name, charset, reply string }{
		{"older firmware", "ascii", "Error: Invalid parameter"},
		{"older firmware, Japanese console", "ja.sjis", "エラー: パラメータが不正です"},
		{"Japanese console in EUC-JP", "ja.euc", "エラー: コマンド名を確認してください"},
		{"without the prefix", "ascii", "Invalid parameter"},
		{"without the prefix, Japanese", "ja.sjis", "パラメータが範囲を越えています"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t)
			s.router.SetConsoleCharacter(tc.charset)
			s.router.SetReceivedRoutesReply(tc.reply)
			var refused []string
			p := NewPoller(s.cfg, Options{Now: s.clock.Now, Location: time.UTC,
				OnUnsupported: func(router, cmd string) { refused = append(refused, router+" "+cmd) }})
			defer p.Close()
			for range 2 {
				snap := p.Poll(t.Context())
				if snap.Err != nil {
					t.Fatal(snap.Err)
				}
				if len(snap.Warnings) > 0 {
					t.Errorf("warnings (RouterOutputUnreadable): %v", snap.Warnings)
				}
				for _, tu := range snap.Tunnels {
					if tu.BGP == nil || !tu.BGP.Established() || tu.BGP.ReceivedPrefixes != -1 {
						t.Errorf("tunnel %d: received %+v, want unknown (-1)", tu.Config.Number, tu.BGP)
					}
				}
			}
			if want := []string{"osaka-rtx1200 " + CmdReceivedRoutes}; strings.Join(refused, "|") != strings.Join(want, "|") {
				t.Errorf("counted %q, want %q", refused, want)
			}
			asked := func() (n int) {
				for _, c := range s.server.Commands() {
					if strings.HasSuffix(c, "received-routes") {
						n++
					}
				}
				return n
			}
			if n := asked(); n != 1 {
				t.Errorf("received-routes asked %d times in two polls, want 1", n)
			}
			// A new session (after a reboot, a firmware update) asks again.
			s.router.DropNext()
			if snap := p.Poll(t.Context()); snap.Err == nil {
				t.Fatal("poll over a dropped session did not fail")
			}
			if snap := p.Poll(t.Context()); snap.Err != nil || len(snap.Warnings) > 0 {
				t.Fatalf("poll after reconnect: %v %v", snap.Err, snap.Warnings)
			}
			if n := asked(); n != 2 || len(refused) != 2 {
				t.Errorf("after a new session: asked %d times, counted %d, want 2 and 2", n, len(refused))
			}
		})
	}
}

// No public sample shows a down tunnel: with the guessed wording the
// tunnel reads Offline; with any other wording it is unknown and the line
// is reported — never down, never up.
func TestOfflineWordingVariants(t *testing.T) {
	for _, cs := range rtxsim.Charsets {
		for _, w := range []rtxsim.OfflineWording{rtxsim.OfflineGuessed, rtxsim.OfflineUnknownWords} {
			t.Run(fmt.Sprintf("%s/%d", cs, w), func(t *testing.T) {
				s := startSim(t)
				s.router.SetConsoleCharacter(cs)
				s.router.SetOfflineWording(w)
				s.router.Disconnect(1)
				p := newSimPoller(s)
				defer p.Close()
				snap := p.Poll(context.Background())
				if snap.Err != nil {
					t.Fatal(snap.Err)
				}
				st := snap.Tunnels[0].Status
				if w == rtxsim.OfflineGuessed {
					if st.Status != "Offline" || len(snap.Warnings) > 0 {
						t.Errorf("guessed wording: status %q, warnings %v", st.Status, snap.Warnings)
					}
					return
				}
				if st.Known() || st.Online() {
					t.Errorf("unknown wording read as %q", st.Status)
				}
				if len(snap.Warnings) != 1 || snap.Warnings[0].Command != "show status tunnel 1" || !strings.Contains(snap.Warnings[0].Text, "トンネルインタフェースはIKE") && !strings.Contains(snap.Warnings[0].Text, "Disconnected") {
					t.Errorf("warnings %v, want the status line quoted", snap.Warnings)
				}
			})
		}
	}
}

func TestAllowlistRefusesBeforeTheWire(t *testing.T) {
	s := startSim(t)
	sess := dial(t, s)
	for _, cmd := range []string{"administrator", "clear ipsec sa", "ipsec refresh sa", "save", "show config; save", "tunnel select 1", "show ipsec sa\rsave", "console character ascii"} {
		if _, err := sess.Run(context.Background(), cmd); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%q: %v, want ErrNotAllowed", cmd, err)
		}
	}
	for _, c := range s.server.Commands() {
		if !strings.HasPrefix(c, "console lines") && !strings.HasPrefix(c, "console columns") {
			t.Errorf("the router received %q", c)
		}
	}
}

func TestHostKeyChecks(t *testing.T) {
	s := startSim(t)
	other, _ := rtxsim.NewHostKey()
	writeKnownHosts(t, s.cfg.KnownHosts, s.cfg.Address, other.PublicKey())
	_, err := Dial(context.Background(), s.sessionConfig())
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Unknown || !strings.Contains(err.Error(), "CHANGED") || !strings.Contains(err.Error(), "ssh-keyscan -p") {
		t.Errorf("changed key: %v", err)
	}
	os.WriteFile(s.cfg.KnownHosts, []byte("[198.18.9.9]:22 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey())))+"\n"), 0o600)
	_, err = Dial(context.Background(), s.sessionConfig())
	if !errors.As(err, &hk) || !hk.Unknown || !strings.Contains(err.Error(), "is not in") || !strings.Contains(err.Error(), hk.Fingerprint) {
		t.Errorf("unknown host: %v", err)
	}
	if s.server.Logins() != 0 {
		t.Error("logged in despite a bad host key")
	}
}

func TestWrongPassword(t *testing.T) {
	s := startSim(t)
	c := s.sessionConfig()
	c.Password = "wrong"
	if _, err := Dial(context.Background(), c); err == nil || !strings.Contains(err.Error(), "ssh login") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestCommandTimeout(t *testing.T) {
	s := startSim(t)
	sess := dial(t, s)
	s.router.SetSlow(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := sess.Run(ctx, "show ipsec sa")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow router: %v", err)
	}
	if _, err := sess.Run(context.Background(), "show ipsec sa"); err == nil {
		t.Error("a session that timed out is reused")
	}
}

func newSimPoller(s *simRouter) *Poller {
	return NewPoller(s.cfg, Options{Now: s.clock.Now, Location: time.UTC})
}

func TestPollerReconnectsAfterDrop(t *testing.T) {
	s := startSim(t)
	p := newSimPoller(s)
	defer p.Close()
	ctx := context.Background()
	if snap := p.Poll(ctx); snap.Err != nil || len(snap.Tunnels) != 2 {
		t.Fatalf("first poll: %v %+v", snap.Err, snap)
	}
	s.router.DropNext()
	if snap := p.Poll(ctx); snap.Err == nil || snap.Tunnels != nil {
		t.Fatalf("poll over a dropped session: %v", snap.Err)
	}
	snap := p.Poll(ctx)
	if snap.Err != nil || len(snap.Tunnels) != 2 {
		t.Fatalf("poll after reconnect: %v", snap.Err)
	}
	if n := s.server.Logins(); n != 2 {
		t.Errorf("logins = %d, want 2 (one persistent session, one reconnect)", n)
	}
}

func TestPollerSnapshot(t *testing.T) {
	s := startSim(t)
	s.router.StickBGP(1, "Active")
	p := newSimPoller(s)
	defer p.Close()
	snap := p.Poll(context.Background())
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	t1, t2 := snap.Tunnels[0], snap.Tunnels[1]
	if !t1.Status.Online() || t1.BGP == nil || t1.BGP.State != "Active" || t1.InstalledRoutes != 0 || t1.BGP.ReceivedPrefixes != -1 || len(t1.SAs) != 2 {
		t.Errorf("tunnel 1 (IPsec up, BGP Active): %+v", t1)
	}
	if t1.Config.MSSLimit != 1379 || t1.Config.MTU != 1280 || t1.Config.IPsecSALifetime != time.Hour {
		t.Errorf("tunnel 1 config: %+v", t1.Config)
	}
	if t2.BGP == nil || !t2.BGP.Established() || t2.InstalledRoutes != 2 || t2.BGP.ReceivedPrefixes != 2 {
		t.Errorf("tunnel 2: %+v", t2)
	}
	for _, w := range snap.Warnings {
		if strings.Contains(w.String(), rtxsim.SamplePSK(1)) {
			t.Errorf("a pre-shared key in the warnings: %s", w)
		}
	}
}

// A rekey shows as new SA numbers with a fresh lifetime, and is counted.
func TestRekeyObserved(t *testing.T) {
	s := startSim(t)
	p := newSimPoller(s)
	defer p.Close()
	ctx := context.Background()
	first := p.Poll(ctx).Tunnels[0]
	s.clock.Add(59*time.Minute + 40*time.Second) // past the 30 s rekey margin
	snap := p.Poll(ctx)
	tu := snap.Tunnels[0]
	if len(tu.SAs) != 4 || tu.Rekeys != 1 {
		t.Fatalf("after the rekey: %d SAs, %d rekeys: %+v", len(tu.SAs), tu.Rekeys, tu.SAs)
	}
	newest := tu.SAs[len(tu.SAs)-1]
	if newest.ID <= first.SAs[1].ID || newest.Remaining < 59*time.Minute {
		t.Errorf("new SA %+v after old %+v", newest, first.SAs)
	}
	s.clock.Add(time.Minute) // the old pair expires
	if tu := p.Poll(ctx).Tunnels[0]; len(tu.SAs) != 2 || !tu.Status.Online() || tu.Rekeys != 1 {
		t.Errorf("after the old SAs expired: %+v", tu)
	}
}

// The seed incident: the rekey fails, the SAs run out, the tunnel goes
// down and stays down, BGP falls back to Active and the routes go.
func TestRekeyFailure(t *testing.T) {
	s := startSim(t)
	s.router.FailRekey(1)
	s.router.FailRekey(2)
	p := newSimPoller(s)
	defer p.Close()
	ctx := context.Background()
	p.Poll(ctx)
	s.clock.Add(61 * time.Minute)
	snap := p.Poll(ctx)
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	for _, tu := range snap.Tunnels {
		if tu.Status.Online() || len(tu.SAs) != 0 || tu.BGP == nil || tu.BGP.Established() || tu.InstalledRoutes != 0 {
			t.Errorf("tunnel %d after a failed rekey: %+v", tu.Config.Number, tu)
		}
	}
	s.clock.Add(6 * time.Hour)
	if tu := p.Poll(ctx).Tunnels[0]; tu.Status.Online() {
		t.Error("the tunnel came back by itself")
	}
}

func TestGarbageOutputIsAnError(t *testing.T) {
	s := startSim(t)
	p := newSimPoller(s)
	defer p.Close()
	p.Poll(context.Background())
	s.router.Garbage(1)
	snap := p.Poll(context.Background())
	var pe *ParseError
	if !errors.As(snap.Err, &pe) {
		t.Errorf("garbage: %v", snap.Err)
	}
}

func TestLegacyAlgorithmsOnlyWhenConfigured(t *testing.T) {
	key, err := rtxsim.LegacyHostKey()
	if err != nil {
		t.Fatal(err)
	}
	r := rtxsim.New("RTX1200 Rev.10.01.65", seedConfig, nil)
	srv, err := rtxsim.Listen("127.0.0.1:0", r, key, "monitor", "pw", rtxsim.LegacyOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeKnownHosts(t, kh, srv.Addr(), key.PublicKey())
	c := SessionConfig{Config: sshlogin.Config{Address: srv.Addr(), User: "monitor", Password: "pw", KnownHosts: kh, Timeout: 5 * time.Second}}
	if _, err := Dial(context.Background(), c); err == nil {
		t.Fatal("logged in with SHA-1 key exchange and CBC without legacy_algorithms")
	}
	c.Legacy = true
	sess, err := Dial(context.Background(), c)
	if err != nil {
		t.Fatalf("legacy router with legacy_algorithms: %v", err)
	}
	sess.Close()
}

func TestPrivateKeyLogin(t *testing.T) {
	s := startSim(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	s.server.AuthorizedKey = signer.PublicKey()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	c := s.sessionConfig()
	c.Password, c.PrivateKey = "", pem.EncodeToMemory(block)
	sess, err := Dial(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
}

// A router that takes the command and never answers: the read is ended by
// the context, not by the router.
func TestCommandTimeoutOnSilentRouter(t *testing.T) {
	s := startSim(t)
	sess := dial(t, s)
	s.router.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := sess.Run(ctx, "show ipsec sa")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("silent router: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waits on a silent router 30 s after its context ended")
	}
	if _, err := sess.Run(context.Background(), "show ipsec sa"); err == nil {
		t.Error("a session that timed out is reused")
	}
}

// Took is the poll's own duration: a router printing each line 2 ms late
// makes a poll take at least that per line.
func TestPollTook(t *testing.T) {
	s := startSim(t)
	s.router.SetSlow(2 * time.Millisecond)
	p := NewPoller(s.cfg, Options{Location: time.UTC}) // the wall clock
	defer p.Close()
	snap := p.Poll(context.Background())
	if snap.Err != nil || snap.Took < 20*time.Millisecond {
		t.Errorf("took %v (err %v)", snap.Took, snap.Err)
	}
}

// A router that streams output without ever returning its prompt is cut
// off at the limit with a clear error, well before the command timeout,
// and the next poll logs in afresh.
func TestOutputLimit(t *testing.T) {
	s := startSim(t)
	oversize := 0
	p := NewPoller(s.cfg, Options{Now: s.clock.Now, Location: time.UTC, MaxOutput: 1 << 20, OnOversize: func(string) { oversize++ }})
	defer p.Close()
	if snap := p.Poll(context.Background()); snap.Err != nil {
		t.Fatal(snap.Err)
	}
	s.router.Flood()
	snap := p.Poll(context.Background())
	if !errors.Is(snap.Err, ErrOutputTooLarge) || oversize != 1 {
		t.Fatalf("flood: %v (counted %d)", snap.Err, oversize)
	}
	if snap := p.Poll(context.Background()); snap.Err != nil || s.server.Logins() != 2 {
		t.Errorf("after the flood: %v, %d logins", snap.Err, s.server.Logins())
	}
}

// rtxsim honours `console character` for the session that sends it (as the
// router does), though vpnwatchd itself never sends it: a raw SSH session
// switches a Shift_JIS console to ASCII and gets English output.
func TestSimConsoleCharacterPerSession(t *testing.T) {
	s := startSim(t) // ja.sjis, the default
	cfg := &ssh.ClientConfig{User: "monitor", Auth: []ssh.AuthMethod{ssh.Password("rtx-pass")}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, err := ssh.Dial("tcp", s.server.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	var out bytes.Buffer
	sess.Stdout = &out
	sess.RequestPty("vt100", 80, 200, ssh.TerminalModes{})
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "show status tunnel 1\r")
	time.Sleep(200 * time.Millisecond)
	io.WriteString(in, "console character ascii\rshow status tunnel 1\rexit\r")
	sess.Wait()
	raw := out.String()
	first, second, ok := strings.Cut(raw, "console character ascii")
	if !ok {
		t.Fatalf("no echo of the command: %q", raw)
	}
	if dec, cs := DecodeConsole(first, CharsetUnknown); cs != CharsetShiftJIS || !strings.Contains(dec, "トンネルインタフェースは接続されています") {
		t.Errorf("before: %v %q", cs, dec)
	}
	if !strings.Contains(second, "Current status is Online.") {
		t.Errorf("after console character ascii: %q", second)
	}
}

// A router that takes the login and then leaves a step of the session
// unanswered (the channel open, the PTY or the shell request) costs a poll
// its timeout, not the poll: each step is bounded by the router's timeout,
// the error names the step, and the next poll logs in afresh.
func TestSessionStepsBounded(t *testing.T) {
	for name, stall := range map[string]rtxsim.Stall{
		"channel open never answered":  rtxsim.StallChannelOpen,
		"PTY request never answered":   rtxsim.StallPTY,
		"shell request never answered": rtxsim.StallShell,
	} {
		t.Run(name, func(t *testing.T) {
			s := startSim(t)
			s.cfg.Timeout = 300 * time.Millisecond
			s.server.SetStall(stall)
			p := NewPoller(s.cfg, Options{Now: s.clock.Now, Location: time.UTC})
			defer p.Close()
			done := make(chan Snapshot, 1)
			go func() { done <- p.Poll(context.Background()) }()
			var snap Snapshot
			select {
			case snap = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the poll still waits 30 s into a router timeout of 300 ms")
			}
			if !errors.Is(snap.Err, context.DeadlineExceeded) || !strings.Contains(snap.Err.Error(), "no answer within 300ms") {
				t.Errorf("poll error: %v", snap.Err)
			}
			s.server.SetStall(rtxsim.StallNone)
			s.clock.Add(reconnectMax + time.Minute) // past the login backoff
			if snap := p.Poll(context.Background()); snap.Err != nil || len(snap.Tunnels) != 2 {
				t.Errorf("after the stall: %v, %d tunnels", snap.Err, len(snap.Tunnels))
			}
		})
	}
}
