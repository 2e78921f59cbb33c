package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Topology is client — router — server in three network namespaces made by
// the test, addresses in 198.18.0.0/15 (and ULA IPv6), with the
// router→server link at mtu bytes.
type Topology struct {
	Client, Router, Server string
}

const (
	ServerV4 = "198.18.2.2"
	ServerV6 = "fd00:198:18:2::2"
)

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func NsRun(t testing.TB, ns string, args ...string) {
	t.Helper()
	run(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
}

type TopoOptions struct {
	MTU       int
	Blackhole bool // the router drops its ICMP "too big" errors
	Unpriv    bool // allow unprivileged ICMP sockets in the client namespace
}

func NewTopology(t testing.TB, o TopoOptions) Topology {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root", "network namespaces need root (CI runs as root)")
	}
	Binary(t, "ip")
	if o.Blackhole {
		Binary(t, "nft")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	tp := Topology{Client: "vwc" + id, Router: "vwr" + id, Server: "vws" + id}
	for _, ns := range []string{tp.Client, tp.Router, tp.Server} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		NsRun(t, ns, "ip", "link", "set", "lo", "up")
		// No duplicate address detection: IPv6 works as soon as links are up.
		NsRun(t, ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	c0, r0, r1, s0 := "c"+id, "r"+id+"a", "r"+id+"b", "s"+id
	run(t, "ip", "link", "add", c0, "netns", tp.Client, "type", "veth", "peer", "name", r0, "netns", tp.Router)
	run(t, "ip", "link", "add", r1, "netns", tp.Router, "type", "veth", "peer", "name", s0, "netns", tp.Server)
	NsRun(t, tp.Router, "ip", "link", "set", r1, "mtu", itoa(o.MTU))
	NsRun(t, tp.Server, "ip", "link", "set", s0, "mtu", itoa(o.MTU))
	for _, l := range []struct{ ns, dev, v4, v6 string }{
		{tp.Client, c0, "198.18.1.2/24", "fd00:198:18:1::2/64"},
		{tp.Router, r0, "198.18.1.1/24", "fd00:198:18:1::1/64"},
		{tp.Router, r1, "198.18.2.1/24", "fd00:198:18:2::1/64"},
		{tp.Server, s0, ServerV4 + "/24", ServerV6 + "/64"},
	} {
		NsRun(t, l.ns, "ip", "addr", "add", l.v4, "dev", l.dev)
		NsRun(t, l.ns, "ip", "-6", "addr", "add", l.v6, "dev", l.dev, "nodad")
		NsRun(t, l.ns, "ip", "link", "set", l.dev, "up")
	}
	NsRun(t, tp.Client, "ip", "route", "add", "default", "via", "198.18.1.1")
	NsRun(t, tp.Client, "ip", "-6", "route", "add", "default", "via", "fd00:198:18:1::1")
	NsRun(t, tp.Server, "ip", "route", "add", "default", "via", "198.18.2.1")
	NsRun(t, tp.Server, "ip", "-6", "route", "add", "default", "via", "fd00:198:18:2::1")
	NsRun(t, tp.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	// No rate limit on the router's ICMP errors: every probe gets its answer.
	NsRun(t, tp.Router, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	if o.Unpriv {
		NsRun(t, tp.Client, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
	}
	if o.Blackhole {
		NsRun(t, tp.Router, "nft", "add table inet vw; add chain inet vw out { type filter hook output priority 0 ; } ; "+
			"add rule inet vw out icmp type destination-unreachable drop ; add rule inet vw out icmpv6 type packet-too-big drop")
	}
	return tp
}

func itoa(n int) string { return strconv.Itoa(n) }

// InNetns runs f on an OS thread moved into network namespace ns: sockets f
// opens belong to ns.
func InNetns(t testing.TB, ns string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	<-done
}
