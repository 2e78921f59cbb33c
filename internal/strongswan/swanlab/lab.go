// Package swanlab runs real strongSwan daemons for tests: a customer
// gateway and a stand-in for AWS's two tunnel endpoints, each charon in its
// own network namespace with its own /run, joined by a veth pair, ESP in
// userspace (kernel-libipsec over a TUN device: the test machines' kernels
// have no ESP, so it is UDP-encapsulated). Addresses are from
// 198.18.0.0/15 only, inside namespaces the lab creates and deletes.
//
// The customer side initiates; its connections are named aws-1 and aws-2.
// Failures are made with nftables on the AWS stand-in, as
// ../../../../shared/notes/strongswan-lab.md describes.
package swanlab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// Charon is Debian's charon binary.
const Charon = "/usr/lib/ipsec/charon"

// Addresses of the lab (198.18.0.0/15).
const (
	CustomerIP = "198.18.1.1"
	AWSIP1     = "198.18.1.2"
	AWSIP2     = "198.18.1.3"
)

// Inside addresses of tunnel n (1, 2): AWS's side and the customer's, in
// a /30 as AWS assigns them (AWS the first usable address).
func Inside(n int) (cidr, aws, customer string) {
	base := 4 * (n - 1)
	return fmt.Sprintf("198.18.100.%d/30", base), fmt.Sprintf("198.18.100.%d", base+1), fmt.Sprintf("198.18.100.%d", base+2)
}

// Options shape the lab.
type Options struct {
	// ChildRekey, ChildLife and IKERekey are the customer side's timers
	// (30 s, 40 s, 60 s); the AWS stand-in uses twice as long, so that
	// the customer side rekeys.
	ChildRekey, ChildLife, IKERekey time.Duration
	// DHGroup for IKE ("modp2048"); PFSGroup for the child SAs' rekeys
	// (DHGroup): a large one (modp8192) makes CREATE_CHILD_SA about
	// 1,300 bytes.
	DHGroup, PFSGroup string
	// Fragmentation is the customer side's IKE fragmentation ("yes").
	Fragmentation string
	// UnderlayMTU is the veth MTU (1500).
	UnderlayMTU int
	// DropFragments drops IP fragments arriving at the AWS stand-in.
	DropFragments bool
	// FRR runs FRR (zebra, bgpd) on both sides: BGP over each tunnel
	// between the inside addresses, the customer (AS CustomerAS)
	// announcing CustomerPrefix, the stand-in (AS AWSAS) VPCPrefix.
	FRR bool
	// SSH runs OpenSSH's sshd on the customer gateway, reachable from the
	// test's own namespace at MgmtGateway over a management veth.
	SSH bool
}

// BGP of the lab (FRR): AWS's default ASN for a virtual private gateway,
// a private ASN for the customer, and prefixes from 198.18.0.0/15.
const (
	AWSAS          = "64512"
	CustomerAS     = "65000"
	VPCPrefix      = "198.19.0.0/16"
	CustomerPrefix = "198.18.64.0/24"
)

// The management link (Options.SSH): the test's namespace and the
// customer gateway.
const (
	MgmtHost    = "198.18.2.1"
	MgmtGateway = "198.18.2.2"
)

// T is what the lab needs of its user: a test's testing.TB, or the
// demo's host (New).
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
}

// New starts a lab outside a test (the demo): an error instead of a
// failed test. Close removes it. Lab methods that fail later panic with
// an Error; Do turns that into an error.
func New(o Options) (l *Lab, err error) {
	if why := Usable(); why != "" {
		return nil, errors.New(why)
	}
	h := &host{}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(Error)
			if !ok {
				panic(r)
			}
			h.close()
			l, err = nil, e
		}
	}()
	l = Start(h, o)
	l.host = h
	return l, nil
}

// Close stops the daemons and removes the namespaces and files of a lab
// made by New.
func (l *Lab) Close() {
	if l.host != nil {
		l.host.close()
	}
}

// Do runs f, which calls the lab's methods, and returns their failure.
func (l *Lab) Do(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	f()
	return nil
}

// Error is a lab failure outside a test.
type Error struct{ Msg string }

func (e Error) Error() string { return "strongSwan lab: " + e.Msg }

// host is T outside a test.
type host struct {
	cleanups []func()
}

