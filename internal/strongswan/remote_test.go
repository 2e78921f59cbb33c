package strongswan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

// A gateway on another host, read through OpenSSH's real sshd: vici over
// stream-local forwarding, ip, nft and FRR's vtysh as exec requests, all
// in the gateway's namespace; events reach Watch over the same connection.
func TestRealStrongSwanOverSSH(t *testing.T) {
	t.Parallel()
	lab := swanlab.Start(t, swanlab.Options{FRR: true, SSH: true})
	login := lab.SSH()
	ssh := &sshlogin.Config{Address: login.Address, User: login.User, PrivateKey: login.PrivateKey, KnownHosts: login.KnownHosts, Timeout: 5 * time.Second}
	var logins, failed atomic.Int32
	count := func(result string) {
		if result == "ok" {
			logins.Add(1)
		} else {
			failed.Add(1)
		}
	}
	src := strongswan.New(strongswan.Options{Name: "remote", Socket: lab.Socket("c"), SSH: ssh, FRR: true, VtySocket: lab.VtySocket("c"), OnConnect: count})
	defer src.Close()
	changed := make(chan string, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Watch(ctx, func(conn string, _ bool) {
		select {
		case changed <- conn:
		default:
		}
	})
	snap := pollUntil(t, src, 60*time.Second, func(s gateway.Snapshot) bool {
		return len(s.Tunnels) == 2 && s.Tunnels[0].Up && s.Tunnels[1].Up && len(s.Peers) == 2 &&
			s.Peers[0].ReceivedPrefixes == 1 && s.Peers[1].ReceivedPrefixes == 1
	})
	if len(snap.Unchecked) > 0 {
		t.Errorf("not read over SSH: %v", snap.Unchecked)
	}
	// VPNWATCHD_SWAN_CAPTURE=DIR keeps the real answers (testdata/lab).
	if dir := os.Getenv("VPNWATCHD_SWAN_CAPTURE"); dir != "" {
		for f, b := range src.LastOutputs() {
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
	}
	for _, tn := range snap.Tunnels {
		// The MTU is the gateway's (libipsec's ipsec0 in its namespace),
		// not this host's.
		if tn.Settings.MTU == 0 || tn.BGP == nil || !tn.BGP.Established || tn.BGP.ReceivedPrefixes != 1 {
			t.Errorf("%s: MTU %d, BGP %+v", tn.Name, tn.Settings.MTU, tn.BGP)
		}
	}
	if !snap.BGP.Known || snap.BGP.AS != swanlab.CustomerAS {
		t.Errorf("BGP config = %+v", snap.BGP)
	}
	// A rekey comes as an event through the forwarded socket.
	select {
	case conn := <-changed:
		if !strings.HasPrefix(conn, "aws-") {
			t.Errorf("event for %q", conn)
		}
	case <-time.After(60 * time.Second):
		t.Error("no vici event through SSH within 60 s")
	}

	// One SSH login carried every poll, command and event session.
	if logins.Load() != 1 || failed.Load() != 0 {
		t.Errorf("SSH logins: %d ok, %d failed; want one", logins.Load(), failed.Load())
	}

	// A wrong host key is refused with the error the host-key finding reads.
	other := *ssh
	other.KnownHosts = t.TempDir() + "/known_hosts"
	key, _ := os.ReadFile(login.KnownHosts)
	os.WriteFile(other.KnownHosts, []byte(strings.Fields(string(key))[0]+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600)
	bad := strongswan.New(strongswan.Options{Name: "remote", Socket: lab.Socket("c"), SSH: &other, OnConnect: count})
	defer bad.Close()
	s := bad.Poll(context.Background())
	var hk *sshlogin.HostKeyError
	if !errors.As(s.Err, &hk) || hk.Unknown {
		t.Errorf("changed host key: err = %v", s.Err)
	}
	if failed.Load() != 1 {
		t.Errorf("a refused login counted %d times", failed.Load())
	}
	// The next poll does not log in again at once (fail2ban on gateways);
	// the host-key error stays visible.
	s = bad.Poll(context.Background())
	if failed.Load() != 1 || !errors.As(s.Err, &hk) || !strings.Contains(s.Err.Error(), "not logging in again before") {
		t.Errorf("after a failed login: %d attempts, err = %v", failed.Load(), s.Err)
	}
	// A socket that is not there: the SSH login works, the forward fails
	// and says what sshd needs.
	missing := strongswan.New(strongswan.Options{Name: "remote", Socket: "/nonexistent/charon.vici", SSH: ssh})
	defer missing.Close()
	if s := missing.Poll(context.Background()); s.Err == nil || !strings.Contains(s.Err.Error(), "AllowStreamLocalForwarding") {
		t.Errorf("missing socket: err = %v", s.Err)
	}
}