func (*host) Helper()                           {}
func (*host) Fatal(args ...any)                 { panic(Error{fmt.Sprint(args...)}) }
func (*host) Fatalf(format string, args ...any) { panic(Error{fmt.Sprintf(format, args...)}) }
func (*host) Skip(args ...any)                  { panic(Error{fmt.Sprint(args...)}) }
func (h *host) Cleanup(f func())                { h.cleanups = append(h.cleanups, f) }
func (h *host) TempDir() string {
	dir, err := os.MkdirTemp("", "vpnwatchd-swanlab-")
	if err != nil {
		panic(Error{err.Error()})
	}
	h.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (h *host) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
}

// Lab is a running lab.
type Lab struct {
	Dir      string
	NSC, NSA string // customer and AWS stand-in namespaces
	opts     Options
	procs    []*exec.Cmd
	t        T
	login    SSHLogin
	host     *host // New's
}

// Usable says why the lab cannot run here, "" when it can.
func Usable() string {
	switch {
	case os.Geteuid() != 0:
		return "not root: network namespaces and charon need root"
	case !exists(Charon):
		return Charon + " missing: apt-get install strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins (make test-deps)"
	case !exists("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"):
		return "kernel-libipsec missing: apt-get install libcharon-extra-plugins"
	case !exists("/dev/net/tun"):
		return "no /dev/net/tun: userspace ESP (kernel-libipsec) needs it"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "ip(8) missing: apt-get install iproute2"
	}
	return ""
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Start builds the namespaces, starts both charons and loads their
// configurations; the customer side initiates both tunnels. Everything is
// removed when the test ends.
func Start(t T, o Options) *Lab {
	t.Helper()
	if why := Usable(); why != "" {
		t.Skip("real strongSwan lab: " + why)
	}
	if o.FRR && !exists("/usr/lib/frr/bgpd") {
		t.Skip("real strongSwan lab: FRR missing: apt-get install frr (make test-deps)")
	}
	if o.SSH && !exists(Sshd) {
		t.Skip("real strongSwan lab: " + Sshd + " missing: apt-get install openssh-server (make test-deps)")
	}
	if o.ChildRekey == 0 {
		o.ChildRekey, o.ChildLife, o.IKERekey = 30*time.Second, 40*time.Second, 60*time.Second
	}
	if o.DHGroup == "" {
		o.DHGroup = "modp2048"
	}
	if o.PFSGroup == "" {
		o.PFSGroup = o.DHGroup
	}
	if o.Fragmentation == "" {
		o.Fragmentation = "yes"
	}
	if o.UnderlayMTU == 0 {
		o.UnderlayMTU = 1500
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	l := &Lab{Dir: t.TempDir(), NSC: "vwsw-c-" + id, NSA: "vwsw-a-" + id, opts: o, t: t}
	t.Cleanup(l.close)
	vc, va := "vwc"+id, "vwa"+id
	cmds := [][]string{
		{"netns", "add", l.NSC}, {"netns", "add", l.NSA},
		{"link", "add", vc, "mtu", fmt.Sprint(o.UnderlayMTU), "type", "veth", "peer", "name", va, "mtu", fmt.Sprint(o.UnderlayMTU)},
		{"link", "set", vc, "netns", l.NSC}, {"link", "set", va, "netns", l.NSA},
		{"-n", l.NSC, "addr", "add", CustomerIP + "/24", "dev", vc}, {"-n", l.NSC, "link", "set", vc, "up"}, {"-n", l.NSC, "link", "set", "lo", "up"},
		{"-n", l.NSA, "addr", "add", AWSIP1 + "/24", "dev", va}, {"-n", l.NSA, "addr", "add", AWSIP2 + "/24", "dev", va},
		{"-n", l.NSA, "link", "set", va, "up"}, {"-n", l.NSA, "link", "set", "lo", "up"},
	}
	for n := 1; n <= 2; n++ {
		_, a, c := Inside(n)
		cmds = append(cmds, []string{"-n", l.NSC, "addr", "add", c + "/32", "dev", "lo"}, []string{"-n", l.NSA, "addr", "add", a + "/32", "dev", "lo"})
	}
	for _, c := range cmds {
		l.run("ip", c...)
	}
	if o.DropFragments {
		l.Nft(l.NSA, "table inet vwlab_frag {\n chain pre {\n  type filter hook prerouting priority -450;\n  ip frag-off & 0x3fff != 0 drop\n }\n}\n")
	}
	l.charon("c", l.NSC)
	l.charon("a", l.NSA)
	l.load("a", l.awsConf())
	l.load("c", l.customerConf())
	if o.FRR {
		l.frr()
	}
	if o.SSH {
		l.sshd(vc + "m")
	}
	return l
}

// VtySocket is a side's vtysh socket directory (Options.FRR).
func (l *Lab) VtySocket(side string) string { return filepath.Join(l.Dir, side, "frr") }

// frr starts zebra and bgpd on both sides. FRR does not read strongSwan's
// routing table 220, so each side gets a main-table route to its peers'
// inside addresses through libipsec's TUN device (ipsec0).
func (l *Lab) frr() {
	l.t.Helper()
	// FRR's daemons run as the frr user: it must reach the sockets.
	for d := l.Dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, st.Mode().Perm()|0o005)
		}
	}
	for _, side := range []struct{ name, ns, as, prefix string }{{"c", l.NSC, CustomerAS, CustomerPrefix}, {"a", l.NSA, AWSAS, VPCPrefix}} {
		dir := l.VtySocket(side.name)
		os.MkdirAll(dir, 0o777)
		os.Chmod(dir, 0o777)
		var b strings.Builder
		fmt.Fprintf(&b, "frr defaults traditional\nhostname vwlab-%s\nlog file %s/frr.log\n", side.name, dir)
		fmt.Fprintf(&b, "router bgp %s\n no bgp ebgp-requires-policy\n no bgp network import-check\n", side.as)
		for n := 1; n <= 2; n++ {
			_, a, c := Inside(n)
			local, peer, peerAS := c, a, AWSAS
			if side.name == "a" {
				local, peer, peerAS = a, c, CustomerAS
			}
			fmt.Fprintf(&b, " neighbor %s remote-as %s\n neighbor %s update-source %s\n neighbor %s disable-connected-check\n neighbor %s timers 3 9\n neighbor %s timers connect 5\n",
				peer, peerAS, peer, local, peer, peer, peer)
			l.run("ip", "-n", side.ns, "route", "add", peer+"/32", "dev", "ipsec0", "src", local)
		}
		fmt.Fprintf(&b, " address-family ipv4 unicast\n  network %s\n exit-address-family\n", side.prefix)
		conf := filepath.Join(dir, "frr.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			l.t.Fatal(err)
		}
		for _, daemon := range []string{"zebra", "bgpd"} {
			cmd := exec.Command("ip", "netns", "exec", side.ns, "/usr/lib/frr/"+daemon, "-P", "0", "--vty_socket", dir,
				"-z", filepath.Join(dir, "zserv.api"), "-i", filepath.Join(dir, daemon+".pid"), "-f", conf)
			out, _ := os.Create(filepath.Join(dir, daemon+".out"))
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				l.t.Fatalf("start %s: %v", daemon, err)
			}
			l.procs = append(l.procs, cmd)
			deadline := time.Now().Add(15 * time.Second)
			for !exists(filepath.Join(dir, daemon+".vty")) {
				if time.Now().After(deadline) {
					b, _ := os.ReadFile(filepath.Join(dir, daemon+".out"))
					l.t.Fatalf("%s (%s) did not open its vty socket: %s", daemon, side.name, b)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// DropBGP makes the AWS stand-in drop BGP (TCP 179) through the tunnels
// both ways while IPsec stays up, as a firewall rule would; with the
// lab's 9 s hold time both ends' sessions fall in about ten seconds.
func (l *Lab) DropBGP() {
	l.Nft(l.NSA, "table inet vwlab_bgp {\n chain pre {\n  type filter hook prerouting priority -450;\n  tcp dport 179 drop\n  tcp sport 179 drop\n }\n"+
		" chain out {\n  type filter hook output priority -450;\n  tcp dport 179 drop\n  tcp sport 179 drop\n }\n}\n")
}

// RestoreBGP removes DropBGP's rules.
func (l *Lab) RestoreBGP() {
	exec.Command("ip", "netns", "exec", l.NSA, "nft", "delete", "table", "inet", "vwlab_bgp").Run()
}

// sshd starts OpenSSH's sshd in the customer gateway's namespace, on a
// management veth (link) from the test's namespace: keys made here, root
// login by key only, stream-local forwarding allowed (the default).
func (l *Lab) sshd(link string) {
	l.t.Helper()
	dir := filepath.Join(l.Dir, "ssh")
	os.MkdirAll(dir, 0o700)
	os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	l.run("ip", "link", "add", link, "type", "veth", "peer", "name", link+"g")
	l.run("ip", "link", "set", link+"g", "netns", l.NSC)
	l.run("ip", "addr", "add", MgmtHost+"/30", "dev", link)
	l.run("ip", "link", "set", link, "up")
	l.run("ip", "-n", l.NSC, "addr", "add", MgmtGateway+"/30", "dev", link+"g")
	l.run("ip", "-n", l.NSC, "link", "set", link+"g", "up")
	l.t.Cleanup(func() { exec.Command("ip", "link", "del", link).Run() })
	hostKey, hostPub := newKey(l.t)
	userKey, userPub := newKey(l.t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			l.t.Fatal(err)
		}
		return p
	}
	hk := write("host_key", hostKey)
	ak := write("authorized_keys", ssh.MarshalAuthorizedKey(userPub))
	addr := net.JoinHostPort(MgmtGateway, "22")
	kh := write("known_hosts", []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostPub)+"\n"))
	conf := write("sshd_config", []byte(fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
AllowStreamLocalForwarding yes
X11Forwarding no
`, addr, hk, ak)))
	out, _ := os.Create(filepath.Join(dir, "sshd.out"))
	cmd := exec.Command("ip", "netns", "exec", l.NSC, Sshd, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start sshd: %v", err)
	}
	l.procs = append(l.procs, cmd)
	l.login = SSHLogin{Address: addr, User: "root", PrivateKey: userKey, KnownHosts: kh}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.out"))
			l.t.Fatalf("sshd does not answer on %s: %v: %s", addr, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newKey makes an Ed25519 key: the private key in OpenSSH's PEM form, and
// the public key.
func newKey(t T) ([]byte, ssh.PublicKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sp
}

// MirrorAWS says every second, until ctx ends, what AWS would say of each
// tunnel n (1, 2) of a BGP VPN, from the stand-in's real state: UP with
// "N BGP ROUTES" while IPsec is up and BGP established, DOWN "IPSEC IS UP"
// while only IPsec is, DOWN "IPSEC IS DOWN" otherwise (AWS's status
// messages, ../../../../shared/aws-samples). set usually updates the EC2
// simulator. Needs Options.FRR.
func (l *Lab) MirrorAWS(ctx context.Context, set func(n int, status, message string, routes int)) {
	standIn := strongswan.New(strongswan.Options{Name: "aws", Socket: l.Socket("a"), NetNS: l.NSA, FRR: true, VtySocket: l.VtySocket("a")})
	for ctx.Err() == nil {
		if g := standIn.Poll(ctx); g.Err == nil {
			for n := 1; n <= 2; n++ {
				_, _, customer := Inside(n)
				ipsec := false
				for _, tn := range g.Tunnels {
					ipsec = ipsec || (tn.Name == fmt.Sprintf("vgw-%d", n) && tn.Up)
				}
				status, msg, routes := "DOWN", "IPSEC IS DOWN", 0
				if ipsec {
					msg = "IPSEC IS UP"
				}
				for _, p := range g.Peers {
					if p.Address == customer && p.Established && ipsec {
						status, routes = "UP", max(p.ReceivedPrefixes, 0)
						msg = fmt.Sprintf("%d BGP ROUTES", routes)
					}
				}
				set(n, status, msg, routes)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Sshd is OpenSSH's server.
const Sshd = "/usr/sbin/sshd"

// SSHLogin is how the test logs in to the customer gateway (Options.SSH):
// as root with a key, the host key pinned in KnownHosts.
type SSHLogin struct {
	Address    string // MgmtGateway:22
	User       string
	PrivateKey []byte // OpenSSH PEM
	KnownHosts string
}

// SSH is the customer gateway's SSH login (Options.SSH).
func (l *Lab) SSH() SSHLogin { return l.login }

// Socket is a side's vici socket ("c" customer, "a" AWS stand-in).
func (l *Lab) Socket(side string) string { return filepath.Join(l.Dir, side, "charon.vici") }

// Log is a side's charon log.
func (l *Lab) Log(side string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, side, "charon.log"))
	return string(b)
}

func (l *Lab) run(name string, args ...string) {
	l.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// Nft loads an nftables ruleset in a namespace.
func (l *Lab) Nft(ns, ruleset string) {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("nft in %s: %v: %s", ns, err, out)
	}
}

// DropIKE makes the AWS stand-in drop IKE (UDP 500, and UDP 4500 packets
// with the non-ESP marker) while ESP-in-UDP keeps flowing: established SAs
// carry traffic until they expire, every rekey is lost.
func (l *Lab) DropIKE() {
	l.Nft(l.NSA, "table inet vwlab_ike {\n chain pre {\n  type filter hook prerouting priority -450;\n  udp dport 500 drop\n  udp dport 4500 @th,64,32 0 drop\n }\n}\n")
}

// Restore removes DropIKE's rules.
func (l *Lab) Restore() {
	exec.Command("ip", "netns", "exec", l.NSA, "nft", "delete", "table", "inet", "vwlab_ike").Run()
}

func (l *Lab) charon(side, ns string) {
	dir := filepath.Join(l.Dir, side)
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`charon {
  load = random nonce aes sha1 sha2 hmac pem pkcs1 x509 pubkey gmp curve25519 kdf kernel-libipsec kernel-netlink socket-default vici
  retransmit_tries = 3
  retransmit_timeout = 2.0
  retransmit_base = 1.4
  fragment_size = 1100
  filelog { lab { path = %s/charon.log
    default = 1
    ike = 2
    time_format = %%F %%T
    flush_line = yes
  } }
  plugins { vici { socket = unix://%s/charon.vici } }
}
`, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "strongswan.conf"), []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs vwlab /run && exec "+Charon)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"))
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start charon: %v", err)
	}
	l.procs = append(l.procs, cmd)
	deadline := time.Now().Add(15 * time.Second)
	for !exists(l.Socket(side)) {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
			l.t.Fatalf("charon (%s) did not open its vici socket: %s", side, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *Lab) load(side, conf string) {
	l.t.Helper()
	file := filepath.Join(l.Dir, side, "swanctl.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		l.t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "swanctl", "--load-all", "--uri", "unix://"+l.Socket(side), "--file", file)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		l.t.Fatalf("swanctl --load-all (%s): %v: %s", side, err, out.String())
	}
}

// conn renders one connection of swanctl.conf. unique = never: the AWS
// stand-in is one charon for two endpoints, and both tunnels authenticate
// the same customer identity; without it each INITIAL_CONTACT would close
// the other tunnel's IKE SA (real AWS endpoints are separate hosts).
func conn(name, local, remote, lts, rts, dh, pfs, frag, start string, ikeRekey, childRekey, childLife time.Duration) string {
	s := func(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }
	return fmt.Sprintf(`  %s {
    version = 2
    local_addrs = %s
    remote_addrs = %s
    proposals = aes128-sha256-%s
    rekey_time = %s
    dpd_delay = 10s
    fragmentation = %s
    mobike = no
    unique = never
    local {
      auth = psk
      id = %s
    }
    remote {
      auth = psk
      id = %s
    }
    children {
      %s {
        local_ts = %s/32
        remote_ts = %s/32
        esp_proposals = aes128-sha256-%s
        rekey_time = %s
        life_time = %s
        start_action = %s
        dpd_action = restart
        close_action = start
      }
    }
  }
`, name, local, remote, dh, s(ikeRekey), frag, local, remote, name, lts, rts, pfs, s(childRekey), s(childLife), start)
}

const secrets = `secrets {
  ike-1 {
    id-1 = ` + AWSIP1 + `
    secret = "vwlab-key-one"
  }
  ike-2 {
    id-1 = ` + AWSIP2 + `
    secret = "vwlab-key-two"
  }
}
`

func (l *Lab) customerConf() string {
	o := l.opts
	var b strings.Builder
	b.WriteString("connections {\n")
	for n, ip := range []string{AWSIP1, AWSIP2} {
		_, a, c := Inside(n + 1)
		b.WriteString(conn(fmt.Sprintf("aws-%d", n+1), CustomerIP, ip, c, a, o.DHGroup, o.PFSGroup, o.Fragmentation, "start", o.IKERekey, o.ChildRekey, o.ChildLife))
	}
	b.WriteString("}\n" + secrets)
	return b.String()
}

func (l *Lab) awsConf() string {
	o := l.opts
	var b strings.Builder
	b.WriteString("connections {\n")
	for n, ip := range []string{AWSIP1, AWSIP2} {
		_, a, c := Inside(n + 1)
		// AWS answers fragmented IKE (it supports RFC 7383) and does not
		// initiate here: its timers are longer than the customer's.
		b.WriteString(conn(fmt.Sprintf("vgw-%d", n+1), ip, CustomerIP, a, c, o.DHGroup, o.PFSGroup, "yes", "none", 2*o.IKERekey, 2*o.ChildRekey, 2*o.ChildLife))
	}
	b.WriteString("}\n" + secrets)
	return b.String()
}

func (l *Lab) close() {
	for _, p := range l.procs {
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	for _, ns := range []string{l.NSC, l.NSA} {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}
